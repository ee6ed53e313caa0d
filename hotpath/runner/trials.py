"""The trial loop: each candidate checked and timed in its own sandbox, then one verdict.

Trials go to an executor (``hotpath.runner.executors``): by default one sandbox at a time on
this machine, or several at once on a Dask cluster. Results are taken as they finish, but the
list of trials is always in proposal order (a refinement right after the trial that asked for
it), so the outcome does not depend on which worker finished first.

Verification (does it agree with the reference outcomes on every case?) and timing (is it
significantly faster?) are separate questions answered in that order; only a candidate that
agreed everywhere is timed, and only a timed candidate whose speedup interval clears the bar
can win.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from hotpath.config import Config
from hotpath.kernels import Candidate, Failure, Skipped, get_backend
from hotpath.kernels.base import expect_schema, pairs_from_json, pairs_to_json
from hotpath.rewriter.source import FunctionSource
from hotpath.runner import adapters, sandbox
from hotpath.runner.compare import Tolerance
from hotpath.runner.executors import Executor, JobResult, LocalExecutor, TrialJob
from hotpath.runner.inputs import InputCase, Probe
from hotpath.runner.tasks import CandidateReport, CandidateTask, Check, ReferenceReport
from hotpath.runner.timing import MIN_PAIRS, Timing
from hotpath.runner.worker import CASE_LIMIT_FACTOR, CASE_LIMIT_S

log = logging.getLogger(__name__)

#: The ``schema`` key of ``Trial.to_json``.
TRIAL_SCHEMA = "hotpath.trial/1"


class TrialStatus(str, Enum):
    """A candidate's fate. A ``str``: equal to, hashed and formatted like its value ("won" ...),
    so stored rows, JSON and reports read it as the plain string they always held."""

    WON = "won"  # correct, significantly faster, and the fastest: the one to install
    CORRECT = "correct"  # agreed with the original on every input
    INCORRECT = "incorrect"  # disagreed on some input
    FAILED = "failed"  # did not build, crashed, hung or ran out of memory
    SKIPPED = "skipped"  # never ran: barred, unavailable backend, not worth trying

    __str__ = str.__str__
    __format__ = str.__format__  # type: ignore[assignment]  # Enum declares its own signature
    __hash__ = str.__hash__


WON, CORRECT, INCORRECT, FAILED, SKIPPED = (TrialStatus.WON, TrialStatus.CORRECT, TrialStatus.INCORRECT,
                                            TrialStatus.FAILED, TrialStatus.SKIPPED)
#: Statuses of candidates that agreed with the original.
OK_STATUSES = (WON, CORRECT)
#: Statuses of candidates that ran (skipped ones never did).
TRIED_STATUSES = (WON, CORRECT, INCORRECT, FAILED)


@dataclass(frozen=True)
class Trial:
    """One candidate's fate: whether it agreed with the original, and how fast it was."""

    backend: str
    name: str
    status: TrialStatus
    reason: str
    options: tuple[tuple[str, Any], ...] = ()
    candidate: Candidate | None = None
    timing: Timing | None = None
    compile_s: float | None = None
    cases_checked: int = 0
    failure: Failure | None = field(default=None, repr=False)
    ran_on: str = "local"  # where it was verified and timed (a cluster worker's address, say)

    @property
    def correct(self) -> bool | None:
        """True if it agreed on every input, False if it disagreed, None if never compared."""
        if self.status in (WON, CORRECT):
            return True
        return False if self.status == INCORRECT else None

    @property
    def speedup(self) -> float | None:
        return None if self.timing is None else self.timing.speedup

    def to_json(self, candidate: bool = True) -> dict[str, Any]:
        """Every field as plain JSON, under ``TRIAL_SCHEMA``; ``Trial.from_json`` gives back an
        equal trial. The candidate, failure and timing are nested records with their own schema.

        ``candidate=False`` leaves the candidate out (``null``): its generated source and pickled
        namespace are most of the size, and a row that names the variant (``backend``, ``name``,
        ``options``) needs neither. Such a row reads back with ``candidate=None``.
        """
        return {"schema": TRIAL_SCHEMA, "backend": self.backend, "name": self.name,
                "status": TrialStatus(self.status).value, "reason": self.reason,
                "options": pairs_to_json(self.options),
                "candidate": self.candidate.to_json() if candidate and self.candidate is not None else None,
                "timing": None if self.timing is None else self.timing.to_json(),
                "compile_s": self.compile_s, "cases_checked": self.cases_checked,
                "failure": None if self.failure is None else self.failure.to_json(), "ran_on": self.ran_on}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trial:
        """The trial ``to_json`` wrote (a ``ValueError`` for another schema version)."""
        expect_schema(data, TRIAL_SCHEMA)
        candidate, timing, failure = data.get("candidate"), data.get("timing"), data.get("failure")
        compile_s = data.get("compile_s")
        return cls(str(data["backend"]), str(data["name"]), TrialStatus(data["status"]), str(data["reason"]),
                   pairs_from_json(data.get("options", ())),
                   None if candidate is None else Candidate.from_json(candidate),
                   None if timing is None else Timing.from_json(timing),
                   None if compile_s is None else float(compile_s), int(data.get("cases_checked", 0)),
                   None if failure is None else Failure.from_json(failure, Probe),
                   str(data.get("ran_on", "local")))


