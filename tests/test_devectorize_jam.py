"""Loops over a sequence around element-wise array updates (Horner's rule, explicit time steps,
fixed-point iterations), jammed into one pass over blocks of elements (``devectorize.jam``).

The first tests run the rewritten function as plain Python against NumPy on the inputs the
jammed pass takes and on those its guard sends back to the loop as written (an empty sequence,
empty arrays, operands that broadcast); then the refusals; the last ones build the
``numba-fused`` variant with real Numba and require exactly the original's result.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import hotpath
from hotpath.kernels import Candidate, get_backend
from hotpath.rewriter.source import extract
from hotpath.signature import signature_of
from tests.test_devectorize import assert_same, check, f64, outcome, rewrite
from tests.test_devectorize_patterns import identical

JAMMED = "one pass over blocks"


# -- kernels, as people write them (module level: hotpath reads their source) -------------------


def horner(coeffs, x):
    result = np.zeros_like(x)
    for c in coeffs:
        result = result * x + c
    return result


def damped_oscillators(x, v, k, damping, dt, steps):
    for _ in range(steps):
        a = -k * x - damping * v
        v = v + dt * a
        x = x + dt * v
    return x, v


def logistic_growth(n, rate, capacity, dt, steps):
    for _ in range(steps):
        n = n * np.exp(rate * dt * (1.0 - n / capacity))
    return n


def newton_sqrt(a, iterations):
    y = np.where(a > 1.0, a, 1.0)
    for _ in range(iterations):
        y = 0.5 * (y + a / y)
    return y


def integrate_and_fire(v, current, threshold, reset, dt, steps):
    for _ in range(steps):
        v = np.where(v > threshold, reset, v + dt * (current - v))
    return v


def cooling_grid(T, ambient, k, dt, steps):
    for step in range(1, steps + 1, 2):
        T = T - dt * k * (T - ambient) / step
    return T


def lcg_streams(state, steps):
    for _ in range(steps):
        state = (state * 1103515245 + 12345) % 2147483648
    return state


def source(fn) -> str:
    return inspect.getsource(fn)


def notes(fn, *args) -> tuple[str, ...]:
    return check(source(fn), *args).notes


# -- plain Python: the jammed pass and the guard's way back, against NumPy ----------------------

CASES = [
    (horner, (f64(5), f64(1000))),
    (damped_oscillators, (f64(700), f64(700), 2.0, 0.1, 0.01, 50)),
    (logistic_growth, (np.abs(f64(600)), 0.8, 2.0, 0.05, 40)),
    (newton_sqrt, (np.abs(f64(300)) * 100.0, 12)),
    (integrate_and_fire, (f64(500), np.abs(f64(500)), 1.0, 0.0, 0.1, 30)),
    (cooling_grid, (f64(7, 300), f64(7, 300), 0.3, 0.1, 9)),
    (cooling_grid, (f64(7, 300).astype(np.float32), np.float32(0.5), np.float32(0.3), np.float32(0.1), 5)),
    (lcg_streams, (np.arange(600, dtype=np.int64) * 7919, 9)),
    (lcg_streams, (np.arange(600, dtype=np.uint32) * np.uint32(7919), 9)),  # wraps at 2**32 as NumPy does
]


@pytest.mark.parametrize("kernel,args", CASES, ids=[f"{k.__name__}-{i}" for i, (k, _) in enumerate(CASES)])
def test_jammed_pass_equals_numpy(kernel, args):
    assert any(JAMMED in n for n in notes(kernel, *args))


# Inputs of the same signature that the guard sends to the loop as written.
GUARDED = [
    (horner, (np.zeros(0), f64(40))),  # no coefficients: result stays the zeros it was
    (horner, (f64(3), np.zeros(0))),  # no elements
    (damped_oscillators, (f64(9), f64(1), 2.0, 0.1, 0.01, 5)),  # v broadcasts against x
    (damped_oscillators, (f64(9), f64(4), 2.0, 0.1, 0.01, 5)),  # shapes that do not broadcast: NumPy's error
    (damped_oscillators, (f64(9), f64(9), 2.0, 0.1, 0.01, 0)),  # no steps
    (cooling_grid, (f64(4, 6), f64(1, 6), 0.3, 0.1, 3)),  # a broadcast row
    (newton_sqrt, (np.zeros(5), 4)),  # 0 / 0 inside the pass: NaN as NumPy makes it
]


@pytest.mark.parametrize("kernel,args", GUARDED, ids=[f"{k.__name__}-{i}" for i, (k, _) in enumerate(GUARDED)])
def test_calls_the_guard_sends_back_behave_like_numpy(kernel, args):
    notes(kernel, *args)


def uses_the_last_item(coeffs, x):
    result = np.zeros_like(x)
    for c in coeffs:
        result = result * x + c
    return result + c


def keeps_a_temporary(x, steps):
    for _ in range(steps):
        t = x * 0.5
        x = t + 1.0
    return x, t


def recentres(x, steps):
    for _ in range(steps):
        x = x - x.mean()
    return x


def smooths(u, steps):
    for _ in range(steps):
        u = 0.5 * u[1:] + 0.5 * u[:-1]
    return u


def changes_dtype(x, steps):
    y = np.zeros(x.shape, dtype=np.int64)
    for _ in range(steps):
        y = y + x
    return y


def adds_the_step(counts, steps):
    for k in range(steps):
        counts = counts + k
    return counts


REFUSED = [
    (adds_the_step, (np.zeros(50, dtype=np.uint8), 300)),  # NumPy 2 raises OverflowError at k = 256
    (uses_the_last_item, (f64(4), f64(50))),  # the loop variable outlives the loop
    (keeps_a_temporary, (f64(50), 3)),  # so does the temporary
    (recentres, (f64(50), 3)),  # a reduction: elements depend on each other
    (smooths, (f64(50), 3)),  # shifted slices: the shape shrinks each step
    (changes_dtype, (f64(50), 3)),  # int64 + float64 -> float64: not the same array kind
]


@pytest.mark.parametrize("kernel,args", REFUSED, ids=[k.__name__ for k, _ in REFUSED])
def test_loops_outside_the_rules_are_not_jammed(kernel, args):
    original, rewritten, result = rewrite(source(kernel), *args)
    assert not any(JAMMED in n for n in result.notes)
    expected, actual = outcome(original, args), outcome(rewritten, args)
    assert_same(expected[0], actual[0])
    assert_same(expected[1], actual[1])


# -- real Numba -----------------------------------------------------------------------------------

NUMBA_CASES = [
    (horner, [(f64(13), f64(100_003)), (np.zeros(0), f64(10)), (f64(2), np.zeros(0))]),
    (damped_oscillators, [(f64(1000), f64(1000), 2.0, 0.1, 0.01, 100), (f64(7), f64(1), 1.0, 0.0, 0.1, 3)]),
    (cooling_grid, [(f64(30, 500), f64(30, 500), 0.3, 0.1, 9), (f64(3, 5), f64(1, 5), 0.3, 0.1, 4)]),
    (lcg_streams, [(np.arange(5000, dtype=np.uint32) * np.uint32(7919), 20)]),
]


def fused_variant(kernel, args, tmp_path):
    """The ``numba-fused`` candidate for ``kernel`` at ``args``' signature, built and loaded."""
    backend = get_backend("numba")
    proposals = {p.name: p for p in backend.propose(extract(kernel), signature_of(args), hotpath.Config(), tmp_path)}
    fused = proposals["numba-fused"]
    assert isinstance(fused, Candidate), fused
    assert any(JAMMED in note for note in fused.notes), fused.notes
    return fused, backend.load(fused)


@pytest.mark.slow
@pytest.mark.parametrize("kernel,inputs", NUMBA_CASES, ids=[k.__name__ for k, _ in NUMBA_CASES])
def test_numba_fused_variant_of_a_jammed_loop_returns_exactly_the_original(kernel, inputs, tmp_path):
    _, variant = fused_variant(kernel, inputs[0], tmp_path)
    for args in inputs:
        with np.errstate(all="ignore"):
            expected = kernel(*args)
        assert identical(variant(*args), expected), (kernel.__name__, args)


@pytest.mark.slow
def test_vector_math_inside_the_jammed_pass(tmp_path):
    """``exp`` in the step vectorizes (``vmath``, within an ulp of NumPy's each step, so within
    the verifier's tolerance after 40 steps, not bit for bit); special values stay NumPy's."""
    args = (np.abs(f64(2000)), 0.8, 2.0, 0.05, 40)
    fused, variant = fused_variant(logistic_growth, args, tmp_path)
    assert "vmath" in fused.source
    np.testing.assert_allclose(variant(*args), logistic_growth(*args), rtol=1e-12)
    special = (np.array([0.0, -1.0, np.inf, np.nan, 1e308]), 0.8, 2.0, 0.05, 3)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(variant(*special), logistic_growth(*special))
