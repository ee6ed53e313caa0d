"""Fault injection into installed variants: the caller never sees a wrong result, the signature
goes back to the original at once, and the rollback is in the audit log. And the watch's own
rules: probation, a sampling period set by the time budget, exceptions the original raises too."""

import json
import math
import time
from pathlib import Path

import numba
import numpy as np
import pytest

import hotpath
from hotpath import watch
from hotpath.kernels.base import Candidate
from hotpath.signature import signature_of
from hotpath.store import Store
from tests import sample_kernels as k
from tests.checks import agrees

#: Settings under which every call of an install is shadow-verified.
EVERY_CALL = {"verify_rate": 1.0, "watch_fraction": math.inf}


@pytest.fixture(scope="module")
def winner(fast):
    """One real tuning run; each test gets a fresh wrapper around the same built variant."""
    a = np.random.default_rng(10).random(20_000)
    result = hotpath.tune(k.sum_squares, a, config=fast)
    assert result.winner is not None, result.summary()
    (install,) = result.optimized._installed.values()
    return install


@pytest.fixture
def path(dispatch_path):
    return dispatch_path


def fresh(winner, fast, fault, verify_rate, **changes):
    opt = hotpath.optimize(k.sum_squares, config=fast.replace(verify_rate=verify_rate, **changes))
    real = winner.variant
    args = (np.zeros(3),)
    install = opt._new_install(winner.signature, winner.candidate, winner.speedup,
                               lambda *a: fault(real, *a), winner.invocation_errors, False, "tuned", None)
    opt._install(args, install)
    return opt


def rollbacks(state_dir):
    return [e for e in Store.at(state_dir).audit_entries("tests.sample_kernels:sum_squares")
            if e.action == "rollback"]


def test_a_variant_that_starts_raising_is_rolled_back(winner, fast, state_dir):
    calls = {"n": 0}

    def fault(real, a):
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("injected fault")
        return real(a)

    before = len(rollbacks(state_dir))
    opt = fresh(winner, fast, fault, verify_rate=0.0)
    rng = np.random.default_rng(11)
    for _ in range(30):
        a = rng.random(1000)
        assert agrees(opt(a), k.sum_squares(a))
    assert opt.installed == {}
    assert calls["n"] == 6  # rolled back on the first fault, never called again
    entry = rollbacks(state_dir)[before]
    assert entry.detail["check"] == "exception" and "injected fault" in entry.detail["message"]


def test_wrong_values_on_one_input_in_a_hundred_are_caught_call_by_call(winner, fast, state_dir):
    def fault(real, a):
        value = real(a)
        return value + 1e-3 if a[0] > 0.99 else value  # about one input in a hundred

    before = len(rollbacks(state_dir))
    opt = fresh(winner, fast, fault, **EVERY_CALL)
    rng = np.random.default_rng(12)
    first_wrong = None
    for call in range(400):
        a = rng.random(500)
        if first_wrong is None and a[0] > 0.99:
            first_wrong = call
        assert agrees(opt(a), k.sum_squares(a))
        if first_wrong is None:
            assert opt.installed, "rolled back before any wrong input"
        elif call == first_wrong:
            assert opt.installed == {}, "checked on every call: caught on the first wrong input"
    assert first_wrong is not None and opt.installed == {}
    entry = rollbacks(state_dir)[before]
    assert entry.detail["check"] == "shadow" and "return value" in entry.detail["difference"]
    assert "variant" in entry.detail and "reason" in entry.detail


def test_a_sustained_slowdown_is_rolled_back(winner, fast, state_dir):
    def fault(real, a):
        time.sleep(0.002)
        return real(a)

    opt = fresh(winner, fast, fault, **EVERY_CALL)
    a = np.random.default_rng(13).random(1000)
    for _ in range(8):
        assert agrees(opt(a), k.sum_squares(a))
    assert opt.installed, "no rollback before the window is full (no flapping on one slow sample)"
    assert agrees(opt(a), k.sum_squares(a))
    assert opt.installed == {}
    assert rollbacks(state_dir)[-1].detail["check"] == "slowdown"


def test_a_slow_tail_is_rolled_back_though_the_median_is_fast(winner, fast, state_dir):
    # One sampled call in nine waits 50 ms (a parallel loop meeting a busy core): the median of
    # the window is the variant's usual speed, the mean is far below the original's.
    calls = []

    def fault(real, a):
        calls.append(1)
        if len(calls) % 9 == 5:
            time.sleep(0.05)
        return real(a)

    opt = fresh(winner, fast, fault, **EVERY_CALL)
    a = np.random.default_rng(13).random(1000)
    for _ in range(9):
        assert agrees(opt(a), k.sum_squares(a))
    assert opt.installed == {}
    detail = rollbacks(state_dir)[-1].detail
    assert detail["check"] == "slowdown" and detail["median"] > 1.0 > detail["mean"]


