"""Vectorizable elementary functions (``exp`` ... ``tanh``, ``hypot``) for fused loops: NumPy's values, special values exactly.

The functions are compiled by real Numba inside a loop, as the fused variants call them, and
compared with NumPy over random bit patterns (every exponent), the ranges where results overflow
or turn subnormal, and every special value. The fused rewrite must call them, keep calling them
after a refinement, and stay verified end to end.
"""

from __future__ import annotations

import re

from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.kernels import Candidate, get_backend
from hotpath.kernels.base import Failure
from hotpath.rewriter.devectorize.emit import VECTOR_MATH
from hotpath.rewriter.source import extract
from hotpath.signature import signature_of

numba = pytest.importorskip("numba")
vmath = pytest.importorskip("hotpath.rewriter.devectorize.vmath")

RNG = np.random.default_rng(11)
SPECIALS = np.array([2.0**-53, -2.0**-53, 2.0**-54, 0.34657359027997264, -0.34657359027997264,
                     np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 5e-324, -5e-324, 1e-310,
                     2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
                     709.782712893384, 709.7827128933841, 709.7827128933839, -745.1332191019411,
                     -745.1332191019412, -708.3964185322641, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 2.0),
                     np.nextafter(np.sqrt(2.0), 0.0), np.nextafter(1.0, 0.0), np.nextafter(1.0, 2.0)])


