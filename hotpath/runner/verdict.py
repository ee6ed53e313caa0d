"""Judging a candidate's worker from outside it: the parent's half of a trial.

The candidate's worker never holds what the original computed: it sends, input by input, what
the candidate did (``hotpath.runner.outcome.Outcome``), and a ``Verdict`` here compares each
with the original's and decides whether the trial goes on, ends, or moves on to timing. So a
candidate cannot read the expected answers from memory, and whatever it does to the worker's
memory cannot change the comparison. The rules are the ones the worker used to apply itself:
a mismatch no guard can route away ends the trial; probes, tiny inputs and arrays that do not
broadcast are all run so that a guard can be built; a result that differs only in its scalar
type is cast from then on.

Timing is judged here too: the outputs of a few timed calls, on inputs the original's reference
run computed and the candidate never saw verified, must agree (else it answered from a cache or
skipped work when timed), and the worker's clock must agree with the parent's on how long the
timing took. The two spans are of the same work: the parent's runs from its reply ``TIME`` to
the worker's small ``("timed", seconds)`` message, sent the moment the timing ends and before
the checked outcomes, whose pickling and transfer (copies of the inputs: on a large input,
seconds) the worker's clock does not see.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hotpath.kernels.base import Failure
from hotpath.runner import adapters
from hotpath.runner.compare import Tolerance, difference, outcome_difference
from hotpath.runner.inputs import SIZE_CASES, Probe
from hotpath.runner.outcome import Outcome
from hotpath.runner.probes import BROADCAST_CASES
from hotpath.runner.tasks import CandidateReport, CandidateTask, Check

#: Replies to a worker waiting after the last input.
TIME, STOP = "time", "stop"
#: The timing may take this much longer seen from the parent than by the worker's own clock,
#: as a fraction and in seconds; past it, the worker's clock ran slow. The parent's span holds
#: two one-line messages besides the worker's, and the waits of both processes for a core (on a
#: loaded machine) and of the parent's thread for the GIL (tuning beside the user's program).
CLOCK_SLACK = (0.5, 0.25)


@dataclass
class Verdict:
    """The state of one candidate's trial, fed the worker's messages in order (``hear``)."""

    task: CandidateTask
    check: Check
    #: The report, once the trial is decided; the worker is then stopped.
    report: CandidateReport | None = None
    compile_s: float | None = None
    checked: int = 0
    first: Failure | None = None
    cast: str | None = None  # the return cast that made an input agree, applied from then on
    typed: Failure | None = None  # the input that showed it
    failed: list[Probe] = field(default_factory=list)
    passed: list[Probe] = field(default_factory=list)
    tiny: list[int] = field(default_factory=list)  # the sizes of the SIZE_CASES it disagreed on
    misshapen: bool = False  # it disagreed on arrays resized so that they do not broadcast
    timing_began: float | None = None
    clock_checked: bool = False  # the worker's clock agreed with the parent's on the timing's span

    def hear(self, message: tuple[Any, ...]) -> str | None:
        """Take one message from the worker; the reply to send it, if it waits for one."""
        kind = message[0]
        if kind == "compiled":
            self.compile_s = float(message[1])
        elif kind == "compile-error":
            self.report = CandidateReport(None, Failure("compile", str(message[1])), 0, None)
        elif kind == "case":
            self._case(str(message[1]), message[2])
        elif kind == "conduct":
            self._end(Failure("conduct", f"misbehaved on input {message[1]!r}: {message[2]}", str(message[1])))
        elif kind == "verified":
            return self._verified()
        elif kind == "timed":
            self._timed(float(message[1]))
        elif kind == "timing":
            self._timing(message[1], message[2])
        else:
            self._end(Failure("error", f"the worker sent an unknown message {kind!r}"))
        return STOP if self.report is not None else None

    def _end(self, failure: Failure | None, timing: Any = None) -> None:
        self.report = CandidateReport(self.compile_s, failure, self.checked, timing)

    def _case(self, name: str, actual: Outcome) -> None:
        case = next((c for c in self.task.cases if c.name == name), None)
        expected = self.check.expected.get(name)
        if case is None or expected is None or not isinstance(actual, Outcome):
            self._end(Failure("error", f"the worker reported an input it was not given: {name!r}", name))
            return
        tolerance = self.check.tolerance
        found = outcome_difference(expected, cast_outcome(actual, self.cast), tolerance)
        if found and self.cast is None:
            failure = mismatch(name, expected, actual, found, tolerance)
            if failure.return_dtypes is not None:
                # Only the scalar type differed: go on as if cast, so that one refinement can
                # carry the cast and any guard the remaining inputs call for.
                self.typed, self.cast, found = failure, failure.return_dtypes, None
        if not found:
            self.checked += 1
            if case.probe is not None:
                self.passed.append(case.probe)
            return
        actual = cast_outcome(actual, self.cast)
        failure = mismatch(name, expected, actual, found, tolerance)
        tiny_and_benign = name in SIZE_CASES and benign(expected, actual, tolerance)
        misshapen = name.startswith(BROADCAST_CASES)
        if case.probe is None and not tiny_and_benign and not misshapen:
            # No guard can route this input away (an aliasing pattern, a size that matters):
            # the failure stands, for the backend's own refinements to act on.
            self._end(replace(failure, return_dtypes=self.cast))
            return
        # A probe or a tiny input: the verification goes on, so that a guard can be built from
        # every such input it disagreed on and every probe it agreed on.
        self.first = self.first or failure
        if case.probe is not None:
            self.failed.append(case.probe)
        elif misshapen:
            self.misshapen = True
        else:
            self.tiny.append(SIZE_CASES[name])

    def _verified(self) -> str:
        seen = {c.name for c in self.task.cases}
        first = self.first or self.typed
        if first is not None:
            captured = self.task.cases[0]
            leaves = (adapters.value_probe(captured.args, path) for path in sorted({p.path for p in self.failed}))
            self._end(replace(first, return_dtypes=self.cast, failed_probes=tuple(self.failed),
                              passed_probes=tuple(self.passed),
                              captured_probes=tuple(p for p in leaves if p is not None),
                              below_size=max(self.tiny) + 1 if self.tiny else None,
                              equal_lengths=adapters.equal_length_groups(captured.args) if self.misshapen else ()))
        elif self.checked + len(self.failed) + len(self.tiny) < len(seen):
            self._end(Failure("error", f"the worker skipped inputs: {self.checked} of {len(seen)} reported"))
        elif not self.task.time_it:
            self._end(None)
        else:
            self.timing_began = time.monotonic()
            return TIME
        return STOP

    def _timed(self, wall_s: float) -> None:
        if self.timing_began is None or self.clock_checked:
            self._end(Failure("error", "the worker timed the candidate without being asked to"))
            return
        outside = time.monotonic() - self.timing_began
        if not clock_agrees(wall_s, outside):
            self._end(Failure("conduct", f"its timing took {outside:.3f} s seen from outside but {wall_s:.3f} s by "
                                         "the worker's clock: the clock was tampered with", "timing"))
            return
        self.clock_checked = True

    def _timing(self, timing: Any, checked: Any) -> None:
        if self.timing_began is None:
            self._end(Failure("error", "the worker timed the candidate without being asked to"))
            return
        if not self.clock_checked:
            self._end(Failure("conduct", "the worker sent its timing without its clock's span of it", "timing"))
            return
        expected = dict(self.check.timed)
        if len(checked) < len(expected):
            self._end(Failure("conduct", "the worker skipped the checked timed calls", "timing"))
            return
        for factor, actual in checked:
            want = expected.get(factor)
            if want is None:
                continue
            found = outcome_difference(want, cast_outcome(actual, self.cast), self.check.tolerance)
            if found:
                self._end(Failure("mismatch", f"on a timed input (the captured arguments' floats times {factor!r}): "
                                              f"{found}; a timed call answered differently from the verified ones "
                                              "(an answer cached by input identity or content, or work skipped "
                                              "when timed)", "timing"))
                return
        self._end(None, timing)


def clock_agrees(inside_s: float, outside_s: float) -> bool:
    """Whether a worker whose clock says the timing took ``inside_s`` may be believed when the
    parent saw it take ``outside_s`` (``CLOCK_SLACK``). A NaN is not believed."""
    slack, extra = CLOCK_SLACK
    return inside_s >= (1 - slack) * outside_s - extra


def mismatch(case: str, expected: Outcome, actual: Outcome, found: str, tolerance: Tolerance) -> Failure:
    """The failure for one input the candidate disagreed on, with the cast that would fix it if
    only the scalar type of the result differed."""
    cast = None
    if not expected.raised and not actual.raised and found.startswith("return value"):
        wanted = adapters.return_dtypes(expected.returned)
        recast = replace(actual, returned=adapters.cast_value(actual.returned, wanted)) if wanted else None
        if recast is not None and outcome_difference(expected, recast, tolerance) is None:
            cast = wanted
    return Failure("mismatch", f"on input {case!r}: {found}", case, expected.raised_name, actual.raised_name, cast)


def benign(expected: Outcome, actual: Outcome, tolerance: Tolerance) -> bool:
    """Whether a difference on a tiny input is one a size guard may route away: an exception
    one side raised, or the same scalar value in a NumPy and a Python type. A wrong value is not:
    the bug behind it may show at any size."""
    if expected.raised or actual.raised:
        return True

    def plain(value: Any) -> Any:  # NumPy scalars as Python ones, in tuples and lists too
        if isinstance(value, np.generic):
            return value.item()
        if type(value) in (tuple, list):
            return type(value)(map(plain, value))
        return value

    return difference(plain(expected.returned), plain(actual.returned), tolerance) is None


def cast_outcome(outcome: Outcome, dtypes: str | None) -> Outcome:
    """``outcome`` with its return value cast to ``dtypes`` (an adapter's cast), if any."""
    if dtypes is None or outcome.raised:
        return outcome
    try:
        returned = adapters.cast_value(outcome.returned, dtypes)
    except Exception as exc:  # the installed cast raises it in the caller: an outcome, not a crash here
        kind = type(exc)
        return replace(outcome, returned=None, raised=f"{kind.__module__}.{kind.__qualname__}", message=str(exc))
    return replace(outcome, returned=returned)
