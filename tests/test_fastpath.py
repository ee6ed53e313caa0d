"""The compiled dispatch fast path (hotpath._fastpath) against the pure-Python path.

Every behaviour test runs on both paths (the ``path`` fixture); the key test checks the two
guard-key implementations agree, value for value and hash for hash, on many argument kinds.
"""

from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath import fastpath, signature
from hotpath.kernels.base import Candidate
from hotpath.signature import signature_of

compiled_only = pytest.mark.skipif(not fastpath.available(), reason="hotpath._fastpath is not built")


@pytest.fixture
def path(dispatch_path):
    return dispatch_path


class _Sub(np.ndarray):
    """An ndarray subclass: its key is its type alone, like any other object's."""


def _arguments() -> list[object]:
    a = np.arange(12.0).reshape(3, 4)
    readonly = np.zeros(3)
    readonly.flags.writeable = False
    big_endian = np.zeros(3, dtype=">f8")
    return [
        np.zeros(3), a, a.T, a[:, ::2], np.zeros(0), np.zeros((1, 1)), np.zeros(1, dtype=np.float32),
        np.zeros(2, dtype=np.int64), np.zeros(2, dtype=bool), np.zeros(2, dtype=np.complex128), big_endian,
        readonly, np.array(3.0), np.ma.zeros(2), np.zeros(2).view(_Sub), 1, 1.0, True, 1j, "s", b"b", None,
        np.float64(1.0), np.int32(3), (), (1, np.zeros(2)), ((np.zeros(1), 2.0), "x"), [], [np.zeros(2)],
        [[1]], [(1, 2)], {"a": 1}, object(), np.float64, slice(1),
    ]


@compiled_only
@pytest.mark.parametrize("value", _arguments(), ids=lambda v: type(v).__name__)
def test_compiled_and_pure_guard_keys_are_identical(value):
    from hotpath import _fastpath

    for args in ((value,), (value, value), (1.0, value, np.zeros(2))):
        fast, pure = _fastpath.guard_key(args), signature.guard_key(args)
        assert fast == pure and hash(fast) == hash(pure)
        assert type(fast) is type(pure) is tuple
    assert _fastpath.guard_key([value]) == signature.guard_key([value])  # any sequence


@compiled_only
def test_keys_tell_apart_what_the_guard_must():
    from hotpath import _fastpath

    a = np.zeros((3, 4))
    keys = {_fastpath.guard_key((x,)) for x in (a, a.T, a[:, ::2], a.astype(np.float32), np.zeros(3), a.copy())}
    assert len(keys) == 5  # a and its copy share a key; layout, dtype and ndim do not
    deep = (1,)
    for _ in range(100_000):
        deep = (deep,)
    with pytest.raises(RecursionError):
        _fastpath.guard_key((deep,))


def _installed(fn, args, variant, mutates=False, verify_rate=0.0):
    opt = hotpath.optimize(fn, verify_rate=verify_rate, hot_calls=10**9, hot_seconds=1e9, persist=False)
    candidate = Candidate("numba", "test", (), "", fn.__name__, Path("test"), b"")
    opt._install(args, opt._new_install(signature_of(args), candidate, 2.0, variant, (OverflowError,), mutates, "test",
                                        None))
    return opt


def total(a, b):
    return float(a.sum() + b.sum())


def test_installed_variant_serves_its_signature_only(path):
    calls = []

    def variant(a, b):
        calls.append(1)
        return total(a, b)

    a, b = np.ones(3), np.ones(3)
    opt = _installed(total, (a, b), variant)
    assert opt(a, b) == 6.0 and len(calls) == 1
    assert opt(a, b=b) == 6.0 and len(calls) == 2  # keywords bind to the same signature
    assert opt(a.astype(np.float32), b) == 6.0 and len(calls) == 2  # another signature: the original
    assert opt(a[::2], b) == 5.0 and len(calls) == 2  # strided: another layout
    (install,) = opt._installed.values()
    assert install.countdown == install.period - 2  # every served call counts down
    opt.rollback()
    assert opt(a, b) == 6.0 and len(calls) == 2


def test_sampled_call_is_shadow_verified(path):
    def wrong(a, b):
        return -1.0

    a, b = np.ones(3), np.ones(3)
    opt = _installed(total, (a, b), wrong, verify_rate=1.0)
    assert opt(a, b) == 6.0  # the sample found the difference: the original's answer
    assert not opt._installed and "test" in opt.barred((a, b))


def test_variant_exception_rolls_back_and_the_original_answers(path):
    def broken(a, b):
        raise ZeroDivisionError("variant bug")

    a, b = np.ones(3), np.ones(3)
    opt = _installed(total, (a, b), broken)
    assert opt(a, b) == 6.0
    assert not opt._installed and "test" in opt.barred((a, b))