def _elementwise(function):
    """A jitted loop calling ``function`` on every element, as a fused map does."""
    @numba.njit
    def apply(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = function(x[i])
        return out
    return apply


_apply_exp, _apply_log, _apply_expm1, _apply_log1p, _apply_tanh = (
    _elementwise(f) for f in (vmath.exp, vmath.log, vmath.expm1, vmath.log1p, vmath.tanh))


@numba.njit
def _apply_exp32(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = np.float32(vmath.exp(x[i]))  # as the emitter spells a float32 call
    return out


def inputs() -> np.ndarray:
    bits = RNG.integers(0, 2**63, 200_000, dtype=np.int64).view(np.float64)  # every exponent
    return np.concatenate([bits, -bits, RNG.uniform(-750.0, 712.0, 100_000), RNG.standard_normal(100_000),
                           RNG.uniform(1 - 1e-6, 1 + 1e-6, 10_000), RNG.uniform(-1.0, 1.0, 100_000),
                           RNG.uniform(-1e-8, 1e-8, 10_000), SPECIALS])


def assert_within_ulps(expected: np.ndarray, actual: np.ndarray, ulps: float) -> None:
    special = ~np.isfinite(expected) | ~np.isfinite(actual) | (expected == 0) | (actual == 0)
    np.testing.assert_array_equal(actual[special], expected[special])  # NaN, +-inf, +-0 exactly
    signed = special & ~np.isnan(expected)  # -0.0 stays -0.0 (a NaN's sign bit means nothing)
    np.testing.assert_array_equal(np.signbit(actual[signed]), np.signbit(expected[signed]))
    normal = ~special & (np.abs(expected) >= np.finfo(np.float64).tiny)
    assert (np.abs(actual[normal] - expected[normal]) / np.spacing(np.abs(expected[normal]))).max() <= ulps
    # Subnormal results carry fewer bits; they still round to within the verifier's tolerance.
    np.testing.assert_allclose(actual[~special], expected[~special], rtol=1e-12, atol=0)


@pytest.mark.parametrize("name,ulps", [("exp", 1), ("log", 1), ("expm1", 4), ("log1p", 1), ("tanh", 4)])
def test_matches_numpy_within_ulps_and_special_values_exactly(name, ulps):
    assert VECTOR_MATH == vmath.FUNCTIONS  # the emitter's list is this module's (it cannot import it)
    x = inputs()
    with np.errstate(all="ignore"):
        expected = getattr(np, name)(x)
    kernel = {"exp": _apply_exp, "log": _apply_log, "expm1": _apply_expm1, "log1p": _apply_log1p,
              "tanh": _apply_tanh}[name]
    assert_within_ulps(expected, kernel(x), ulps)


@numba.njit
def _apply_hypot(x, y):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = vmath.hypot(x[i], y[i])
    return out


@numba.njit
def _apply_cabs(z):
    out = np.empty(z.shape, np.float64)
    for i in range(z.size):
        out[i] = vmath.cabs(z[i])
    return out


def test_hypot_and_complex_abs_within_two_ulps_and_inf_beside_nan():
    x = inputs()
    y = np.concatenate([x[len(SPECIALS):], SPECIALS])[::-1].copy()
    pairs = [(x, y), (np.repeat(SPECIALS, SPECIALS.size), np.tile(SPECIALS, SPECIALS.size)),
             (RNG.standard_normal(1000) * 1e-160, RNG.standard_normal(1000) * 1e-160),
             (RNG.standard_normal(1000) * 1e300, RNG.standard_normal(1000) * 1e300)]
    for a, b in pairs:
        with np.errstate(all="ignore"):
            expected = np.hypot(a, b)
        z = np.empty(a.shape, np.complex128)
        z.real, z.imag = a, b  # not a + 1j * b: 1j * inf has a NaN real part
        for actual in (_apply_hypot(a, b), _apply_cabs(z)):
            special = ~np.isfinite(expected) | (expected == 0)
            np.testing.assert_array_equal(actual[special], expected[special])  # hypot(inf, nan) is inf
            normal = ~special & (expected >= np.finfo(np.float64).tiny)
            with np.errstate(over="ignore"):  # the spacing of the largest float is inf
                ulps = np.abs(actual[normal] - expected[normal]) / np.spacing(expected[normal])
            assert ulps.max(initial=0) <= 2.0
            np.testing.assert_allclose(actual[~special], expected[~special], rtol=1e-12, atol=0)


def test_float32_computed_in_float64_rounds_within_numpys_own_error():
    x = np.concatenate([RNG.uniform(-104.0, 89.0, 100_000), [np.nan, np.inf, -np.inf, 0.0, 88.72, 88.73]])
    x = x.astype(np.float32)
    with np.errstate(all="ignore"):
        expected = np.exp(x)
    actual = _apply_exp32(x)
    assert actual.dtype == np.float32
    finite = np.isfinite(expected) & (expected > np.finfo(np.float32).tiny)
    np.testing.assert_array_equal(actual[~np.isfinite(expected)], expected[~np.isfinite(expected)])
    assert (np.abs(actual[finite] - expected[finite]) / np.spacing(expected[finite])).max() <= 4


def test_the_loop_calls_no_c_library_function():
    """The point of the module: nothing left in the loop that LLVM must keep scalar."""
    x = np.ones(4)
    for kernel, args in ((_apply_exp, (x,)), (_apply_log, (x,)), (_apply_expm1, (x,)), (_apply_log1p, (x,)),
                         (_apply_tanh, (x,)), (_apply_hypot, (x, x))):
        kernel(*args)
        llvm = kernel.inspect_llvm(kernel.signatures[0])
        assert not any(name in llvm for name in ("@exp(", "@log(", "llvm.exp", "llvm.log", "@expm1(", "@log1p(", "@tanh(",
                                               "@hypot(")), kernel
        # Vectorized (the loops use Python's error model, as fused variants do: no division check).
        assert re.search(r"<\d+ x double>", llvm), kernel


def _exp_after_checks(checks: int):
    """A loop calling ``vmath.exp`` after ``checks`` broadcast checks, spelled as the emitter spells them."""
    lines = ["def exp_after_checks(x, sizes):", "    n = x.shape[0]"]
    for k in range(checks):
        lines += [f"    if (sizes[{k}] != n) & (sizes[{k}] != 1):",
                  "        raise ValueError('operands could not be broadcast together')"]
    lines += ["    out = np.empty_like(x)", "    for i in range(n):", "        out[i] = vmath.exp(x[i])",
              "    return out"]
    namespace = {"np": np, "vmath": vmath}
    exec("\n".join(lines), namespace)
    return numba.njit(namespace["exp_after_checks"])


def test_the_loop_is_vectorized_where_llvm_guesses_it_cold():
    """LLVM guesses each check that can raise raises half the time: after ten it takes the loop to
    run on under 2% of calls, a cold call site, where its inliner stops at cost 45 (``exp`` is ~150).
    Deep in a big fused function every loop is there; the call must be inlined all the same."""
    kernel = _exp_after_checks(12)
    x = RNG.standard_normal(64)
    np.testing.assert_allclose(kernel(x, np.full(12, 64)), np.exp(x), rtol=1e-15)
    llvm = kernel.inspect_llvm(kernel.signatures[0])
    assert not re.search(r"call [^\n]*@_ZN\w*vmath\w*exp", llvm)
    assert re.search(r"<\d+ x double>", llvm)


def log_sum_exp(a):
    m = a.max(axis=1)
    return m + np.log(np.sum(np.exp(a - m[:, None]), axis=1))


def test_fused_variant_calls_it_and_agrees_on_nan_and_inf_rows(fast):
    a = RNG.standard_normal((300, 40)) * 20.0
    result = hotpath.tune(log_sum_exp, a, config=fast)
    fused = next(t for t in result.trials if t.name.startswith("numba-fused") and t.correct)
    assert ".exp(" in fused.candidate.source and "hotpath.rewriter.devectorize.vmath" in fused.candidate.source
    later = RNG.standard_normal((6, 40)) * 300.0  # exp of the shifted values underflows to 0
    later[1, 3], later[2, 0], later[3, 39], later[4, :] = np.nan, np.inf, -np.inf, -np.inf
    variant = get_backend("numba").load(fused.candidate)
    with np.errstate(all="ignore"):
        expected = log_sum_exp(later)
        actual = variant(later)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))


