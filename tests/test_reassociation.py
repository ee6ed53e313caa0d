"""Float reductions keep the original's summation order, or the variant counts as reassociating.

NumPy sums pairwise and calls BLAS for ``dot``; a compiled loop, Numba's ``np.sum`` and a
parallel reduction add in other orders. On inputs with cancellation (terms of 1e16 and 1) the
orders give different answers, so at the default tolerance a variant must reproduce NumPy's
order (the pairwise helpers) or not be tried at all; with ``rtol >= 1e-6`` it is tried.
"""

from __future__ import annotations

import ast
import textwrap

import numpy as np
import pytest

import hotpath
from hotpath.kernels import Candidate, Skipped, get_backend
from hotpath.rewriter.devectorize.transform import devectorize
from hotpath.rewriter.parallel import analyse
from hotpath.rewriter.reduction_order import PAIRWISE, keep_order
from hotpath.rewriter.source import extract
from hotpath.signature import signature_of

numba = pytest.importorskip("numba")


def cancelling(n: int, seed: int = 0) -> np.ndarray:
    """Terms of +-1e16 and 1.0: each summation order gives its own answer."""
    return np.random.default_rng(seed).choice([1e16, -1e16, 1.0], n)


def same(a: object, b: object) -> bool:
    """Bit for bit, NaNs equal to NaNs (their sign is not a result)."""
    a, b = np.asarray(a, np.asarray(b).dtype), np.asarray(b)
    return bool(np.all((a == b) & (np.signbit(a) == np.signbit(b)) | (np.isnan(a) & np.isnan(b))))


# -- the pairwise helpers ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def helpers():
    from hotpath.rewriter.devectorize.pairwise import pairwise_mean, pairwise_sum

    @numba.njit
    def total(a):
        return pairwise_sum(a)

    @numba.njit
    def mean(a):
        return pairwise_mean(a)

    return total, mean


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pairwise_helpers_match_numpy_bit_for_bit(helpers, dtype):
    total, mean = helpers
    rng = np.random.default_rng(1)
    sizes = [*range(0, 300), 511, 512, 513, 999, 1000, 1001, 4097, 100_003]
    for n in sizes:
        for a in (rng.standard_normal(n).astype(dtype), cancelling(n, n).astype(dtype)):
            assert same(total(a), np.sum(a)), (n, total(a), np.sum(a))
            if n:
                assert same(mean(a), np.mean(a)), (n, mean(a), np.mean(a))


def test_pairwise_helpers_follow_numpys_walk_over_layouts(helpers):
    total, mean = helpers
    X = cancelling(37 * 50).reshape(50, 37)
    for view in (X, np.asfortranarray(X), X[:, 5], X[3], X.ravel()[::3]):
        assert same(total(view), view.sum()) and same(mean(view), view.mean())
    # Integers: exact in any order; their mean casts through NumPy's buffer, each part pairwise.
    ints = np.random.default_rng(2).choice([2 ** 60, -(2 ** 60), 1], 20_000)
    assert total(ints) == ints.sum()
    assert same(mean(ints), ints.mean())
    # A strided n-d array is walked in an order not reproduced: refused when compiled, not wrong.
    with pytest.raises(numba.core.errors.TypingError, match="not reproduced"):
        total(X[:, ::2])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_run_summed_block_by_block_is_numpys_sum_of_it_stored(dtype):
    """What a fused ``np.sum(expr)`` does: NumPy's blocks filled one at a time, never the run."""
    from hotpath.rewriter.devectorize.pairwise import (BLOCK, combine_program, leaf_lengths, leaf_sum,
                                                       pairwise_mean_of_leaves, pairwise_sum_of_leaves)

    @numba.njit
    def blockwise(x):
        lengths, program = leaf_lengths(x.shape[0]), combine_program(x.shape[0])
        sums = np.empty(lengths.shape[0], x.dtype)
        block = np.empty(BLOCK, x.dtype)
        start = 0
        for j in range(lengths.shape[0]):
            for q in range(lengths[j]):
                block[q] = x[start + q] * x[start + q] - x[start + q]
            sums[j] = leaf_sum(block, lengths[j])
            start += lengths[j]
        total = pairwise_sum_of_leaves(program, sums.copy())  # it overwrites the block sums
        return total, pairwise_mean_of_leaves(x.shape[0], program, sums), start

    rng = np.random.default_rng(3)
    for n in [8, 9, 127, 128, 129, 255, 256, 257, 1000, 1001, 4097, 65_537, 100_003]:
        for x in (rng.standard_normal(n).astype(dtype), cancelling(n, n).astype(dtype)):
            total, mean, covered = blockwise(x)
            assert covered == n and same(total, np.sum(x * x - x)) and same(mean, np.mean(x * x - x)), n