def test_in_place_damage_is_undone_before_the_caller_sees_it(fast):
    a = np.linspace(0, 1, 20_000)
    result = hotpath.tune(k.scale_in_place, a.copy(), 2.0, config=fast.replace(**EVERY_CALL))
    opt = result.optimized
    (install,) = opt._installed.values()
    real = install.variant

    def fault(x, factor):
        real(x, factor)
        x[7] = -1.0

    install.variant = fault
    mine, theirs = a.copy(), a.copy()
    assert opt(mine, 2.0) is None
    k.scale_in_place(theirs, 2.0)
    np.testing.assert_array_equal(mine, theirs)
    assert opt.installed == {}


def test_rolled_back_variants_are_barred_from_the_next_tuning(winner, fast):
    opt = fresh(winner, fast, lambda real, a: real(a) + 1.0, verify_rate=1.0)
    a = np.random.default_rng(14).random(20_000)
    assert agrees(opt(a), k.sum_squares(a))
    result = hotpath.tune(opt, a)
    barred = [t for t in result.trials if "barred" in t.reason]
    assert [t.name for t in barred] == [winner.candidate.name]
    assert result.winner is None or result.winner.name != winner.candidate.name


class SteppingClock:
    """A clock that advances ``step`` seconds at every reading: a shadow call then measures the
    original and the variant at one step each and itself at five, so its cost beyond the variant
    is four times the variant's time, whatever the machine."""

    def __init__(self, step=1e-6):
        self.now, self.step = 0.0, step

    def __call__(self):
        self.now += self.step
        return self.now


def test_wrong_on_one_input_in_a_hundred_is_caught_at_the_default_budget(winner, fast, state_dir):
    # Shadow calls costing 4x the variant's call, 2% of the time for the watch: one call in
    # 4 / 0.02 = 200 is checked once probation is over, so a fault on one input in a hundred is
    # caught after 100 * 200 = 20,000 calls on average (with every call checked it is caught on
    # the first wrong input, see above). The bound is 5x that: a miss that long has a chance of
    # 0.99 ** 500 = 0.7% for a given seed. This seed: caught on call 43,196, at the 239th check.
    def fault(real, a):
        value = real(a)
        return value + 1e-3 if a[0] > 0.99 else value

    before = len(rollbacks(state_dir))
    opt = fresh(winner, fast, fault, verify_rate=hotpath.Config().verify_rate)
    (install,) = opt._installed.values()
    install.clock = SteppingClock()
    rng = np.random.default_rng(15)
    a = rng.random(8)
    calls = 0
    while opt.installed and calls < 100_000:
        a[0] = rng.random()
        opt(a)  # unsampled calls answer with the variant's value, wrong or not: that is sampling
        calls += 1
    assert opt.installed == {}, f"not caught within {calls} calls (period {install.period})"
    assert agrees(opt(a), k.sum_squares(a))  # rolled back: the original answers
    assert install.probation == 0 and install.period >= 100  # caught after probation, at the budget's rate
    assert rollbacks(state_dir)[before].detail["check"] == "shadow"


def test_the_period_follows_the_cost_of_shadow_calls(winner, fast):
    opt = fresh(winner, fast, lambda real, a: real(a), verify_rate=0.01)
    (install,) = opt._installed.values()
    for _ in range(watch.PROBATION_CALLS):
        install.sampled(4e-6, 1e-6)
        assert install.period == 1  # probation: every call
    periods = []
    for _ in range(12):
        install.sampled(4e-6, 1e-6)  # cheap shadow calls: 4 / 0.02 = 200 calls a sample
        periods.append(install.period)
    assert periods[:3] == [2, 4, 8] and periods[-1] == 200  # decays from probation, then holds
    for _ in range(20):
        install.sampled(400e-6, 1e-6)  # a hundred times costlier: the period grows to match
    assert install.period == pytest.approx(20_000, rel=0.01)  # running estimates: nearly there
    assert install.shadow_share == pytest.approx(0.02, rel=0.1)
    for _ in range(30):
        install.sampled(1.0, 1e-6)  # however costly, one call in MAX_PERIOD is still checked
    assert install.period == watch.MAX_PERIOD
    for _ in range(100):
        install.sampled(1e-9, 1e-6)  # nearly free: never more often than verify_rate allows
    assert install.period == 100


def test_the_period_is_measured_on_real_shadow_calls(winner, fast, path):
    opt = fresh(winner, fast, lambda real, a: real(a), verify_rate=0.01)
    (install,) = opt._installed.values()
    install.clock = SteppingClock()
    a = np.random.default_rng(16).random(8)
    for _ in range(2000):
        opt(a)
    assert install.checked > watch.PROBATION_CALLS and install.period == 200  # 4x the variant, at 2%
    assert install.calls <= 2000 and install.variant_s == pytest.approx(1e-6)