#: The likeliest winner (the first candidate started) may run this long whatever is left of the
#: budget: a budget smaller than one trial would otherwise leave every run with nothing tried.
FIRST_TRIAL_FLOOR_S = 30.0
#: A candidate is not started with less than this left of the budget: a fresh sandbox alone takes
#: a second to import NumPy, so it could only be stopped unfinished.
MIN_TRIAL_S = 2.0
#: Why a candidate never started: a prefix the model history reads as "the search stopped here".
NOT_TRIED = "not tried:"


@dataclass(frozen=True)
class Budget:
    """The wall-time budget of one tuning run (``Config.budget_s``), counted from its start.

    No candidate is started once it is spent, and each one started gets a deadline of what is
    left (the first candidate at least ``FIRST_TRIAL_FLOOR_S``), so one slow compile or one edge
    input cannot run past it.
    """

    total_s: float
    started: float  # on ``clock``
    clock: Callable[[], float] = field(default=time.perf_counter, compare=False, repr=False)

    @classmethod
    def of(cls, config: Config, started: float) -> Budget | None:
        """The budget ``config`` sets for a run that began at ``started`` (perf_counter); None: unlimited."""
        if config.budget_s is None or math.isinf(config.budget_s):
            return None
        return cls(config.budget_s, started)

    def spent_s(self) -> float:
        return self.clock() - self.started

    def left_s(self) -> float:
        return self.total_s - self.spent_s()

    def not_tried(self) -> str:
        """The reason of a candidate never started because the budget ran out."""
        # The cost model's stop rule (``hotpath.model.search``) says it in the same words.
        return f"{NOT_TRIED} the tuning budget of {self.total_s:g} s was spent ({self.spent_s():.1f} s)"

    def stopped(self, after_s: float, where: str | None) -> str:
        """The reason of a candidate stopped unfinished at the budget's deadline."""
        on = f" (on input {where!r})" if where else ""
        return (f"not finished: the tuning budget of {self.total_s:g} s ran out during its trial, "
                f"which was stopped after {after_s:.1f} s{on}; not counted against it")


Observer = Callable[[str, "Trial | Candidate"], None]
#: Asked before each next candidate: (trials done so far, the queue) -> why to stop, or None.
StopCheck = Callable[[Sequence[Trial], Sequence["Candidate | Skipped"]], "str | None"]


