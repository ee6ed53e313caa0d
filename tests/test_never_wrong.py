"""Functions whose naive compiled version differs from Python: nothing wrong is ever installed,
and every call returns exactly what the original returns."""

import numpy as np
import pytest

import hotpath
from tests import sample_kernels as k
from tests.checks import agrees


def _calls_agree(result, original, inputs):
    for args in inputs:
        got = result.optimized(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        want = original(*args)
        assert agrees(got, want)


def test_python_int_overflow_is_never_installed(fast):
    a = np.arange(1, 3000, dtype=np.int64)
    result = hotpath.tune(k.polynomial_hash, a, config=fast)
    assert result.winner is None
    numba_trial = next(t for t in result.trials if t.name == "numba")
    # Its Python int grows past 2**63: no int64 candidate is tried (rewriter/integers.py).
    assert numba_trial.status == "skipped" and "grow past 64 bits" in numba_trial.reason
    _calls_agree(result, k.polynomial_hash, [(a,), (a[:10],), (a[:0],)])


def test_index_error_on_empty_input_needs_bounds_checks(fast):
    a = np.random.default_rng(4).random(100_000)
    result = hotpath.tune(k.first_plus_total, a, config=fast)
    plain = next(t for t in result.trials if t.name == "numba")
    assert plain.status == "incorrect" and "IndexError" in plain.reason and "'empty'" in plain.reason
    # The refinement with bounds checks raises IndexError like Python does, so it may win.
    assert result.winner is not None and result.winner.options_dict.get("boundscheck") is True
    _calls_agree(result, k.first_plus_total, [(a,), (a[:1].copy(),)])
    with pytest.raises(IndexError):
        result.optimized(a[:0].copy())


def spread_about_first(x):
    """``x[0]`` raises IndexError on an empty array; unchecked compiled code reads past it (a read:
    no write past the end that could crash the worker instead)."""
    first = x[0]
    return np.sum((x - first) * (x - first)) / x.shape[0]


def test_the_bounds_checks_one_numba_variant_needed_are_built_into_the_next_ones(fast):
    u = np.random.default_rng(6).random(200_000)
    result = hotpath.tune(spread_about_first, u, config=fast)
    at, first = next((i, t) for i, t in enumerate(result.trials) if "IndexError" in t.reason)
    assert first.status == "incorrect" and "+" not in first.name, result.summary()
    later = [t for t in result.trials[at + 1:] if t.status != "skipped" and t.name.split("+")[0] != first.name]
    assert later, result.summary()
    for trial in later:  # built with bounds checks up front: none failed on the empty input first
        assert "+boundscheck" in trial.name and trial.status != "incorrect", result.summary()
    with pytest.raises(IndexError):
        result.optimized(u[:0].copy())
    _calls_agree(result, spread_about_first, [(u,), (u[:1].copy(),), (u[:2].copy(),)])


def test_raised_exceptions_must_match(fast):
    a = np.random.default_rng(5).random(100_000)
    result = hotpath.tune(k.checked_mean, a, config=fast)
    assert result.winner is not None, result.summary()
    with pytest.raises(ValueError):
        result.optimized(a[:0].copy())
    _calls_agree(result, k.checked_mean, [(a,)])


def test_original_raising_on_the_captured_call_installs_nothing(fast):
    empty = np.zeros(0)
    result = hotpath.tune(k.checked_mean, empty, config=fast)
    assert result.winner is None and "raises ValueError" in result.reason


def test_nondeterministic_original_is_not_tuned(fast):
    result = hotpath.tune(k.noisy, np.ones(1000), config=fast)
    # Refused before any run: the source shows the draw (what static analysis misses, the
    # reference run's two identical calls catch: "different results on identical inputs").
    assert result.winner is None and "draws random numbers" in result.reason


def test_wrong_on_one_input_is_rejected(fast):
    a = np.random.default_rng(6).random(50_000)
    config = fast.replace(backends=("tests.fake_backends:WRONG_SOMETIMES",))
    result = hotpath.tune(k.sum_squares, a, config=config)
    (trial,) = result.trials
    assert trial.status == "incorrect" and "'length-1'" in trial.reason
    assert result.winner is None
