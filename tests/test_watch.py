"""Fault injection into installed variants: the caller never sees a wrong result, the signature
goes back to the original at once, and the rollback is in the audit log."""

import time

import numpy as np
import pytest

import hotpath
from hotpath.store import Store
from tests import sample_kernels as k
from tests.checks import agrees


@pytest.fixture(scope="module")
def winner(fast):
    """One real tuning run; each test gets a fresh wrapper around the same built variant."""
    a = np.random.default_rng(10).random(20_000)
    result = hotpath.tune(k.sum_squares, a, config=fast)
    assert result.winner is not None, result.summary()
    (install,) = result.optimized._installed.values()
    return install


def fresh(winner, fast, fault, verify_rate):
    opt = hotpath.optimize(k.sum_squares, config=fast.replace(verify_rate=verify_rate))
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
    opt = fresh(winner, fast, fault, verify_rate=1.0)
    rng = np.random.default_rng(12)
    wrong_inputs = 0
    for _ in range(400):
        a = rng.random(500)
        wrong_inputs += a[0] > 0.99
        assert agrees(opt(a), k.sum_squares(a))
    assert wrong_inputs >= 1 and opt.installed == {}
    entry = rollbacks(state_dir)[before]
    assert entry.detail["check"] == "shadow" and "return value" in entry.detail["difference"]
    assert "variant" in entry.detail and "reason" in entry.detail


def test_a_sustained_slowdown_is_rolled_back(winner, fast, state_dir):
    def fault(real, a):
        time.sleep(0.002)
        return real(a)

    opt = fresh(winner, fast, fault, verify_rate=1.0)
    a = np.random.default_rng(13).random(1000)
    for _ in range(8):
        assert agrees(opt(a), k.sum_squares(a))
    assert opt.installed, "no rollback before the window is full (no flapping on one slow sample)"
    assert agrees(opt(a), k.sum_squares(a))
    assert opt.installed == {}
    assert rollbacks(state_dir)[-1].detail["check"] == "slowdown"


def test_in_place_damage_is_undone_before_the_caller_sees_it(fast):
    a = np.linspace(0, 1, 20_000)
    result = hotpath.tune(k.scale_in_place, a.copy(), 2.0, config=fast.replace(verify_rate=1.0))
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
