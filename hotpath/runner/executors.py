"""Where candidate trials run: here, one after another (the default), or fanned out to a cluster.

The trial loop (``hotpath.runner.trials.speculate``) hands each candidate to an ``Executor`` as a
``TrialJob`` and takes ``JobResult``s back as they finish. Whatever the executor, a trial runs
through ``hotpath.runner.sandbox`` in a fresh process, so a candidate that crashes or hangs ends
that process and nothing else. Executors never raise for a trial: a trial that could not be run
comes back as a ``SandboxFailure`` with the reason, and becomes a failed trial.

``hotpath.runner.placement.opened(spec)`` turns what a user passes as ``executor=`` into one.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hotpath.runner import sandbox
from hotpath.runner.tasks import CandidateTask, Check

LOCAL = "local"


class ExecutorUnavailable(Exception):
    """The executor asked for cannot be used (Dask missing, scheduler unreachable...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TrialJob:
    """One candidate's trial as an executor sees it: the sandbox task and its limits."""

    task: CandidateTask
    timeout_s: float
    memory_limit_mb: int | None
    user_modules: tuple[str, ...] = ()  # modules whose functions travel by value
    #: The original's outcomes the candidate's are compared with, outside its worker; None:
    #: the worker's report is taken as it is.
    check: Check | None = None


@dataclass(frozen=True)
class JobResult:
    """What came back for one job: the sandbox's report (or ``SandboxFailure``) and where it ran."""

    report: Any  # CandidateReport | sandbox.SandboxFailure
    ran_on: str = LOCAL  # "local", or a worker's address and where the timing was taken
    notes: tuple[str, ...] = ()  # retries, artifacts refused, and the like


@runtime_checkable
class Executor(Protocol):
    """Runs ``TrialJob``s; the trial loop keeps at most ``slots`` of them in flight."""

    @property
    def slots(self) -> int:
        """How many jobs are worth having in flight at once (1: strictly one after another)."""

    def submit(self, job: TrialJob) -> int:
        """Start ``job`` (or queue it); a ticket to wait on. Never raises for the job's sake."""

    def next_done(self, tickets: Collection[int]) -> tuple[int, JobResult]:
        """Block until one of ``tickets`` has finished; that ticket and its result."""

    def close(self) -> None:
        """Release what the executor opened itself (a client it connected, say)."""


def run_here(job: TrialJob) -> Any:
    """Do ``job`` in a sandbox process on this machine; the report or a ``SandboxFailure``."""
    return run_checked(job.task, job.check, job.timeout_s, job.memory_limit_mb, job.user_modules)


def run_checked(task: CandidateTask, check: Check | None, timeout_s: float, memory_limit_mb: int | None,
                user_modules: tuple[str, ...] = ()) -> Any:
    """Do ``task`` in a sandbox, judged from here against ``check`` (see ``TrialJob.check``)."""
    from hotpath.runner.verdict import Verdict

    conversation = Verdict(task, check) if check is not None else None
    return sandbox.run(task, timeout_s, memory_limit_mb, user_modules, conversation)


class LocalExecutor:
    """Runs each job in a sandbox on this machine, one at a time, lowest ticket first.

    ``submit`` only queues; the job runs inside ``next_done``. With one slot the trial loop
    therefore behaves exactly as a plain loop over the proposals: same order, same timings,
    nothing running beside the timed candidate.
    """

    slots = 1

    def __init__(self) -> None:
        self._jobs: dict[int, TrialJob] = {}
        self._tickets = itertools.count()
        self._lock = threading.Lock()

    def submit(self, job: TrialJob) -> int:
        with self._lock:
            ticket = next(self._tickets)
            self._jobs[ticket] = job
        return ticket

    def next_done(self, tickets: Collection[int]) -> tuple[int, JobResult]:
        with self._lock:
            ticket = min(tickets)
            job = self._jobs.pop(ticket)
        return ticket, JobResult(run_here(job))

    def close(self) -> None:
        pass
