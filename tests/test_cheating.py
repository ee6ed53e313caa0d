"""Candidates that cheat (tests/cheating_backends.py) end failed or incorrect, each with a reason
that names its trick, while an honest candidate tried beside them still wins.

Every kernel is tuned once with the honest candidate and all the cheats written for it, through
the real sandbox: one reference run and one worker per candidate, as a user's tuning would.
"""

import os

import numpy as np
import pytest

import hotpath
from tests import cheating_backends as cheats
from tests import sample_kernels as k

A = np.random.default_rng(11).random(5_000)  # positive: the view trick's captured input


def _tuned(fast, fn, args, plugins):
    config = fast.replace(backends=tuple(p.name for p in (cheats.HONEST, *plugins)))
    return hotpath.tune(fn, *args, config=config)


@pytest.fixture(scope="module")
def sum_squares_run(fast):
    plugins = [p for p in cheats.CHEATS if "sum_squares" in p._bodies]
    return _tuned(fast, k.sum_squares, (A,), plugins)


@pytest.fixture(scope="module")
def double_into_run(fast):
    return _tuned(fast, k.double_into, (A, np.zeros_like(A)), [cheats.RETURN_BEFORE_DONE])


@pytest.fixture(scope="module")
def positive_part_run(fast):
    return _tuned(fast, cheats.positive_part, (A,), [cheats.VIEW_OF_INPUT])


def _trial(result, plugin):
    tried = [t for t in result.trials if t.backend == plugin.name]
    assert tried, result.summary()
    assert all(t.status in ("failed", "incorrect") for t in tried), result.summary()
    return tried[0]


#: (cheat, the status it must end with, words its reason must hold)
SUM_SQUARES_CHEATS = [
    (cheats.READ_EXPECTED_FROM_GC, "incorrect", "on input 'captured': return value: float 0.0 instead of"),
    (cheats.MUTATE_INPUTS, "incorrect", "argument 0 after the call"),
    (cheats.PATCH_CLOCK, "failed", "patched time.perf_counter"),
    (cheats.PATCH_STATISTICS, "failed", "numpy.median"),
    (cheats.SKIP_WORK_WHEN_TIMED, "incorrect", "on a timed input"),
    (cheats.CACHE_BY_IDENTITY, "incorrect", "cached by input identity or content"),
    (cheats.CACHE_BY_CONTENT, "incorrect", "cached by input identity or content"),
    (cheats.NAN_WILDCARD, "incorrect", "nan instead of"),
    (cheats.SET_TRACE, "failed", "sys.settrace"),
    (cheats.SIGNAL_HANDLER, "failed", "SIGUSR1"),
    (cheats.NUMPY_ERROR_STATE, "failed", "NumPy's error state"),
    (cheats.ROUNDING_MODE, "failed", "rounding mode"),
    (cheats.EXEC_IN_PARENT, "failed", "not plain data"),
]


@pytest.mark.slow
@pytest.mark.parametrize("plugin, status, words", SUM_SQUARES_CHEATS, ids=[c[0]._label for c in SUM_SQUARES_CHEATS])
def test_cheat_fails_with_a_reason_naming_its_trick(sum_squares_run, plugin, status, words):
    trial = _trial(sum_squares_run, plugin)
    assert trial.status == status and words in trial.reason, trial.reason


@pytest.mark.slow
def test_honest_candidate_still_wins_beside_the_cheats(sum_squares_run):
    assert sum_squares_run.winner is not None and sum_squares_run.winner.backend == cheats.HONEST.name, \
        sum_squares_run.summary()
    assert sum_squares_run.optimized(A) == pytest.approx(k.sum_squares(A), rel=1e-9)


@pytest.mark.slow
def test_nothing_the_worker_sent_ran_in_this_process(sum_squares_run):
    assert "HOTPATH_TEST_PWNED" not in os.environ


@pytest.mark.slow
def test_a_thread_still_writing_after_return_fails(double_into_run):
    trial = _trial(double_into_run, cheats.RETURN_BEFORE_DONE)
    assert trial.status == "failed" and "thread" in trial.reason and "work after return" in trial.reason, trial.reason
    assert double_into_run.winner is not None and double_into_run.winner.backend == cheats.HONEST.name, \
        double_into_run.summary()


@pytest.mark.slow
def test_a_view_of_the_input_where_the_original_returns_a_new_array_is_incorrect(positive_part_run):
    trial = _trial(positive_part_run, cheats.VIEW_OF_INPUT)
    assert trial.status == "incorrect" and "a view of argument 0" in trial.reason, trial.reason
    assert positive_part_run.winner is not None and positive_part_run.winner.backend == cheats.HONEST.name, \
        positive_part_run.summary()