def scaled_row_totals(X):
    return np.sum(X * 3.0 - X, axis=1)


def scaled_row_means(X):
    return (X * 3.0 - X).mean(axis=1)


@pytest.mark.parametrize("kernel", [scaled_row_totals, scaled_row_means])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_sums_fill_a_stack_buffer_per_thread_in_numpys_order(tmp_path, kernel, dtype):
    """Each row's blocks go to a buffer on the stack (no allocation per row; one per thread of a
    parallel loop), or on the heap past ``STACK_LEAVES`` blocks; a row of one block takes its
    sum without the helper's call. NumPy's sum (mean) in every case, float32 included."""
    from hotpath.rewriter.devectorize import emit, pairwise

    assert (emit.NUMPY_BLOCK, emit.STACK_LEAVES) == (pairwise.BLOCK, pairwise.STACK_LEAVES)
    found = proposals(kernel, (np.ones((4, 16), dtype),), hotpath.Config(), tmp_path)
    for name in ("numba-fused", "numba-fused-parallel"):
        candidate = found[name]
        assert isinstance(candidate, Candidate) and "stack_buffer" in candidate.source, name
        variant = get_backend("numba").load(candidate)
        for rows, columns in [(2000, 50), (300, 128), (3, 129), (3, 8192), (2, 7), (4, 8192 * 2 + 3)]:
            X = cancelling(rows * columns, columns).reshape(rows, columns).astype(dtype)
            assert same(variant(X), kernel(X)), (name, rows, columns)


def test_numba_own_sum_is_not_numpys_order():
    """Why the helpers exist: Numba's np.sum adds one term after another."""
    x = cancelling(1000, 3)

    @numba.njit
    def plain(a):
        return np.sum(a)

    assert plain(x) != np.sum(x)


# -- the rules on the source ---------------------------------------------------------------------
def parse(src: str) -> ast.FunctionDef:
    return ast.parse(textwrap.dedent(src)).body[0]  # type: ignore[return-value]


def test_whole_array_sums_call_the_helper_and_other_float_reductions_are_named():
    fn = parse("""
        def f(x, X, w, k):
            return x.sum() + np.mean(x) + X.sum(axis=1)[0] + np.dot(X, w)[0] + (X @ w)[0] + k.sum(axis=0)
    """)
    order = keep_order(fn, {"np": "numpy"}, frozenset({"k"}), "_pw")
    text = ast.unparse(order.tree)
    assert "_pw.pairwise_sum(x)" in text and "_pw.pairwise_mean(x)" in text
    assert "k.sum(axis=0)" in text  # integer sums are exact in any order
    assert [r.split(":")[0] for r in order.reassociations] == ["X.sum(axis=1)", "np.dot(X, w)", "X @ w"]


def test_parallel_float_reduction_is_reassociation_integer_one_is_not():
    fn = parse("""
        def f(x, flags):
            s = 0.0
            count = 0
            for i in range(x.shape[0]):
                s += x[i]
            for i in range(flags.shape[0]):
                count += flags[i]
            return s, count
    """)
    loose = [v for _, v in analyse(fn, frozenset({"flags"}))]
    assert [v.parallel for v in loose] == [True, True]
    assert loose[0].reassociates == ("s",) and loose[1].reassociates == ()
    strict = [v for _, v in analyse(fn, frozenset({"flags"}), reassociate=False)]
    assert [v.parallel for v in strict] == [False, True]
    assert "reassociate" in strict[0].reason