def _timeout(config: Config, reference: ReferenceReport) -> float:
    checking = sum(o.elapsed_s for o in reference.outcomes.values())
    timing = config.timing_budget_s + 2 * MIN_PAIRS * reference.captured_s
    return config.compile_timeout_s + 4 * checking + 2 * timing + 10.0


def _job(original: Callable[..., Any], candidate: Candidate, cases: Sequence[InputCase],
         reference: ReferenceReport, config: Config, user_modules: tuple[str, ...]) -> TrialJob:
    # The worker gets the inputs and how long each may take, never the original's outcomes:
    # those stay with the parent, which compares (``hotpath.runner.verdict``).
    limits = {c.name: CASE_LIMIT_S + CASE_LIMIT_FACTOR * reference.outcomes[c.name].elapsed_s
              for c in cases if c.name in reference.outcomes}
    task = CandidateTask(
        original=original,
        candidate=candidate,
        cases=tuple(cases),
        limits_s=limits,
        mutates=reference.mutates,
        timing_budget_s=config.timing_budget_s,
        timed_factors=tuple(f for f, _ in reference.timed),
    )
    check = Check(reference.outcomes, Tolerance(config.rtol, config.atol), reference.timed)
    # CUDA reserves virtual address space for the device's memory and the host's when it starts,
    # far beyond any address-space limit that still bounds a CPU candidate: under one, a GPU
    # candidate could not start at all. Its device memory is the device's own bound.
    memory_limit_mb = None if candidate.on_device else config.memory_limit_mb
    return TrialJob(task, _timeout(config, reference), memory_limit_mb, user_modules, check)


def _trial(candidate: Candidate, result: JobResult, reference: ReferenceReport) -> Trial:
    report = result.report
    common = dict(backend=candidate.backend, name=candidate.name, options=candidate.options, candidate=candidate,
                  ran_on=result.ran_on)
    if isinstance(report, sandbox.SandboxFailure):
        where = f" on input {report.last_case!r}" if report.last_case else ""
        message = report.message
        if report.kind == "error" and message.strip():  # a traceback: its last line says what happened
            message = message.strip().splitlines()[-1] + "\n" + message
        if result.notes:
            message += "\n" + "\n".join(result.notes)
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
    refined = _backend_refinement(fs, candidate, failure, kernels_dir)
    if refined is not None:
        return [refined]
    adapted = adapters.refine(candidate, failure)
    return [adapted] if adapted is not None else []


def _backend_refinement(fs: FunctionSource, candidate: Candidate, failure: Failure,
                        kernels_dir: Path) -> Candidate | None:
    """The backend's own stricter build for ``failure`` (bounds checks, NumPy's error model ...)."""
    refined = get_backend(candidate.backend).refine(fs, candidate, failure, kernels_dir)
    if refined is None:
        return None
    cast = (adapters.CAST_RETURN + failure.return_dtypes,) if failure.return_dtypes else ()
    return replace(refined, adapters=tuple(dict.fromkeys(candidate.adapters + cast)))


def _range_guards(candidate: Candidate) -> int:
    return sum(a.startswith(adapters.RANGE) for a in candidate.adapters)