def exp_of_first(x):
    return np.exp(x - x[0])


def test_a_refined_fused_candidate_still_imports_it(tmp_path):
    backend = get_backend("numba")
    x = RNG.standard_normal(50)
    found = backend.propose(extract(exp_of_first), signature_of((x,)), hotpath.Config(), tmp_path)
    fused = next(c for c in found if isinstance(c, Candidate) and c.name == "numba-fused")
    assert "vmath" in fused.source
    refined = backend.refine(extract(exp_of_first), fused, Failure("mismatch", "x", "empty", "IndexError"), tmp_path)
    assert refined is not None and "vmath" in refined.source
    np.testing.assert_allclose(backend.load(refined)(x), exp_of_first(x), rtol=1e-12)
    with pytest.raises(IndexError):
        backend.load(refined)(np.zeros(0))


def test_a_candidate_file_changes_with_the_helpers_numba_inlines_into_it(tmp_path, monkeypatch):
    """Numba keys a cached binary by the candidate's file alone; vmath is compiled into it."""
    from hotpath.kernels import numba_backend

    backend = get_backend("numba")
    x = RNG.standard_normal(50)

    def fused_path() -> Path:
        found = backend.propose(extract(exp_of_first), signature_of((x,)), hotpath.Config(), tmp_path)
        return next(c for c in found if isinstance(c, Candidate) and c.name == "numba-fused").path

    before = fused_path()
    assert numba_backend.runtime_digest() in before.read_text()
    monkeypatch.setattr(numba_backend, "runtime_digest", lambda: "0123456789abcdef")  # a new hotpath's vmath
    assert fused_path() != before


@pytest.mark.parametrize("body,vectorized", [
    ("return np.log(x[1:] / x[:-1])", True),  # a map: vectorized, vmath's
    ("return np.exp(x - x.max()).sum()", True),  # the sum's blocks are filled by a loop of their own
    ("return np.cumsum(np.log(x[1:] / x[:-1]))", True),  # a scan: its terms first, in a loop of their own
    ("return np.max(np.exp(x))", False),  # a running max
    ("return np.argmax(np.log1p(x))", False),
    ("return np.exp(x[x > 0.5]).sum()", False),  # a compaction
])
def test_vmath_only_where_the_loop_can_be_vectorized(body, vectorized):
    """Scalar, vmath's functions are slower than the C library's (a cumsum of logs computed
    its terms in the scan's loop at 0.5x; they now get a loop of their own)."""
    import ast

    from hotpath.rewriter.devectorize.transform import devectorize

    tree = ast.parse(f"def f(x):\n    {body}\n").body[0]
    rewrite = devectorize(tree, signature_of((np.ones(50),)).args, {"np": "numpy"},
                          pairwise="hotpath.rewriter.devectorize.pairwise", vmath="hotpath.rewriter.devectorize.vmath")
    assert rewrite.changed
    assert ("_vm" in ast.unparse(rewrite.tree)) == vectorized, ast.unparse(rewrite.tree)