def test_probation_catches_a_wrong_fresh_install_on_its_first_calls(winner, fast, state_dir, path):
    # Wrong on inputs whose first element exceeds 0.9, and verify_rate at the default (one call
    # in a hundred at most): a variant wrong on the 4th call would otherwise be served.
    def fault(real, a):
        value = real(a)
        return value + 1.0 if a[0] > 0.9 else value

    opt = fresh(winner, fast, fault, verify_rate=0.01)
    rng = np.random.default_rng(17)
    inputs = [rng.random(100) * 0.9 for _ in range(watch.PROBATION_CALLS)]
    inputs[-1][0] = 0.95  # the last call of probation is the first wrong one
    for a in inputs:
        assert opt.installed
        assert agrees(opt(a), k.sum_squares(a))
    assert opt.installed == {}
    assert rollbacks(state_dir)[-1].detail["check"] == "shadow"


@pytest.mark.slow
def test_a_warm_install_starts_on_probation(fast, state_dir, capsys):
    # Its own kernel: the other tests roll sum_squares's winner back, which retires it in the store.
    a = np.random.default_rng(18).random(20_000)
    assert hotpath.tune(k.checked_mean, a, config=fast).winner is not None
    opt = hotpath.optimize(k.checked_mean, config=fast.replace(hot_calls=10**9, hot_seconds=1e9))
    for _ in range(5):
        assert agrees(opt(a), k.checked_mean(a))
    (install,) = opt._installed.values()
    assert install.origin == "warm"
    assert install.checked == 5 and install.probation == watch.PROBATION_CALLS - 5
    # What the watch measured reaches `hotpath status` (written at exit, or now).
    from hotpath import dispatch
    from hotpath.cli import main

    dispatch.report_watch()
    assert main(["status", "--json", "--home", str(state_dir)]) == 0
    rows = json.loads(capsys.readouterr().out)["installs"]
    (row,) = [r for r in rows if r["qualname"] == "checked_mean"]
    assert row["watch"]["checked"] >= 5 and row["watch"]["calls"] >= 5


def test_a_variant_raising_what_the_original_raises_is_kept(fast, path):
    variant = numba.njit(k.checked_mean)
    a, empty = np.ones(4), np.zeros(0)
    opt = hotpath.optimize(k.checked_mean, config=fast.replace(verify_rate=0.0, hot_calls=10**9, persist=False))
    candidate = Candidate("numba", "test", (), "", "checked_mean", Path("test"), b"")
    opt._install((a,), opt._new_install(signature_of((a,)), candidate, 2.0, variant, (), False, "test", None))
    with pytest.raises(ValueError, match="mean of an empty array"):  # the original's exception and message
        opt(empty)
    (install,) = opt._installed.values()
    assert install.agreed_exceptions == 1 and not opt.barred((a,))


def test_a_variant_raising_another_exception_is_rolled_back(fast, path):
    def variant(x):
        raise IndexError("index 0 is out of bounds")  # the original raises ValueError here

    empty = np.zeros(0)
    opt = hotpath.optimize(k.checked_mean, config=fast.replace(verify_rate=0.0, hot_calls=10**9, persist=False))
    candidate = Candidate("numba", "test", (), "", "checked_mean", Path("test"), b"")
    opt._install((empty,), opt._new_install(signature_of((empty,)), candidate, 2.0, variant, (), False, "test", None))
    with pytest.raises(ValueError):
        opt(empty)
    assert opt.installed == {} and "test" in opt.barred((empty,))


def double_into(pair):
    src, dst = pair
    for i in range(src.shape[0]):
        dst[i] = 2.0 * src[i]


def test_writes_dropped_from_an_array_inside_a_tuple_fail_verification(fast):
    pair = (np.random.default_rng(19).random(1000), np.zeros(1000))
    result = hotpath.tune(double_into, pair, config=fast.replace(backends=("tests.fake_backends:DROPS_WRITES",)))
    (trial,) = result.trials
    assert trial.status == "incorrect" and "argument 0 after the call" in trial.reason
    assert result.winner is None


def test_writes_dropped_from_an_array_inside_a_tuple_are_rolled_back(fast, path):
    # Numba's parallel loop really loses writes into an array unpacked from a tuple.
    def parallel_double_into(pair):
        src, dst = pair
        for i in numba.prange(src.shape[0]):
            dst[i] = 2.0 * src[i]

    variant = numba.njit(parallel=True)(parallel_double_into)
    src = np.arange(16.0)
    opt = hotpath.optimize(double_into, config=fast.replace(verify_rate=0.01, hot_calls=10**9, persist=False))
    candidate = Candidate("numba", "test", (), "", "double_into", Path("test"), b"")
    pair = (src, np.zeros(16))
    opt._install((pair,), opt._new_install(signature_of((pair,)), candidate, 2.0, variant, (), False, "test", None))
    assert opt(pair) is None
    np.testing.assert_array_equal(pair[1], 2.0 * src)  # the original's writes, in the caller's array
    assert opt.installed == {} and "test" in opt.barred((pair,))
