"""The trial loop: each candidate checked and timed in its own sandbox, then one verdict.

Verification (does it agree with the reference outcomes on every case?) and timing (is it
significantly faster?) are separate questions answered in that order; only a candidate that
agreed everywhere is timed, and only a timed candidate whose speedup interval clears the bar
can win.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hotpath.config import Config
from hotpath.kernels import Candidate, Failure, Skipped, get_backend
from hotpath.rewriter.source import FunctionSource
from hotpath.runner import adapters, sandbox
from hotpath.runner.compare import Tolerance
from hotpath.runner.inputs import InputCase
from hotpath.runner.tasks import CandidateReport, CandidateTask, ReferenceReport
from hotpath.runner.timing import MIN_PAIRS, Timing

log = logging.getLogger(__name__)

WON, CORRECT, INCORRECT, FAILED, SKIPPED = "won", "correct", "incorrect", "failed", "skipped"


@dataclass(frozen=True)
class Trial:
    """One candidate's fate: whether it agreed with the original, and how fast it was."""

    backend: str
    name: str
    status: str  # "won", "correct", "incorrect", "failed" or "skipped"
    reason: str
    options: tuple[tuple[str, Any], ...] = ()
    candidate: Candidate | None = None
    timing: Timing | None = None
    compile_s: float | None = None
    cases_checked: int = 0
    failure: Failure | None = field(default=None, repr=False)

    @property
    def correct(self) -> bool | None:
        """True if it agreed on every input, False if it disagreed, None if never compared."""
        if self.status in (WON, CORRECT):
            return True
        return False if self.status == INCORRECT else None

    @property
    def speedup(self) -> float | None:
        return None if self.timing is None else self.timing.speedup


Observer = Callable[[str, "Trial | Candidate"], None]


def _timeout(config: Config, reference: ReferenceReport) -> float:
    checking = sum(o.elapsed_s for o in reference.outcomes.values())
    timing = config.timing_budget_s + 2 * MIN_PAIRS * reference.captured_s
    return config.compile_timeout_s + 4 * checking + 2 * timing + 10.0


def _run_one(original: Callable[..., Any], candidate: Candidate, cases: Sequence[InputCase],
             reference: ReferenceReport, config: Config, user_modules: tuple[str, ...]) -> Trial:
    task = CandidateTask(
        original=original,
        candidate=candidate,
        cases=tuple(cases),
        expected=reference.outcomes,
        tolerance=Tolerance(config.rtol, config.atol),
        mutates=reference.mutates,
        timing_budget_s=config.timing_budget_s,
    )
    report = sandbox.run(task, _timeout(config, reference), config.memory_limit_mb, user_modules)
    common = dict(backend=candidate.backend, name=candidate.name, options=candidate.options, candidate=candidate)
    if isinstance(report, sandbox.SandboxFailure):
        where = f" on input {report.last_case!r}" if report.last_case else ""
        message = report.message
        if report.kind == "error":  # a traceback: its last line says what happened
            message = message.strip().splitlines()[-1] + "\n" + message
        expected = reference.outcomes.get(report.last_case or "")
        failure = Failure(report.kind, f"{report.kind}{where}: {message}", report.last_case,
                          expected.raised_name if expected is not None else None)
        return Trial(status=FAILED, reason=failure.message, failure=failure, **common)  # type: ignore[arg-type]
    assert isinstance(report, CandidateReport)
    if report.failure is not None:
        status = INCORRECT if report.failure.kind == "mismatch" else FAILED
        return Trial(status=status, reason=report.failure.message, compile_s=report.compile_s,
                     cases_checked=report.cases_checked, failure=report.failure, **common)  # type: ignore[arg-type]
    return Trial(status=CORRECT, reason=f"agreed on all {report.cases_checked} inputs",
                 timing=report.timing, compile_s=report.compile_s, cases_checked=report.cases_checked,
                 **common)  # type: ignore[arg-type]


def _refinements(fs: FunctionSource, candidate: Candidate, failure: Failure, kernels_dir: Path) -> list[Candidate]:
    """Stricter candidates worth a trial after ``failure``: the backend's own, or an adapter."""
    refined = get_backend(candidate.backend).refine(fs, candidate, failure, kernels_dir)
    if refined is not None:
        return [replace(refined, adapters=candidate.adapters)]
    adapted = adapters.refine(candidate, failure)
    return [adapted] if adapted is not None else []


def speculate(original: Callable[..., Any], fs: FunctionSource, proposals: Sequence[Candidate | Skipped],
              cases: Sequence[InputCase], reference: ReferenceReport, config: Config, kernels_dir: Path,
              user_modules: tuple[str, ...] = (), observer: Observer | None = None) -> list[Trial]:
    """Try every proposal (and the refinements failures suggest); the winner is marked ``won``."""
    queue = list(proposals)
    trials: list[Trial] = []
    kept = [c for c in cases if c.name in reference.outcomes]
    while queue:
        proposal = queue.pop(0)
        if isinstance(proposal, Skipped):
            trial = Trial(proposal.backend, proposal.name, SKIPPED, proposal.reason)
        else:
            if observer:
                observer("start", proposal)
            trial = _run_one(original, proposal, kept, reference, config, user_modules)
            log.info("%s %s: %s (%s)", fs.qualname, trial.name, trial.status, trial.reason.splitlines()[0])
            if trial.failure is not None:
                queue[:0] = _refinements(fs, proposal, trial.failure, kernels_dir)
        trials.append(trial)
        if observer:
            observer("done", trial)
    return _decide(trials, config)


def _decide(trials: list[Trial], config: Config) -> list[Trial]:
    significant = [t for t in trials if t.status == CORRECT and t.timing and t.timing.ci_low > config.min_speedup]
    best = max(significant, key=lambda t: t.timing.speedup, default=None)  # type: ignore[union-attr]
    decided = []
    for trial in trials:
        if trial is best:
            trial = _with(trial, WON, f"fastest correct variant: {trial.timing}")
        elif trial.status == CORRECT and trial.timing is not None:
            if trial in significant:
                why = f"correct and faster ({trial.timing}), but slower than {best.name}"  # type: ignore[union-attr]
            else:
                why = (f"correct, but not significantly faster: {trial.timing} at "
                       f"{trial.timing.confidence:.0%} confidence needs a lower bound above {config.min_speedup:g}")
            trial = _with(trial, CORRECT, why)
        decided.append(trial)
    return decided


def _with(trial: Trial, status: str, reason: str) -> Trial:
    return replace(trial, status=status, reason=reason)
