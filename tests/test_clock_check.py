"""The parent's check of the worker's clock (``hotpath.runner.verdict``) compares like with like.

The parent sees the timing take from its reply ``time`` to the worker's ``("timed", seconds)``
message; the worker's clock, its own run of the timing. What the worker sends after (the checked
timed calls' outcomes: copies of the inputs and results, on a bench-size input seconds to pickle
and pass through the pipe) is in neither span. Before, the parent's span ended with those
outcomes, and every honest candidate on a large input was failed as having tampered with its clock.
"""

import math
import time
from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.kernels.artifacts import load_module, pickle_namespace, write_module
from hotpath.kernels.base import Availability, Candidate
from hotpath.runner.verdict import STOP, Verdict, clock_agrees

#: How long pickling one ``Sent`` takes: far longer than the timing itself (a zero budget).
SEND_S = 0.5


class Sent:
    """A result that is slow to send: pickling it takes ``SEND_S``, as pickling and piping
    hundreds of megabytes would, while copying it in the worker (``__deepcopy__``) is instant."""

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return type(other) is Sent and other.value == self.value

    __hash__ = None

    def __deepcopy__(self, memo):
        return Sent(self.value)

    def __reduce__(self):
        time.sleep(SEND_S)
        return Sent, (self.value,)


def ends(a):
    """Little work per call, whatever the input's size."""
    return Sent(float(a[0]) + float(a[-1]))


class _SameBody:
    """A plug-in backend whose honest candidate for ``ends`` is ``ends`` itself."""

    name = "tests.test_clock_check:SAME_BODY"

    def availability(self):
        return Availability(True)

    def propose(self, fs, signature, config, kernels_dir: Path):
        source = ("from tests.test_clock_check import Sent\n\n\n"
                  "def ends(a):\n    return Sent(float(a[0]) + float(a[-1]))\n")
        path = write_module(kernels_dir, fs.qualname, "same-body", source, pickle_namespace({}))
        return [Candidate(self.name, "same-body", (), source, fs.name, path, pickle_namespace({}))]

    def refine(self, fs, candidate, failure, kernels_dir):
        return None

    def load(self, candidate):
        return getattr(load_module(candidate.path, candidate.namespace), candidate.entry)

    def prepare(self, variant, args):
        pass

    def binaries(self, candidate):
        return ()

    def invocation_errors(self):
        return ()


SAME_BODY = _SameBody()


@pytest.mark.slow
def test_an_honest_candidate_whose_outcomes_are_slow_to_send_is_timed(fast):
    # Each checked timed call's outcome takes SEND_S to pickle, after a timing of a few
    # milliseconds: the parent's old span (to the outcomes' arrival) was over twice the
    # worker's, and the candidate failed as "the clock was tampered with".
    config = fast.replace(backends=(SAME_BODY.name,), timing_budget_s=0.0, edge_cases=False)
    a = np.arange(1_000, dtype=np.float64)
    result = hotpath.tune(ends, a, config=config)
    (trial,) = result.trials
    assert trial.status != "failed" and "tampered" not in trial.reason, result.summary()
    assert trial.speedup is not None, result.summary()


def _asked_to_time(seconds_ago: float) -> Verdict:
    verdict = Verdict(None, None)  # the clock check reads neither the task nor the check
    verdict.timing_began = time.monotonic() - seconds_ago
    return verdict


def test_a_worker_clock_far_behind_the_parents_is_tampered_with():
    verdict = _asked_to_time(100.0)
    assert verdict.hear(("timed", 1.0)) == STOP
    assert verdict.report.failure.kind == "conduct" and "tampered" in verdict.report.failure.message


def test_a_worker_clock_that_stood_still_is_tampered_with():
    verdict = _asked_to_time(10.0)
    assert verdict.hear(("timed", 0.0)) == STOP and "tampered" in verdict.report.failure.message


def test_a_worker_clock_that_says_nan_is_not_believed():
    assert not clock_agrees(math.nan, 1.0)
    verdict = _asked_to_time(10.0)
    assert verdict.hear(("timed", math.nan)) == STOP and "tampered" in verdict.report.failure.message


def test_a_timing_sent_without_the_clocks_span_is_refused():
    verdict = _asked_to_time(0.0)
    assert verdict.hear(("timing", None, ())) == STOP
    assert "without its clock's span" in verdict.report.failure.message


def test_the_span_is_heard_once():
    verdict = _asked_to_time(0.0)
    assert verdict.hear(("timed", 1.0)) is None and verdict.report is None
    assert verdict.hear(("timed", 1.0)) == STOP and "without being asked" in verdict.report.failure.message


def test_the_slack_allows_half_the_parents_span_and_a_little_more():
    assert clock_agrees(5.0, 10.0) and clock_agrees(0.1, 0.5)
    assert not clock_agrees(4.0, 10.0) and not clock_agrees(0.0, 1.0)