def speculate(original: Callable[..., Any], fs: FunctionSource, proposals: Sequence[Candidate | Skipped],
              cases: Sequence[InputCase], reference: ReferenceReport, config: Config, kernels_dir: Path,
              user_modules: tuple[str, ...] = (), observer: Observer | None = None,
              executor: Executor | None = None, stop: StopCheck | None = None,
              barred: frozenset[str] = frozenset(), range_guards: bool = True,
              budget: Budget | None = None) -> list[Trial]:
    """Try every proposal (and the refinements failures suggest); the winner is marked ``won``.

    ``executor`` runs the trials (default: one at a time, here); up to its ``slots`` are in
    flight at once. Each trial's place in the result is fixed when it is queued: proposal ``i``
    is slot ``(i,)``, the ``j``-th refinement it causes is ``(i, j)``, and so on; the trials are
    returned sorted by slot, which for a one-slot executor is exactly the order they ran in.

    ``stop`` (the cost model's search, a time budget) is asked right before each candidate is
    submitted, with the trials done so far and the queue; once it gives a reason, every
    candidate not yet submitted becomes a ``skipped`` trial with that reason.

    ``barred`` names variants rolled back for this signature: a proposal or a refinement of
    that name is skipped, so a variant that misbehaved cannot come back through a refinement.
    ``range_guards=False`` refuses refinements behind a value-range guard, for functions whose
    wrong values come from combinations of arguments that no per-argument range can exclude.

    What a candidate's first refinement needed is given up front to the proposals of its
    backend started after it: the backend's own stricter build (``+boundscheck`` where the
    original raised IndexError, NumPy's error model) and the adapters, and its range guard to
    every backend's (``adapters.with_learned``): each would otherwise spend a trial finding them
    again.

    ``budget`` (``Budget.of(config, started)``) stops starting candidates once it is spent (each
    not started is ``skipped`` with the reason) and gives each started trial a deadline of what
    is left; a trial stopped at that deadline is ``skipped`` too, saying so, never ``failed``:
    the candidate did nothing wrong, and must not be barred or learnt as a failure. The best
    verified and timed candidate so far still wins.
    """
    runner = executor or LocalExecutor()
    queue: deque[tuple[tuple[int, ...], Candidate | Skipped]] = deque(
        ((index,), proposal) for index, proposal in enumerate(proposals))
    done: dict[tuple[int, ...], Trial] = {}
    running: dict[int, tuple[tuple[int, ...], Candidate]] = {}
    cut: dict[int, tuple[float, float]] = {}  # ticket -> (submitted at, deadline given) for budget-cut trials
    kept = [c for c in cases if c.name in reference.outcomes]
    stopped: str | None = None
    learned: dict[str, tuple[str, ...]] = {}  # backend -> adapters its refinements needed first
    learned_builds: dict[str, Failure] = {}  # backend -> the failure its own refinement answered first

    def finish(slot: tuple[int, ...], trial: Trial) -> None:
        done[slot] = trial
        if observer:
            observer("done", trial)

    while queue or running:
        # The one place where the next proposal is started.
        while queue and len(running) < runner.slots:
            if stop is not None and stopped is None and isinstance(queue[0][1], Candidate):
                stopped = stop([done[s] for s in sorted(done)], [p for _, p in queue])
            slot, proposal = queue.popleft()
            if isinstance(proposal, Candidate) and len(slot) == 1:
                if proposal.backend in learned_builds:
                    proposal = _backend_refinement(fs, proposal, learned_builds[proposal.backend],
                                                   kernels_dir) or proposal
                proposal = adapters.with_learned(proposal, _learned_for(proposal.backend, learned))
            if isinstance(proposal, Candidate) and proposal.name in barred:
                proposal = Skipped(proposal.backend, proposal.name,
                                   "barred for this signature: it was rolled back after misbehaving")
            first = not running and not any(t.status in TRIED_STATUSES or t.reason.startswith(NOT_FINISHED)
                                            for t in done.values())
            if (budget is not None and stopped is None and isinstance(proposal, Candidate) and not first
                    and budget.left_s() < MIN_TRIAL_S):
                stopped = budget.not_tried()
            if stopped is not None and isinstance(proposal, Candidate):
                finish(slot, Trial(proposal.backend, proposal.name, SKIPPED, stopped, proposal.options))
                continue
            if isinstance(proposal, Skipped):
                finish(slot, Trial(proposal.backend, proposal.name, SKIPPED, proposal.reason))
                continue
            if observer:
                observer("start", proposal)
            job = _job(original, proposal, kept, reference, config, user_modules)
            allowed = None if budget is None else max(budget.left_s(), FIRST_TRIAL_FLOOR_S if first else 0.0)
            if budget is not None and allowed is not None and allowed <= job.timeout_s:
                job = replace(job, timeout_s=allowed)  # what is left of the budget, not the usual limit
                ticket = runner.submit(job)
                cut[ticket] = (budget.clock(), allowed)
            else:
                ticket = runner.submit(job)
            running[ticket] = (slot, proposal)
        if not running:
            continue
        ticket, result = runner.next_done(list(running))
        slot, candidate = running.pop(ticket)
        trial = _trial(candidate, result, reference)
        if budget is not None and ticket in cut:
            submitted, allowed = cut.pop(ticket)
            trial = _out_of_budget(trial, result, budget, budget.clock() - submitted, allowed)
        log.info("%s %s: %s (%s)", fs.qualname, trial.name, trial.status, trial.reason.splitlines()[0])
        if trial.failure is not None:
            refined = [c for c in _refinements(fs, candidate, trial.failure, kernels_dir)
                       if range_guards or _range_guards(c) <= _range_guards(candidate)]
            added = next((a for c in refined if (a := adapters.added_by(candidate, c))), ())
            if added and candidate.backend not in learned:
                learned[candidate.backend] = added
            if len(slot) == 1 and candidate.backend not in learned_builds and refined \
                    and refined[0].options != candidate.options:
                learned_builds[candidate.backend] = trial.failure
            # Ahead of the rest of the queue, as a sequential run would try them next.
            queue.extendleft(reversed([(slot + (j,), c) for j, c in enumerate(refined)]))
        finish(slot, trial)
    return decide([done[slot] for slot in sorted(done)], config)


