"""State a kernel reads besides its arguments: attributes of globals, a lookup table whose
writeable flag flips, NumPy's error state, ndarray subclasses, and side effects.

Real Numba variants and both dispatch paths; the state is changed between calls the way a user
changes it, and every answer is compared with the original's.
"""

import tempfile

import numpy as np
import pytest

import hotpath
from hotpath import fastpath
from hotpath.rewriter.source import SideEffects, extract
from hotpath.signature import guard_key, signature_of
from tests import hidden_kernels as hk
from tests import hidden_params as P
from tests.checks import agrees


@pytest.fixture
def state():
    """The helper modules' state as they define it, restored after each test."""
    saved = (P.SCALE, P.WEIGHTS.copy(), hk.PARAMS.dt, hk.PARAMS.grid.h, hk.TABLE.copy())
    yield
    P.SCALE, hk.PARAMS.dt, hk.PARAMS.grid.h = saved[0], saved[2], saved[3]
    P.WEIGHTS[:] = saved[1]
    hk.TABLE.flags.writeable = True
    hk.TABLE[:] = saved[4]
    hk.TABLE.flags.writeable = False


def _tuned(fn, fast, *args):
    opt = hotpath.optimize(fn, config=fast.replace(verify_rate=0.0, hot_calls=10**9, hot_seconds=1e9))
    result = hotpath.tune(opt, *args)
    assert result.winner is not None, result.summary()
    return opt


@pytest.mark.slow
def test_attributes_of_a_parameters_module_and_a_global_object(state, fast, dispatch_path):
    a = np.random.default_rng(0).random(20_000)
    scaled = _tuned(hk.module_scaled, fast, a)
    weighted = _tuned(hk.module_weighted, fast, a)
    stepped = _tuned(hk.object_step, fast, a)  # a SimpleNamespace Numba could not read as such
    P.SCALE = 3.0
    assert agrees(scaled(a), hk.module_scaled(a)) and scaled.installed == {}
    P.WEIGHTS[:] = 2.0  # the same array, other contents
    assert agrees(weighted(a), hk.module_weighted(a)) and weighted.installed == {}
    hk.PARAMS.grid.h = 0.25  # two attributes down
    assert agrees(stepped(a), hk.object_step(a)) and stepped.installed == {}
    # Tuned again, a variant is built with the new values (the object travels to the worker
    # with the kernel's module, so the original there sees them too).
    assert hotpath.tune(stepped, a).winner is not None
    assert agrees(stepped(a), hk.object_step(a)) and stepped.installed != {}
    # A worker imports P afresh and its original reads the file's SCALE: a candidate built with
    # 3.0 disagrees there and is not installed; whatever the outcome, the answer is the original's.
    hotpath.tune(scaled, a)
    assert agrees(scaled(a), hk.module_scaled(a))


@pytest.mark.slow
def test_a_read_only_table_rewritten_behind_its_flag(state, fast, dispatch_path):
    a = np.random.default_rng(1).random(20_000)
    opt = _tuned(hk.table_lookup, fast, a)
    assert agrees(opt(a), hk.table_lookup(a)) and opt.installed != {}
    hk.TABLE.flags.writeable = True
    hk.TABLE[:] = np.arange(16.0)
    hk.TABLE.flags.writeable = False  # the same object with the same flags again
    assert agrees(opt(a), hk.table_lookup(a)) and opt.installed == {}


@pytest.mark.slow
def test_calls_under_a_raising_error_state_run_the_original(fast, dispatch_path):
    a = np.random.default_rng(2).random(5000)
    b = a + 1.0
    opt = _tuned(hk.ratio_sum, fast, a, b)
    zero = b.copy()
    zero[7] = 0.0
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError):
            hk.ratio_sum(a, zero)
        with pytest.raises(FloatingPointError):
            opt(a, zero)
        assert agrees(opt(a, b), hk.ratio_sum(a, b))
        refused = hotpath.tune(opt, a, b)  # built here, it would be verified under another state
        assert refused.winner is None and "errstate(divide='raise')" in refused.reason
    old = np.seterr(all="raise")
    try:
        with pytest.raises(FloatingPointError):
            opt(a, zero)
    finally:
        np.seterr(**old)
    assert opt(a, zero) == np.inf  # the default state: the variant answers as the original does
    assert opt.installed != {}


def test_the_error_state_is_part_of_the_key_in_both_paths():
    args = (np.ones(3),)
    quiet = guard_key(args)
    with np.errstate(all="ignore"):  # nothing a variant cannot honour
        assert guard_key(args) == quiet
    with np.errstate(over="raise"):
        loud = guard_key(args)
        assert loud != quiet and "over='raise'" in str(signature_of(args))
        assert fastpath.guard_key(args) == loud
    assert guard_key(args) == fastpath.guard_key(args) == quiet


def test_subclasses_are_keyed_by_type_and_dtype():
    folder = tempfile.mkdtemp()
    small = np.memmap(f"{folder}/a", dtype=np.int16, mode="w+", shape=(8,))
    wide = np.memmap(f"{folder}/b", dtype=np.float64, mode="w+", shape=(8,))
    plain = np.zeros(8)
    masked = np.ma.zeros(8)
    keys = {guard_key((x,)) for x in (small, wide, plain, masked)}
    assert len(keys) == 4
    for x in (small, wide, masked, np.arange(4.0).view(type("Sub", (np.ndarray,), {}))):
        assert fastpath.guard_key((x,)) == guard_key((x,))
    assert str(signature_of((small,))) == "(numpy.memmap(int16, 1d, C))"


@pytest.mark.slow
def test_an_int16_memmap_is_not_served_by_a_float64_memmap_variant(fast, dispatch_path):
    folder = tempfile.mkdtemp()
    wide = np.memmap(f"{folder}/wide", dtype=np.float64, mode="w+", shape=(4000,))
    wide[:] = np.random.default_rng(3).random(4000)
    small = np.memmap(f"{folder}/small", dtype=np.int16, mode="w+", shape=(4000,))
    small[:] = 300  # 300 * 300 wraps in int16, as the original computes
    opt = _tuned(hk.int_sum, fast, wide)
    assert agrees(opt(wide), hk.int_sum(wide))
    assert agrees(opt(small), hk.int_sum(small))
    assert agrees(opt(small[::2]), hk.int_sum(small[::2]))


@pytest.mark.parametrize("kernel, effect", [
    (hk.counted, "writes into the global 'CALLS'"),
    (hk.recorded, "changes the global 'HISTORY'"),
    (hk.timed, "reads a clock"),
    (hk.jittered, "draws random numbers"),
    (hk.logged, "logs"),
    (hk.printed, "prints"),
    (hk.sets_parameter, "writes into the global 'P.SCALE'"),
    (hk.through_counted, "calls counted"),
])
def test_side_effects_are_refused_with_the_effect_named(kernel, effect, fast):
    with pytest.raises(SideEffects, match="side effect"):
        extract(kernel)
    result = hotpath.tune(kernel, np.ones(8), config=fast)
    assert result.winner is None and effect in result.reason


def test_side_effect_free_code_is_not_refused():
    for kernel in (hk.module_scaled, hk.object_step, hk.table_lookup, hk.ratio_sum):
        extract(kernel)