def test_invocation_error_runs_the_original_and_keeps_the_variant(path):
    def refuses(a, b):
        raise OverflowError("too big for int64")

    a, b = np.ones(3), np.ones(3)
    opt = _installed(total, (a, b), refuses)
    assert opt(a, b) == 6.0
    assert opt._installed  # not rolled back: the variant could not take the value, nothing ran


def test_keyboard_interrupt_from_the_variant_reaches_the_caller(path):
    def interrupted(a, b):
        raise KeyboardInterrupt

    a, b = np.ones(3), np.ones(3)
    opt = _installed(total, (a, b), interrupted)
    with pytest.raises(KeyboardInterrupt):
        opt(a, b)


def test_mutating_function_goes_through_the_protected_call(path):
    def scale(a):
        a *= 2.0
        return a

    def failing_variant(a):
        a[:] = 99.0  # changes the argument, then fails: the change must be undone
        raise RuntimeError("half-way")

    a = np.ones(3)
    opt = _installed(scale, (a,), failing_variant, mutates=True)
    out = opt(a)
    np.testing.assert_array_equal(out, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(a, [2.0, 2.0, 2.0])


def test_wrong_arity_raises_what_python_raises(path):
    a, b = np.ones(3), np.ones(3)
    opt = _installed(total, (a, b), total)
    with pytest.raises(TypeError):
        opt(a)
    with pytest.raises(TypeError):
        opt(a, b, b)


def test_disabled_runs_the_original(path, monkeypatch):
    monkeypatch.setenv("HOTPATH_DISABLE", "1")
    calls = []
    a, b = np.ones(3), np.ones(3)
    opt = _installed(total, (a, b), lambda a, b: calls.append(1))
    assert opt(a, b) == 6.0 and not calls


@compiled_only
def test_compiled_path_caches_the_lookup_and_sees_installs_change():
    assert fastpath.use(True)
    a, b = np.ones(3), np.ones(3)
    served = []
    opt = _installed(total, (a, b), lambda a, b: served.append("first") or 1.0)
    hits = opt._cache_hits
    for _ in range(5):
        opt(a, b)
    assert served == ["first"] * 5 and opt._cache_hits >= hits + 4
    # A new install for the same key changes the dict: the cached install must not be used.
    candidate = Candidate("numba", "second", (), "", "total", Path("test"), b"")
    opt._install((a, b), opt._new_install(signature_of((a, b)), candidate, 2.0,
                                          lambda a, b: served.append("second") or 2.0, (), False, "test", None))
    assert opt(a, b) == 2.0 and served[-1] == "second"
    opt.rollback()
    assert opt(a, b) == 6.0 and served[-1] == "second"
    fastpath.use(fastpath.requested())


def test_environment_switch_selects_the_pure_path(tmp_path):
    import subprocess
    import sys

    code = "import hotpath.dispatch, hotpath.fastpath as f; print(f.active())"
    pure = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "HOTPATH_PURE_PYTHON": "1"})
    assert pure.stdout.strip() == "False"
    unset = {k: v for k, v in __import__("os").environ.items() if k != "HOTPATH_PURE_PYTHON"}
    default = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=unset)
    assert default.stdout.strip() == str(fastpath.available())


@compiled_only
def test_switching_paths_really_switches_the_entry_point():
    """Python 3.11 keeps a type's vectorcall entry when __call__ is reassigned; use(False) must drop it."""
    a, b = np.ones(3), np.ones(3)
    opt = _installed(total, (a, b), lambda a, b: 1.0)
    try:
        assert fastpath.use(True)
        before = opt._cache_hits
        opt(a, b), opt(a, b)
        assert opt._cache_hits > before  # served in C
        assert not fastpath.use(False)
        before = opt._cache_hits
        assert opt(a, b) == 1.0 and opt(a, b) == 1.0
        assert opt._cache_hits == before  # served by the Python __call__
    finally:
        fastpath.use(fastpath.requested())


def test_arrays_of_other_libraries_are_guarded_by_dtype_ndim_and_layout(path):
    """A variant verified on float64 vectors of torch (or CuPy) must not serve float32 matrices."""
    torch = pytest.importorskip("torch")
    from hotpath import _fastpath

    cases = [torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float32),
             torch.zeros((2, 2), dtype=torch.float64), torch.zeros((2, 4), dtype=torch.float64).T]
    keys = {fastpath.guard_key((t,)) for t in cases}
    assert len(keys) == len(cases)
    if fastpath.available():
        for t in cases:
            assert _fastpath.guard_key((t,)) == signature.guard_key((t,))
    assert str(signature_of((cases[3],))) == "(torch.Tensor(torch.float64, 2d, A))"

    served = []
    opt = _installed(lambda t: float(t.sum()), (cases[0],), lambda t: served.append(t) or -1.0)
    assert opt(cases[0]) == -1.0 and opt(cases[0]) == -1.0  # the installed key: the variant
    assert opt(cases[1]) == 0.0 and opt(cases[2]) == 0.0   # other keys: the original
    assert len(served) == 2