def test_fused_sums_keep_numpys_order_where_the_layout_allows():
    fn = parse("""
        def f(x, mu, X):
            e = np.exp(X - X.max(axis=1, keepdims=True))
            return -0.5 * ((x - mu) ** 2).sum() + x.std(), e / e.sum(axis=1, keepdims=True)
    """)
    x, X = np.ones(4), np.ones((3, 4))
    rewrite = devectorize(fn, signature_of((x, 0.5, X)).args, {"np": "numpy"}, pairwise=PAIRWISE)
    assert rewrite.reassociations == ()
    assert any(module == PAIRWISE for _, module in rewrite.imports)
    # Column sums of an F-ordered array: NumPy walks down the columns pairwise, the loops don't.
    col = parse("""
        def g(X):
            return X - X.mean(axis=0)
    """)
    assert devectorize(col, signature_of((np.asfortranarray(X),)).args, {"np": "numpy"},
                       pairwise=PAIRWISE).reassociations
    assert not devectorize(col, signature_of((X,)).args, {"np": "numpy"}, pairwise=PAIRWISE).reassociations
    # Without the helper (another backend), every fused float sum is reassociation.
    assert devectorize(fn, signature_of((x, 0.5, X)).args, {"np": "numpy"}).reassociations


# -- end to end ----------------------------------------------------------------------------------
def loglik(x, mu):
    return -0.5 * ((x - mu) ** 2).sum()


def row_loglik(x, mu):
    return -0.5 * ((x - mu) ** 2).sum(axis=1)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def project(X, w):
    return np.dot(X, w).sum() / X.shape[0]


def relative_spread(x):
    return np.std(x) / np.mean(x)