def _learned_for(backend: str, learned: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """What ``backend``'s next proposal starts with: its siblings' adapters, others' range guards."""
    own = learned.get(backend, ())
    others = tuple(a for b, added in learned.items() if b != backend for a in added if a.startswith(adapters.RANGE))
    return own + others[:1]


#: The start of the reason of a trial stopped at the budget's deadline (``Budget.stopped``).
NOT_FINISHED = "not finished:"


def _out_of_budget(trial: Trial, result: JobResult, budget: Budget, ran_s: float, allowed_s: float) -> Trial:
    """``trial`` as ``skipped`` when it was stopped by the budget's deadline, else unchanged.

    A timeout well before the deadline was the candidate's own (the per-input limit): a failure.
    """
    report = result.report
    if not (isinstance(report, sandbox.SandboxFailure) and report.kind == "timeout"):
        return trial
    if ran_s < allowed_s - 1.0:
        return trial
    return Trial(trial.backend, trial.name, SKIPPED, budget.stopped(ran_s, report.last_case), trial.options,
                 trial.candidate, ran_on=trial.ran_on)


def decide(trials: list[Trial], config: Config) -> list[Trial]:
    significant = [t for t in trials if t.status == CORRECT and t.timing and t.timing.holds(config.min_speedup)]
    best = max(significant, key=lambda t: t.timing.speedup, default=None)  # type: ignore[union-attr]
    decided = []
    for trial in trials:
        if trial is best:
            trial = _with(trial, WON, f"fastest correct variant: {trial.timing}")
        elif trial.status == CORRECT and trial.timing is not None:
            if trial in significant:
                why = f"correct and faster ({trial.timing}), but slower than {best.name}"  # type: ignore[union-attr]
            elif trial.timing.ci_low > config.min_speedup:
                why = (f"correct, but slower on the mean of its calls ({trial.timing.mean_speedup:.2f}x: a slow "
                       f"tail) though {trial.timing} at the median")
            else:
                why = (f"correct, but not significantly faster: {trial.timing} at "
                       f"{trial.timing.confidence:.0%} confidence needs a lower bound above {config.min_speedup:g}")
            trial = _with(trial, CORRECT, why)
        decided.append(trial)
    return decided


def _with(trial: Trial, status: TrialStatus, reason: str) -> Trial:
    return replace(trial, status=status, reason=reason)
