"""Globals a variant was built with: a change takes the install out before it can answer wrongly.

Real Numba variants (which fold global values, arrays included, into the machine code), both
dispatch paths, and the store: a winner is kept per set of global values, so a parameter sweep
that comes back to earlier values warm-starts the variant built for them.
"""

import numpy as np
import pytest

import hotpath
from hotpath.frozen_globals import MAX_WATCHED_BYTES, freeze
from hotpath.rewriter.source import extract
from hotpath.store import Store
from tests import frozen_kernels as fk
from tests.checks import agrees


@pytest.fixture
def kernels():
    """The module's globals as it defines them, restored after each test."""
    saved = (fk.SCALE, fk.WEIGHTS.copy(), fk.helper_scale, fk.BIG)
    params = dict(fk.PARAMS)
    yield fk
    fk.PARAMS.clear()
    fk.PARAMS.update(params)
    fk.SCALE, fk.helper_scale, fk.BIG = saved[0], saved[2], saved[3]
    fk.WEIGHTS[:] = saved[1]


def _tuned(fn, fast, *args):
    opt = hotpath.optimize(fn, config=fast.replace(verify_rate=0.0, hot_calls=10**9, hot_seconds=1e9))
    result = hotpath.tune(opt, *args)
    assert result.winner is not None, result.summary()
    return opt


def _actions(state_dir, qualname):
    return [e.action for e in Store.at(state_dir).audit_entries(f"tests.frozen_kernels:{qualname}")]


def test_rebinding_a_global_takes_the_variant_out(kernels, fast, dispatch_path, state_dir):
    a = np.random.default_rng(0).random(20_000)
    opt = _tuned(kernels.scaled_sum, fast, a)
    assert agrees(opt(a), kernels.scaled_sum(a))
    kernels.SCALE = 3.0  # the variant has 2.0 folded in
    assert agrees(opt(a), kernels.scaled_sum(a))
    assert opt.installed == {}
    assert _actions(state_dir, "scaled_sum")[-1] == "invalidate"
    assert opt.barred((a,)) == set()  # not the variant's fault: it may be tuned again


def test_an_array_changed_in_place_takes_the_variant_out(kernels, fast, dispatch_path):
    a = np.random.default_rng(1).random(20_000)
    opt = _tuned(kernels.weighted_sum, fast, a)
    assert agrees(opt(a), kernels.weighted_sum(a))
    kernels.WEIGHTS[3] = np.nan  # the same object, other contents
    assert np.isnan(kernels.weighted_sum(a)) and np.isnan(opt(a)) and opt.installed == {}


def test_items_of_a_global_dict_are_folded_and_watched(kernels, fast, dispatch_path):
    # No compiler types a Python dict: its items read with constant keys are bound by value.
    v, f = np.random.default_rng(5).random((2, 20_000))
    opt = _tuned(kernels.damped_step, fast, v, f)
    assert agrees(opt(v, f), kernels.damped_step(v, f))
    kernels.PARAMS["damping"] = 0.5  # the same dict, another value: the variant has 0.98
    assert agrees(opt(v, f), kernels.damped_step(v, f)) and opt.installed == {}


def test_a_rebound_helper_takes_the_variant_out(kernels, fast, dispatch_path):
    a = np.random.default_rng(2).random(20_000)
    opt = _tuned(kernels.through_helper, fast, a)
    kernels.helper_scale = kernels.other_scale
    assert agrees(opt(a), kernels.through_helper(a)) and opt.installed == {}


def test_a_closure_variable_rebound_takes_the_variant_out(fast, dispatch_path):
    make, rebind = fk.closure_pair()
    a = np.random.default_rng(3).random(20_000)
    opt = _tuned(make, fast, a)
    rebind(5.0)
    assert agrees(opt(a), make(a)) and opt.installed == {}


def test_a_sweep_back_to_earlier_values_warm_starts_their_variant(kernels, fast, dispatch_path, tmp_path):
    a = np.random.default_rng(4).random(20_000)
    opt = _tuned(kernels.scaled_sum, fast.replace(state_dir=tmp_path), a)  # a store of its own
    kernels.SCALE = 3.0
    assert agrees(opt(a), kernels.scaled_sum(a)) and opt.installed == {}  # nothing stored for 3.0 yet
    assert hotpath.tune(opt, a).winner is not None  # built with 3.0
    assert agrees(opt(a), kernels.scaled_sum(a))
    kernels.SCALE = 2.0
    assert agrees(opt(a), kernels.scaled_sum(a))  # invalidated: the original answers
    assert agrees(opt(a), kernels.scaled_sum(a))  # tier 0 again: the stored 2.0 winner comes back
    assert opt.installed != {}
    assert _actions(tmp_path, "scaled_sum") == ["install", "invalidate", "install", "invalidate", "warm-install"]


def test_a_large_global_array_is_refused_with_what_to_do(kernels, fast):
    a = np.random.default_rng(5).random(1000)
    result = hotpath.tune(kernels.reads_big, a, config=fast)
    assert result.winner is None and "'BIG'" in result.reason and "np.frombuffer" in result.reason
    kernels.BIG.flags.writeable = False  # not enough: it owns its memory, so it can be made writeable again
    assert "'BIG'" in hotpath.tune(kernels.reads_big, a, config=fast).reason
    kernels.BIG = np.frombuffer(kernels.BIG.tobytes(), kernels.BIG.dtype)  # as the reason says: immutable
    assert freeze(kernels.reads_big, extract(kernels.reads_big)) is not None
    assert hotpath.tune(kernels.reads_big, a, config=fast).winner is not None


def test_nothing_to_watch_keeps_the_unwatched_fast_path(fast):
    assert freeze(fk.pure, extract(fk.pure)) is None
    a = np.random.default_rng(6).random(20_000)
    opt = _tuned(fk.pure, fast, a)
    (install,) = opt._installed.values()
    assert install.frozen is None and not install.watched


def test_contents_are_compared_bitwise_and_bounded():
    frozen = freeze(fk.weighted_sum, extract(fk.weighted_sum))
    assert frozen is not None and frozen.changed() is None
    assert fk.WEIGHTS.nbytes <= MAX_WATCHED_BYTES < fk.BIG.nbytes


def test_globals_that_keep_changing_leave_the_function_as_the_original(kernels, fast, dispatch_path, tmp_path):
    from hotpath.dispatch import VOLATILE_AFTER

    a = np.random.default_rng(7).random(20_000)
    opt = _tuned(kernels.scaled_sum, fast.replace(state_dir=tmp_path), a)
    for step in range(VOLATILE_AFTER):
        kernels.SCALE = 2.0 if step % 2 else 3.0
        assert agrees(opt(a), kernels.scaled_sum(a))  # invalidated
        assert agrees(opt(a), kernels.scaled_sum(a))  # warm start of the stored winner for this value, if any
        if step == 0:
            assert hotpath.tune(opt, a).winner is not None  # now both values have a stored winner
    assert opt.installed == {} and opt._disabled
    assert agrees(opt(a), kernels.scaled_sum(a))