def running_total(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s


def count_positive(x):
    n = 0
    for i in range(x.shape[0]):
        if x[i] > 0:
            n += 1
    return n


@pytest.mark.slow
@pytest.mark.parametrize("kernel,tuned,later", [
    (loglik, (np.random.default_rng(4).standard_normal(20_000), 0.1), (cancelling(20_000, 5), 0.0)),
    (softmax, (np.random.default_rng(6).standard_normal((200, 64)),), (cancelling(200 * 64, 7).reshape(200, 64) * 1e-14,)),
])
def test_every_verified_variant_matches_the_original_on_cancellation(fast, kernel, tuned, later):
    result = hotpath.tune(kernel, *tuned, config=fast)
    expected = kernel(*later)
    verified = [t for t in result.trials if t.correct]
    assert any(t.name.startswith("numba-fused") for t in verified), result.summary()
    for trial in verified:  # on another machine any of them may win
        variant = get_backend(trial.backend).load(trial.candidate)
        assert same(variant(*later), expected), (trial.name, result.summary())
    assert same(result.optimized(*later), expected)


def proposals(kernel, args, config: hotpath.Config, tmp_path) -> dict[str, Candidate | Skipped]:
    found = get_backend("numba").propose(extract(kernel), signature_of(args), config, tmp_path)
    return {p.name: p for p in found}


def test_reassociating_variants_wait_for_a_loose_tolerance(tmp_path):
    x = np.ones(6)
    strict = proposals(relative_spread, (x,), hotpath.Config(), tmp_path)
    assert isinstance(strict["numba"], Skipped) and "np.std(x)" in strict["numba"].reason
    assert "rtol >= 1e-06 or fastmath=True" in strict["numba"].reason
    loose = proposals(relative_spread, (x,), hotpath.Config(rtol=1e-6), tmp_path)
    assert isinstance(loose["numba"], Candidate) and isinstance(loose["numba-fastmath"], Candidate)
    # A whole-array sum is no reassociation: the variant calls the helper at any tolerance.
    exact = proposals(loglik, (np.ones(5), 0.5), hotpath.Config(), tmp_path)
    assert isinstance(exact["numba"], Candidate) and "pairwise_sum" in exact["numba"].source
    assert isinstance(exact["numba-fused"], Candidate) and "pairwise_sum" in exact["numba-fused"].source


def test_parallel_float_reduction_is_skipped_at_default_tolerance(tmp_path):
    x = np.ones(10)
    strict = proposals(running_total, (x,), hotpath.Config(), tmp_path)
    assert isinstance(strict["numba-parallel"], Skipped)
    assert "reassociate a float sum" in strict["numba-parallel"].reason
    assert isinstance(strict["numba"], Candidate)  # the serial loop adds in the original's order
    loose = proposals(running_total, (x,), hotpath.Config(rtol=1e-6), tmp_path)
    assert isinstance(loose["numba-parallel"], Candidate) and "prange" in loose["numba-parallel"].source
    counts = proposals(count_positive, (x,), hotpath.Config(), tmp_path)
    assert isinstance(counts["numba-parallel"], Candidate)  # an integer count is exact in any order


def test_products_are_numpys_own_calls_unless_the_tolerance_allows_reassociation(tmp_path):
    """Numba's ``np.dot`` calls SciPy's BLAS (another order); at the default tolerance every
    variant calls NumPy's instead, so it is tried and returns exactly the original's value."""
    X, w = cancelling(600, 9).reshape(200, 3), np.array([1.0, -1.0, 3.0])
    strict = proposals(project, (X, w), hotpath.Config(), tmp_path / "strict")
    for name in ("numba", "numba-parallel", "numba-fused"):
        candidate = strict[name]
        assert isinstance(candidate, Candidate) and "_hotpath_products.dot(X, w)" in candidate.source, name
        assert dict(candidate.options)["numpy_products"] is True
        assert same(get_backend("numba").load(candidate)(X, w), project(X, w)), name
    loose = proposals(project, (X, w), hotpath.Config(rtol=1e-6), tmp_path / "loose")
    assert isinstance(loose["numba"], Candidate) and "_hotpath_products" not in loose["numba"].source


def test_summary_says_why_a_reassociating_variant_was_not_tried(fast):
    x = np.random.default_rng(8).standard_normal(50) + 3.0
    result = hotpath.tune(relative_spread, x, config=fast)
    assert "reassociates a float reduction (np.std(x)" in result.summary()
    # The fused loops compute the deviation in NumPy's order; the plain ones were not tried.
    assert result.winner is None or result.winner.name.split("+")[0] not in ("numba", "numba-parallel")


def geometric_growth(rates):
    return np.prod(1.0 + rates)


def test_a_float_product_is_not_made_parallel_at_default_tolerance(tmp_path):
    rates = np.full(8, 0.01)
    strict = proposals(geometric_growth, (rates,), hotpath.Config(), tmp_path)
    assert isinstance(strict["numba"], Candidate)  # a serial product multiplies in NumPy's order
    assert isinstance(strict["numba-parallel"], Skipped) and "per-thread" in strict["numba-parallel"].reason
    assert isinstance(proposals(geometric_growth, (rates,), hotpath.Config(rtol=1e-6), tmp_path)["numba-parallel"],
                      Candidate)


def test_pythran_float_reductions_wait_for_a_loose_tolerance(tmp_path):
    pytest.importorskip("pythran")
    pythran = get_backend("pythran")
    # A whole-array float64 sum keeps NumPy's pairwise order (pythran_pairwise, test_pythran_sums.py);
    # one along an axis has no such function, and waits for a loose tolerance.
    strict = {p.name: p for p in pythran.propose(extract(loglik), signature_of((np.ones(5), 0.5)), hotpath.Config(),
                                                 tmp_path)}
    assert isinstance(strict["pythran"], Candidate) and "hotpath_pairwise_sum((x - mu) ** 2)" in strict["pythran"].source
    rows = signature_of((np.ones((5, 3)), 0.5))
    strict = {p.name: p for p in pythran.propose(extract(row_loglik), rows, hotpath.Config(), tmp_path)}
    assert isinstance(strict["pythran"], Skipped) and "((x - mu) ** 2).sum(axis=1)" in strict["pythran"].reason
    loose = {p.name: p for p in pythran.propose(extract(row_loglik), rows, hotpath.Config(rtol=1e-6), tmp_path)}
    assert isinstance(loose["pythran"], Candidate) and "pairwise" not in loose["pythran"].source
    # Loops get Pythran candidates where Numba is not tried (test_ahead.py): Pythran alone here.
    counts = {p.name: p for p in pythran.propose(extract(count_positive), signature_of((np.ones(5),)),
                                                 hotpath.Config(backends=("pythran",)), tmp_path)}
    assert isinstance(counts["pythran"], Candidate)  # a loop adds in the original's order
