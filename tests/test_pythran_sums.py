"""Pythran variants keep NumPy's summation order (``pythran_pairwise``) and its broadcasting errors.

The pairwise functions are checked bit for bit against NumPy in plain Python; one real Pythran
build then checks them compiled, together with the length guard a Pythran variant needs where
NumPy raises for arrays that do not broadcast and Pythran does not check.
"""

from __future__ import annotations

import ast
import textwrap

import numpy as np
import pytest

import hotpath
from hotpath.kernels import Candidate, get_backend, pythran_backend
from hotpath.kernels.pythran_pairwise import (hotpath_pairwise_mean, hotpath_pairwise_sum, keep_numpy_order,
                                              refusal)
from hotpath.runner import adapters
from hotpath.signature import signature_of


def _cancelling(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n) * 10.0 ** rng.integers(-3, 17, n)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 136, 255, 256, 257, 1000, 1031, 2053])
def test_the_pairwise_functions_are_numpys_sum_and_mean_bit_for_bit(n):
    a = _cancelling(n, n)
    for view in (a, a[::-1], a[::3], a[: n - n % 4].reshape(-1, 4)):
        assert hotpath_pairwise_sum(view) == np.sum(view)
        if view.size:
            assert hotpath_pairwise_mean(view) == np.mean(view)
    assert type(hotpath_pairwise_sum(a)) in (float, np.float64)
    if not n:
        assert np.isnan(hotpath_pairwise_mean(a))


def _tree(source: str) -> ast.FunctionDef:
    return ast.parse(textwrap.dedent(source)).body[0]  # type: ignore[return-value]


MODULES = {"np": "numpy"}


def test_sums_are_substituted_only_where_numpys_order_is_one_c_order_run():
    energy = _tree("""
        def energy(x, k):
            phase = k * x
            return np.sum(np.sin(phase) ** 2) + x.mean()
    """)
    one_d = signature_of((np.ones(4), 0.5))
    (order,) = keep_numpy_order([energy], one_d, MODULES, frozenset())
    assert order.substituted and not order.reassociations
    text = ast.unparse(order.tree)
    assert "hotpath_pairwise_sum(np.sin(phase) ** 2)" in text and "hotpath_pairwise_mean(x)" in text
    local = _tree("""
        def local(x):
            d = x[:, None] - x[None, :]
            return np.sum(d[:, 1:])
    """)
    (kept,) = keep_numpy_order([local], one_d, MODULES, frozenset())
    assert not kept.substituted and kept.reassociations  # a local may be a non-contiguous 2-d view

    grid = signature_of((np.ones((3, 4)), 0.5))
    assert refusal([energy], grid) is None
    assert keep_numpy_order([energy], grid, MODULES, frozenset())[0].substituted  # a C-order 2-d parameter
    fortran = signature_of((np.asfortranarray(np.ones((3, 4))), 0.5))
    assert "not C-contiguous" in refusal([energy], fortran)
    assert "float32" in refusal([energy], signature_of((np.ones(4, np.float32), 0.5)))
    transposed = _tree("""
        def transposed(x):
            return np.sum(x.T * 2.0)
    """)
    assert "reorders axes" in refusal([transposed], signature_of((np.ones((3, 4)),)))
    by_rows = _tree("""
        def by_rows(x):
            return np.sum(x[:, 1:])
    """)
    (rows,) = keep_numpy_order([by_rows], grid, MODULES, frozenset())
    assert not rows.substituted  # NumPy sums a non-contiguous 2-d view row by row


def clipped_work(force, step):
    # Products are exact in any compiler; only the order of the sum can change the result.
    return np.sum(np.maximum(force, 0.0) * step)


@pytest.mark.slow
def test_a_pythran_variant_sums_in_numpys_order_and_keeps_numpys_broadcast_error(tmp_path):
    if not pythran_backend.BACKEND.availability().ok:
        pytest.fail("the Pythran tests need Pythran and a C++ compiler (test extra)")
    a, b = np.linspace(-3.0, 3.0, 4000), np.linspace(2.0, -1.0, 4000)
    result = hotpath.tune(clipped_work, a, b, backends=("pythran",), state_dir=tmp_path, persist=False,
                          cost_model=False, timing_budget_s=0.3, compile_timeout_s=400.0)
    trial = next(t for t in result.trials if t.correct)
    candidate = trial.candidate
    assert isinstance(candidate, Candidate) and "hotpath_pairwise_sum(" in candidate.source
    # Pythran returns where NumPy raises for lengths that do not broadcast: only a guarded variant passed.
    assert trial.name.startswith("pythran") and "+same-lengths" in trial.name, [t.name for t in result.trials]
    variant = adapters.apply(candidate.adapters, get_backend("pythran").load(candidate), clipped_work)
    for seed in range(3):
        x, y = _cancelling(5003, seed), _cancelling(5003, seed + 10)
        assert variant(x, y) == clipped_work(x, y)  # the same float, not a close one
    with pytest.raises(ValueError, match="broadcast"):
        variant(a, b[:-1])
    # Pythran's vector maximum drops a NaN that its scalar tail keeps: the special values at a
    # moderate length showed it, and calls with one go to the original.
    force = a.copy()
    force[2001] = np.nan
    assert np.isnan(variant(force, b)) and np.isnan(clipped_work(force, b))
