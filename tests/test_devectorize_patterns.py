"""Devectorizing the patterns of issue 18: masks feeding reductions, shifted-slice comparisons,
``argmax``/``argmin``, running sums, ``diff``, nonzero indices and complex parts.

The first tests run the rewritten function as plain Python against NumPy (values, dtypes,
exceptions, NaN, empty arrays, masks that select nothing); the last ones build the
``numba-fused`` variant with real Numba and require exactly the original's result, float sums
in NumPy's pairwise order included.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pytest

import hotpath
from hotpath.kernels import Candidate, get_backend
from hotpath.rewriter.source import extract
from hotpath.signature import signature_of
from tests.test_devectorize import check, f64, rewrite

RNG = np.random.default_rng(18)


def with_nan(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x.flat[::5] = np.nan
    return x


# -- plain Python: each rule against NumPy ------------------------------------------------------
PATTERNS = [
    # counts and boolean reductions
    ("np.count_nonzero(x > 0.3)", (f64(40),)),
    ("np.count_nonzero(x)", (with_nan(f64(20)),)),  # NaN is nonzero
    ("np.count_nonzero(x > 0.0, axis=1)", (f64(5, 7),)),
    ("np.count_nonzero(x < 0.0, axis=0) / x.shape[0]", (f64(5, 7),)),
    ("np.count_nonzero((x[1:-1] > x[:-2]) & (x[1:-1] > x[2:]))", (f64(50),)),
    ("np.any(np.abs(x) > 2.5) | np.all(x < 10.0)", (f64(6, 6),)),
    ("np.where(x > 0.0, x * 0.5, 0.0).sum()", (with_nan(f64(30)),)),
    # reductions of boolean selections
    ("x[x > 0.2].sum()", (with_nan(f64(40)),)),
    ("x[(x > -0.5) & (x < 0.5)].mean()", (with_nan(f64(6, 7)),)),
    ("np.max(x[np.isfinite(x)])", (with_nan(f64(40)),)),
    ("x[x < 0.0].min() + (x[x > 0.0] ** 2).sum()", (f64(30),)),
    ("np.prod(x[x > 1.0])", (f64(30),)),
    ("x[x > 0.0].any()", (f64(30),)),
    # argmax / argmin
    ("np.argmax(x)", (with_nan(f64(30)),)),  # the first NaN wins
    ("np.argmin(x * x)", (f64(5, 6),)),  # the flat index
    ("np.argmax(x, axis=1)", (f64(5, 6),)),
    ("x.argmin(axis=0)", (with_nan(f64(5, 6)),)),
    ("np.argmin(((x[:, None, :] - x[None, :3, :]) ** 2).sum(axis=-1), axis=1)", (f64(8, 3),)),
    # differences and complex parts
    ("np.diff(x) * 2.0", (f64(9),)),
    ("np.diff(x) / 0.5", (f64(4, 6),)),
    ("(x * np.conj(x)).real", ((f64(12) + 1j * f64(12)),)),
    ("x.real ** 2 + x.imag ** 2", ((f64(3, 4) + 1j * f64(3, 4)),)),
    ("np.where(x.real > 0.0, x * x, np.conj(x))", ((f64(12) + 1j * f64(12)),)),
    ("np.exp(1j * x).imag", (f64(10),)),
]


@pytest.mark.parametrize("expression,args", PATTERNS, ids=[e for e, _ in PATTERNS])
def test_pattern_equals_numpy(expression, args):
    check(f"def f(x):\n    return {expression}\n", *args)


EDGES = {
    "empty argmax raises": ("np.argmax(x * 2.0)", np.zeros(0)),
    "empty rows argmax raises": ("np.argmax(x, axis=1)", np.zeros((3, 0))),
    "nothing selected: sum is 0": ("x[x > 9.0].sum()", f64(10)),
    "nothing selected: mean is nan": ("x[x > 9.0].mean()", f64(10)),
    "nothing selected: max raises": ("x[x > 9.0].max()", f64(10)),
    "empty count": ("np.count_nonzero(x > 0.0)", np.zeros(0)),
    "empty diff": ("np.diff(x) * 2.0", np.zeros(1)),
    "integer argmax": ("np.argmax(x + 1)", np.array([3, 7, 7, -2], dtype=np.int32)),
    "boolean argmax": ("np.argmax(x > 0)", np.array([-1, 0, 2, 3])),
    "boolean diff": ("np.diff(x).sum()", f64(20) > 0.0),  # not_equal, as NumPy
    "integer selection sum": ("x[x % 2 == 0].sum()", RNG.integers(-9, 9, 30).astype(np.int32)),
    "float32 selection sum": ("x[x > 0].sum()", f64(30).astype(np.float32)),
}


@pytest.mark.parametrize("why", EDGES)
def test_edge_cases_behave_like_numpy(why):
    expression, x = EDGES[why]
    check(f"def f(x):\n    return {expression}\n", x)


def test_masks_of_other_arrays_must_match_exactly():
    source = "def f(x, valid):\n    return x[valid].sum() + np.max(x[valid])\n"
    x = f64(12)
    check(source, x, x > 0)
    check(source, x, (x > 0)[:8])  # IndexError, as NumPy: a mask never broadcasts
    check(source, x[:1], np.array([True]))
    check(source, x[:1], x > 0)  # a length-1 array is not stretched to its mask either
    text = ast.unparse(rewrite(source, x, x > 0)[2].tree)
    assert "raise IndexError" in text and " * s" not in text  # checked once, then plain indices


SELECTION_REFUSED = {
    "another array meets the compacted selection": "def f(x, y):\n    return (x[x > 0] * y).sum()\n",
    "a selection not reduced": "def f(x, y):\n    return x[x > 0] * 2.0\n",
    "a selection reduced along an axis": "def f(x, y):\n    return x[x > 0].sum(axis=0) + y\n",
    "two different selections": "def f(x, y):\n    return (x[x > 0] + y[y > 0]).sum()\n",
}


@pytest.mark.parametrize("why", SELECTION_REFUSED)
def test_selections_outside_the_rules_stay_numpy(why):
    check(SELECTION_REFUSED[why], f64(10), f64(10), changed=False)


SEQUENCES = [
    ("np.cumsum(x * 2.0)", (with_nan(f64(20)),)),
    ("np.cumsum(x)", (np.array([-0.0, -0.0, 1.0]),)),  # the first element as it is, -0.0 kept
    ("np.cumsum(x * x)", (RNG.integers(-300, 300, 20).astype(np.int32),)),  # int64 result
    ("np.cumsum(x * x)", (f64(25).astype(np.float32),)),  # float32 accumulator
    ("np.cumprod(1.0 + 0.01 * x)", (f64(30),)),
    ("np.cumsum(x - x.mean())", (f64(30),)),
    ("np.cumsum(x[::-1])[::-1]", (f64(30),)),
    ("np.cumsum(np.exp(x)[::-1])[::-1]", (f64(30),)),
    ("np.nonzero((x[1:-1] > x[:-2]) & (x[1:-1] > x[2:]))[0] + 1", (f64(60),)),
    ("np.flatnonzero(x > 0.5)", (with_nan(f64(30)),)),
    ("np.where(np.abs(x) > 1.0)[0]", (f64(30),)),
    ("np.nonzero(x * 0.0)[0]", (f64(10),)),  # nothing: an empty int array
    ("np.cumsum(x + 1.0)", (np.zeros(0),)),
    # along an axis of an n-d expression: C-order loops, each element adds the previous one
    ("np.cumsum(x * 2.0, axis=0)", (with_nan(f64(5, 6)),)),
    ("np.cumprod(1.0 + 0.1 * x, axis=-1)", (f64(5, 6),)),
    ("(x * x).cumsum(axis=1)", (f64(3, 4, 2),)),
    ("np.cumsum(x, 0)", (np.arange(12, dtype=np.int32).reshape(3, 4),)),
    ("np.cumsum(x * x, axis=1)", (f64(4, 5).astype(np.float32),)),
    ("np.cumsum(x + 1.0, axis=0)", (np.zeros((0, 3)),)),
]


@pytest.mark.parametrize("expression,args", SEQUENCES, ids=[e for e, _ in SEQUENCES])
def test_running_sums_and_indices_equal_numpy(expression, args):
    result = check(f"def f(x):\n    return {expression}\n", *args)
    assert "cumsum" in result.notes[0] or "cumprod" in result.notes[0] or "nonzero" in result.notes[0]


def test_reversed_cumsum_runs_backwards_without_copies():
    _, _, result = rewrite("def f(x):\n    return np.cumsum((x * x)[::-1])[::-1]\n", f64(10))
    text = ast.unparse(result.tree)
    assert "range(n0 - 1, -1, -1)" in text and text.count("np.empty") == 1 and "[::-1]" not in text


def test_named_mask_with_two_reductions_is_not_stored():
    source = """
    def f(values, lo, hi):
        band = (values > lo) & (values < hi)
        mean = values[band].mean()
        peak = values[band].max()
        return mean, peak
    """
    result = check(source, with_nan(f64(40)), -0.5, 1.5)
    text = ast.unparse(result.tree)
    assert "band" not in text and "np.empty" not in text and text.count("for ") == 2  # recomputed per loop
    check(source, f64(10), 5.0, 6.0)  # nothing in the band: nan mean, then max raises


# -- real Numba: the fused variants compile and return exactly the original's result ------------
def count_and_peaks(signal, height):
    inner = signal[1:-1]
    peaks = (inner > signal[:-2]) & (inner > signal[2:]) & (inner > height)
    return np.count_nonzero(peaks), np.count_nonzero(signal > height)


def peak_indices(signal):
    return np.nonzero((signal[1:-1] > signal[:-2]) & (signal[1:-1] > signal[2:]))[0] + 1


def band_statistics(values, lo, hi):
    band = (values > lo) & (values < hi)
    total = values[band].sum()
    mean = values[band].mean()
    peak = values[band].max()
    return total, mean, peak


def nearest_and_extremes(X, C):
    labels = np.argmin(((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=-1), axis=1)
    return labels, np.argmax(X), X.argmin(axis=0)


def tails_and_steps(x, dt):
    tail = np.cumsum((x * x)[::-1])[::-1]
    walk = np.cumsum(x * dt)
    return tail, walk, np.diff(x) / dt


def exceedance_fractions(temperature, threshold):
    return np.mean(temperature > threshold, axis=1), (temperature < -threshold).mean(axis=0), np.mean(temperature > 0)


def wealth_paths(returns):
    return np.cumprod(1.0 + returns, axis=0), np.cumsum(returns * returns, axis=1)


def field_parts(amplitude, phase):
    field = amplitude * np.exp(1j * phase)
    return np.where(field.real > 0.0, field.imag, -field.imag)


def identical(a, b) -> bool:
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def cancelling(n: int, seed: int) -> np.ndarray:
    """Values whose sum depends on the order of additions (large terms that cancel)."""
    x = np.random.default_rng(seed).standard_normal(n)
    x[::3] *= 1e16
    return x


NUMBA_CASES = [
    (count_and_peaks, [(f64(500), 0.5), (np.zeros(2), 0.0), (with_nan(f64(50)), 0.0)]),
    (peak_indices, [(np.cumsum(f64(1000)),), (np.zeros(1),), (f64(3),)]),
    (band_statistics, [(cancelling(3000, 1), -1e16, 1e17), (with_nan(f64(300)), -0.5, 1.5),
                       (cancelling(40, 2), -1e20, 1e20)]),
    (nearest_and_extremes, [(f64(200, 3), f64(7, 3)), (with_nan(f64(20, 3)), f64(4, 3))]),
    (tails_and_steps, [(cancelling(2000, 3), 0.01), (np.zeros(1), 0.5), (np.array([-0.0, -0.0]), 1.0)]),
    (field_parts, [(np.abs(f64(300)), f64(300))]),
    # booleans add up exactly in any order: no reassociation to wait for
    (exceedance_fractions, [(f64(40, 300), 0.5), (np.asfortranarray(f64(30, 20)), 0.1), (np.zeros((0, 4)), 0.0)]),
    (wealth_paths, [(0.01 * f64(50, 7),), (cancelling(60, 4).reshape(6, 10),), (np.zeros((0, 3)),)]),
]


@pytest.mark.slow
@pytest.mark.parametrize("kernel,inputs", NUMBA_CASES, ids=[k.__name__ for k, _ in NUMBA_CASES])
def test_numba_fused_variant_returns_exactly_the_original(kernel, inputs, tmp_path):
    backend = get_backend("numba")
    proposals = {p.name: p for p in backend.propose(extract(kernel), signature_of(inputs[0]), hotpath.Config(),
                                                    tmp_path)}
    fused = proposals["numba-fused"]
    assert isinstance(fused, Candidate), fused  # built, and no reassociation to wait for
    variant = backend.load(fused)
    for args in inputs:
        expected = kernel(*args)
        assert identical(variant(*args), expected), (kernel.__name__, args)


def growth_and_hazard(prices, rates):
    growth = np.cumsum(np.log(prices[1:] / prices[:-1]))
    hazard = np.cumsum(np.exp(-rates)[::-1])[::-1]
    return growth, hazard, np.cumsum(np.exp(-rates[:, None] * prices[None, :5]), axis=1)


@pytest.mark.slow
def test_running_sums_of_vector_math_terms_take_the_terms_first(tmp_path):
    """One scalar loop called ``log`` an element at a time (1.47x over NumPy at 4M prices); the
    terms now come first, in a loop of their own that LLVM vectorizes through ``vmath``, then the
    running sum over them in place (2.8x). The same terms, added in the same order."""
    from hotpath.rewriter.devectorize import vmath

    backend = get_backend("numba")
    rng = np.random.default_rng(5)
    prices, rates = 100.0 * np.exp(np.cumsum(0.01 * rng.standard_normal(3000))), rng.random(400)
    proposals = {p.name: p for p in backend.propose(extract(growth_and_hazard), signature_of((prices, rates)),
                                                    hotpath.Config(), tmp_path)}
    fused = proposals["numba-fused"]
    assert isinstance(fused, Candidate), fused
    body = fused.source[fused.source.index("def growth_and_hazard"):]
    stores = re.findall(r"(\w+)\[[\w, ]+\] = _vm\w*\.(?:log|exp)\(", body)
    assert len(stores) == 3, body  # each term stored by itself, no running sum in its loop
    for out in stores:  # then summed over in place
        after = body[body.index(f"{out}[") :].split("\n", 1)[1]
        assert re.search(rf"= [^\n]*\b{out}\[", after), body

    growth, hazard, rows = backend.load(fused)(prices, rates)
    terms = np.array([vmath.log(q) for q in prices[1:] / prices[:-1]])
    assert np.array_equal(growth, np.cumsum(terms))  # NumPy's cumsum adds one term after another
    decay = np.array([vmath.exp(-r) for r in rates])
    assert np.array_equal(hazard, np.cumsum(decay[::-1])[::-1])
    expected = growth_and_hazard(prices, rates)
    for got, want in zip((growth, hazard, rows), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)  # vmath's ulps, summed
    assert all(len(v) == 0 for v in backend.load(fused)(prices[:1], rates[:0])[:2])


def softmax_normalized_in_place(scores):
    scores = scores - scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights


def test_rows_normalized_in_place_serial_and_parallel(tmp_path):
    """``weights /= weights.sum(axis=1, keepdims=True)`` writes in place (each row's sum is taken
    before the row is written), in the parallel variant too."""
    backend = get_backend("numba")
    proposals = {p.name: p for p in backend.propose(extract(softmax_normalized_in_place),
                                                    signature_of((f64(4, 9),)), hotpath.Config(), tmp_path)}
    for name in ("numba-fused", "numba-fused-parallel"):
        candidate = proposals[name]
        assert isinstance(candidate, Candidate), name
        assert any("weights.sum" in note and note.endswith("in place") for note in candidate.notes), candidate.notes
        variant = backend.load(candidate)
        for args in [(f64(50, 300),), (cancelling(600, 5).reshape(20, 30) * 1e-14,), (with_nan(f64(4, 9)),)]:
            # vmath's exp is within an ulp of NumPy's, not bit for bit: the sums are NumPy's order.
            np.testing.assert_allclose(variant(*args), softmax_normalized_in_place(*args), rtol=1e-14, atol=0)


@pytest.mark.slow
def test_numba_fused_masked_sums_keep_numpys_pairwise_order(tmp_path):
    x = cancelling(5000, 9)
    backend = get_backend("numba")
    proposals = {p.name: p for p in backend.propose(extract(band_statistics), signature_of((x, -1e17, 1e17)),
                                                    hotpath.Config(), tmp_path)}
    fused = proposals["numba-fused"]
    assert isinstance(fused, Candidate) and "pairwise_sum" in fused.source and "pairwise_mean" in fused.source
    got = backend.load(fused)(x, -1e17, 1e17)
    sequential = 0.0
    for v in x[(x > -1e17) & (x < 1e17)]:
        sequential += v
    assert got[0] == band_statistics(x, -1e17, 1e17)[0] != sequential  # NumPy's order, not one after another


# -- matrix products inside fused expressions stay BLAS calls -----------------------------------
PRODUCTS = [
    ("def f(A, x):\n    return np.tanh(A @ x) * 0.5 + x[:3].sum()\n", (f64(3, 4), f64(4))),
    ("def f(A, x):\n    y = x.copy()\n    y[:] = np.tanh(A.dot(x)) * 0.5 + y\n    return y\n", (f64(4, 4), f64(4))),
    ("def f(a, b):\n    return np.dot(a, b) * a - np.matmul(a, b)\n", (f64(6), f64(6))),
    ("def f(X, w):\n    return np.sum(np.log1p(np.exp(-(X @ w))))\n", (f64(20, 3), f64(3))),
    ("def f(A, x):\n    return np.tanh(A @ x) * 0.5\n", (f64(3, 4), f64(5))),  # ValueError, as NumPy
]


@pytest.mark.parametrize("source,args", PRODUCTS, ids=[s.splitlines()[-1].strip() for s, _ in PRODUCTS])
def test_matrix_products_inside_fused_code_stay_calls(source, args):
    result = check(source, *args)
    fn = result.tree
    loops = [n for n in ast.walk(fn) if isinstance(n, ast.For)]
    calls = [n for n in ast.walk(fn) if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
             and n.targets[0].id.startswith("dot")]
    assert calls and all(c in fn.body for c in calls)  # computed once, before any loop, by the call itself
    assert not any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult) for loop in loops for n in ast.walk(loop))


def dense_layer(X, W, b):
    return np.maximum(X @ W + b, 0.0)


def power_iteration(A, v, iters):
    for _ in range(iters):
        w = A @ v
        v = w / np.sqrt(np.sum(w * w))
    return v


@pytest.mark.parametrize("kernel,tuned,later", [
    (dense_layer, (f64(40, 5), f64(5, 3), f64(3)), [(f64(300, 7), f64(7, 2), f64(2)), (f64(1, 5), f64(5, 1), f64(1)),
                                                    (f64(50, 5), f64(5, 3), f64(1))]),
    (power_iteration, (f64(6, 6), f64(6), 3), [(f64(40, 40), f64(40), 25), (f64(3, 3), f64(3), 0)]),
], ids=["dense_layer", "power_iteration"])
def test_fused_loops_around_products_that_numpy_computes(tmp_path, kernel, tuned, later):
    """The product is NumPy's own call (``numpy_products``: Numba's would reassociate), the
    loops around it fused: exactly the original's values on any input, NumPy's shape errors."""
    backend = get_backend("numba")
    proposals = {p.name: p for p in backend.propose(extract(kernel), signature_of(tuned), hotpath.Config(),
                                                    tmp_path)}
    fused = proposals["numba-fused"]
    assert isinstance(fused, Candidate) and "_hotpath_products.matmul(" in fused.source
    assert re.search(r"\n\s+for \w+ in range\(", fused.source)  # the loops around the product
    variant = backend.load(fused)
    for args in (tuned, *later):
        np.testing.assert_array_equal(variant(*args), kernel(*args))
    with pytest.raises(ValueError):
        variant(f64(4, 5), f64(4, 3), f64(3)) if kernel is dense_layer else variant(f64(6, 6), f64(5), 1)


# -- in-place writes whose right side reduces the array being written ---------------------------
IN_PLACE = [
    # Each row's (column's, the whole array's) reduction is complete before the nest writes it.
    ("def f(x):\n    x /= x.sum(axis=1, keepdims=True)\n    return x\n", (f64(5, 7),), "in place"),
    ("def f(x):\n    x -= x.mean(axis=0)\n    return x\n", (f64(6, 4),), "in place"),
    ("def f(x):\n    x /= np.abs(x).max()\n    return x\n", (f64(9),), "in place"),
    ("def f(x):\n    x[:, 1:] = x[:, 1:] / x.sum(axis=1, keepdims=True)\n    return x\n", (f64(4, 6),), "in place"),
    ("def f(x):\n    x[:] = x - np.max(x, axis=-1, keepdims=True) + x[:, 1:].min(axis=1, keepdims=True)\n"
     "    return x\n", (f64(3, 5),), "in place"),
    # The reduction reads a row that an earlier iteration wrote, or another row: a temporary.
    ("def f(x):\n    x[1:, :] = x[1:, :] / x[:-1, :].sum(axis=1, keepdims=True)\n    return x\n", (f64(5, 4),),
     "via a temporary"),
    ("def f(x):\n    x[:-1, :] = x[:-1, :] / x[1:, :].sum(axis=1, keepdims=True)\n    return x\n", (f64(5, 4),),
     "via a temporary"),
    ("def f(x):\n    x[:, :] = x * x.sum(axis=0, keepdims=True).T\n    return x\n", (f64(4, 4),),
     "via a temporary"),
]


@pytest.mark.parametrize("source,args,how", IN_PLACE, ids=[s.splitlines()[1].strip() for s, _, _ in IN_PLACE])
def test_an_in_place_write_may_reduce_its_own_rows_first(source, args, how):
    """NumPy computes the whole right side first; the nest writes in place only where every
    reduction of the written array has read the row before the row is written."""
    result = check(source, *args)
    assert any(how in note for note in result.notes), result.notes


def test_integer_products_are_not_lowered():
    check("def f(A, x):\n    return (A @ x) * 2\n", np.arange(6).reshape(2, 3), np.arange(3), changed=False)
