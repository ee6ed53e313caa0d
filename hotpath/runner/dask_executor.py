"""Trials on a Dask ``distributed`` cluster: compile and verify on many workers at once.

Client side (``DaskExecutor``): each job is pickled here with ``hotpath.runner.payload`` (the
user's own functions by value, libraries by reference: workers need hotpath, NumPy and the
backends' compilers installed, never the user's code) and submitted with ``run_remote``.

Worker side (``run_remote``): the candidate's source is written under the worker's own folder
(nothing assumes a shared file system), the trial runs through ``hotpath.runner.sandbox`` in a
fresh subprocess (a crashing or hanging candidate ends that process, not the Dask worker), and
what the build left beside the source (a Cython extension) travels back as bytes with its
SHA-256, to be checked and stored in this machine's kernels folder.

The timing rule: a worker whose hardware fingerprint (``hotpath.integrity.environment``:
CPU model and flags, Python and library versions) equals the target's verifies *and* times; any
other worker only verifies, and a candidate it found correct is verified again and timed here,
so every speedup that decides an install was measured on the hardware class it is installed on.

Worker loss: Dask reschedules a task whose worker died on another worker by itself; if it still
ends in a lost-worker error, the job is submitted once more, and after that it is a failed trial
whose reason says so. A job with no answer within its deadline is a failed trial too.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import pickle
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hotpath.runner import payload, sandbox
from hotpath.runner.executors import ExecutorUnavailable, JobResult, TrialJob, run_checked, run_here
from hotpath.runner.tasks import CandidateReport
from hotpath.integrity import ArtifactRefused, check_artifact, environment

log = logging.getLogger(__name__)

#: Exception names that mean "the worker or the connection went away", not "the trial failed".
LOST_WORKER = ("KilledWorker", "CommClosedError", "StreamClosedError", "FutureCancelledError",
               "CancelledError")
#: Attempts per job when workers are lost (Dask's own rescheduling happens inside each).
ATTEMPTS = 2
#: Extra time a job may take on the cluster beyond its sandbox timeout (queueing, transfers).
GRACE_S = 120.0
#: How long ``connect`` waits for a scheduler.
CONNECT_TIMEOUT_S = 10.0
#: Files left beside a source that are not artifacts.
_NOT_ARTIFACTS = (".lock", ".tmp")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ExecutorUnavailable(f"running trials on a cluster needs Dask: pip install 'hotpath[dask]' ({exc})") \
            from None
    return distributed


@dataclass(frozen=True)
class Artifact:
    """A file a trial built beside the candidate's source (a Cython extension), as bytes."""

    name: str
    data: bytes = field(repr=False)
    sha256: str


@dataclass(frozen=True)
class RemoteOutcome:
    """What ``run_remote`` sends back."""

    report: Any  # CandidateReport | sandbox.SandboxFailure
    worker: str
    timed: bool  # the worker timed the candidate (its hardware class is the target's)
    artifacts: tuple[Artifact, ...] = ()


# --- worker side ---------------------------------------------------------------------------

def _worker_folder() -> tuple[Path, str]:
    try:
        from distributed import get_worker

        worker = get_worker()
        return Path(worker.local_directory) / "hotpath", str(worker.address)
    except (ImportError, ValueError):  # not on a Dask worker (run directly, in a test of this side)
        return Path(tempfile.gettempdir()) / f"hotpath-remote-{os.getuid()}", f"pid {os.getpid()}"


def _write_once(path: Path, source: str) -> None:
    if path.exists() and path.read_text() == source:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(source)
    os.replace(tmp, path)


def _artifacts(source: Path) -> tuple[Artifact, ...]:
    found = []
    for path in sorted(source.parent.glob(f"{source.stem}.*")):
        if path == source or not path.is_file() or path.name.endswith(_NOT_ARTIFACTS):
            continue
        data = path.read_bytes()
        found.append(Artifact(path.name, data, hashlib.sha256(data).hexdigest()))
    return tuple(found)


def run_remote(data: bytes, timeout_s: float, memory_limit_mb: int | None, user_modules: tuple[str, ...],
               target_environment: str) -> RemoteOutcome:
    """On a worker: run the pickled ``CandidateTask`` in a sandbox there; report and artifacts."""
    root, worker = _worker_folder()
    loaded = pickle.loads(data)
    # (task, check): the original's outcomes travel beside the task, to be compared here, out of
    # the sandboxed candidate's reach; a bare task is taken as it is.
    task, check = loaded if isinstance(loaded, tuple) else (loaded, None)
    candidate = task.candidate
    # Under this worker's own folder, same file name: the name is the candidate's content
    # address, and compilers with on-disk caches key on it.
    local = root / "kernels" / candidate.path.parent.name / candidate.path.name
    _write_once(local, candidate.source)
    timed = environment() == target_environment
    task = replace(task, candidate=replace(candidate, path=local), time_it=task.time_it and timed)
    report = run_checked(task, check, timeout_s, memory_limit_mb, user_modules)
    return RemoteOutcome(report, worker, timed, _artifacts(local))


# --- client side ---------------------------------------------------------------------------

def land_artifacts(source: Path, artifacts: tuple[Artifact, ...]) -> list[str]:
    """Store ``artifacts`` beside ``source`` here, each checked against its SHA-256.

    Returns a note per artifact refused. A file already present is kept: built artifacts are
    named by a hash of everything that decides them, so an equal name is an equal build.
    """
    refused = []
    for artifact in artifacts:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", artifact.name) or not artifact.name.startswith(source.stem + "."):
            refused.append(f"artifact {artifact.name!r} refused: not a file name of this candidate")
            continue
        if hashlib.sha256(artifact.data).hexdigest() != artifact.sha256:
            refused.append(f"artifact {artifact.name} refused: its bytes do not match its checksum")
            continue
        target = source.parent / artifact.name
        if target.exists():
            continue
        tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            tmp.write_bytes(artifact.data)
            os.chmod(tmp, 0o644)  # check_artifact refuses files others may write
            os.replace(tmp, target)
            check_artifact(target, artifact.sha256)
        except (OSError, ArtifactRefused) as exc:
            with_reason = f"artifact {artifact.name} not stored: {exc}"
            log.warning("%s", with_reason)
            refused.append(with_reason)
            for leftover in (tmp, target):
                if leftover.exists() and (leftover == tmp or isinstance(exc, ArtifactRefused)):
                    leftover.unlink()
    return refused


@dataclass
class _Running:
    job: TrialJob
    future: Any
    deadline: float
    attempt: int = 1
    notes: list[str] = field(default_factory=list)


def _lost(exc: BaseException) -> bool:
    return type(exc).__name__ in LOST_WORKER or isinstance(exc, (OSError, TimeoutError))


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip().rstrip(":")


class DaskExecutor:
    """Runs trials on the workers of a ``distributed.Client`` (see the module's docstring)."""

    def __init__(self, client: Any, *, target_environment: str | None = None, own_client: bool = False) -> None:
        """``target_environment``: the hardware fingerprint timings must come from; default this
        machine's. ``own_client``: close ``client`` in ``close`` (set by ``connect``)."""
        self._distributed = _distributed()
        self._client = client
        self._own_client = own_client
        self.target_environment = target_environment or environment()
        self._running: dict[int, _Running] = {}
        self._finished: dict[int, JobResult] = {}
        self._tickets = itertools.count()
        self._lock = threading.Lock()
        self._slots = (0, 0.0)  # (value, when it was read)

    @classmethod
    def connect(cls, address: str, timeout_s: float | None = None) -> DaskExecutor:
        """An executor on the scheduler at ``address``; ``ExecutorUnavailable`` if there is none."""
        distributed = _distributed()
        try:
            client = distributed.Client(address, timeout=timeout_s or CONNECT_TIMEOUT_S, set_as_default=False)
        except Exception as exc:  # noqa: BLE001 — any failure to connect is the same answer
            raise ExecutorUnavailable(f"the Dask scheduler at {address} cannot be reached ({_reason(exc)})") \
                from None
        return cls(client, own_client=True)

    @property
    def slots(self) -> int:
        """The cluster's worker threads (re-read every few seconds: workers come and go)."""
        value, when = self._slots
        if time.monotonic() - when > 5.0:
            try:
                value = sum(self._client.nthreads().values())
            except Exception:  # noqa: BLE001 — a scheduler hiccup: keep the last figure
                log.debug("reading the cluster's size failed", exc_info=True)
            self._slots = (value, time.monotonic())
        return max(int(value), 1)

    def submit(self, job: TrialJob) -> int:
        with self._lock:
            ticket = next(self._tickets)
        try:
            data = payload.dumps((job.task, job.check), job.user_modules)
            self._running[ticket] = _Running(job, self._send(job, data), self._deadline(job))
        except Exception as exc:  # noqa: BLE001 — a job that cannot be sent is a failed trial
            log.warning("submitting the trial of %s failed", job.task.candidate.name, exc_info=True)
            self._finished[ticket] = JobResult(
                sandbox.SandboxFailure("error", f"the trial could not be sent to the cluster: {_reason(exc)}"),
                "cluster")
        return ticket

    def _send(self, job: TrialJob, data: bytes) -> Any:
        key = f"hotpath-trial-{job.task.candidate.name}-{uuid.uuid4().hex[:12]}"
        return self._client.submit(run_remote, data, job.timeout_s, job.memory_limit_mb, job.user_modules,
                                   self.target_environment, key=key, pure=False)

    @staticmethod
    def _deadline(job: TrialJob) -> float:
        return time.monotonic() + job.timeout_s + GRACE_S

    def next_done(self, tickets: Collection[int]) -> tuple[int, JobResult]:
        while True:
            ready = sorted(t for t in tickets if t in self._finished)
            if ready:
                return ready[0], self._finished.pop(ready[0])
            running = {t: self._running[t] for t in tickets}
            wait_s = max(min(r.deadline for r in running.values()) - time.monotonic(), 0.05)
            try:
                # ``wait`` finds its client through the default; the user's may not be it.
                with self._client.as_current():
                    done, _ = self._distributed.wait([r.future for r in running.values()], timeout=wait_s,
                                                     return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            except Exception as exc:  # noqa: BLE001 — the client itself broke: fail one job per call
                ticket = min(running)
                run = self._running.pop(ticket)
                run.future.cancel()
                return ticket, JobResult(sandbox.SandboxFailure(
                    "lost", f"lost contact with the cluster ({_reason(exc)})"), "cluster", tuple(run.notes))
            finished = sorted(t for t, r in running.items() if r.future in done)
            if finished:
                ticket = finished[0]
                result = self._collect(ticket, self._running[ticket])
                if result is not None:
                    del self._running[ticket]
                    return ticket, result
                continue
            now = time.monotonic()
            for ticket, run in sorted(running.items()):
                if run.deadline <= now:
                    run.future.cancel()
                    del self._running[ticket]
                    return ticket, JobResult(sandbox.SandboxFailure(
                        "timeout", f"no answer from the cluster within {run.job.timeout_s + GRACE_S:.0f} s"),
                        "cluster", tuple(run.notes))

    def _collect(self, ticket: int, run: _Running) -> JobResult | None:
        """The finished job's result, or ``None`` when it was resubmitted after a lost worker."""
        name = run.job.task.candidate.name
        try:
            outcome: RemoteOutcome = run.future.result()
        except BaseException as exc:  # noqa: BLE001 — every way a task can end is a result
            if _lost(exc) and run.attempt < ATTEMPTS:
                note = f"attempt {run.attempt} lost ({_reason(exc)}); retried"
                log.warning("trial of %s: %s", name, note)
                run.notes.append(note)
                try:
                    run.future = self._send(run.job, payload.dumps((run.job.task, run.job.check), run.job.user_modules))
                    run.attempt += 1
                    run.deadline = self._deadline(run.job)
                    return None
                except Exception as again:  # noqa: BLE001
                    exc = again
            lost = _lost(exc)
            what = "the worker running it was lost" if lost else "the cluster could not run it"
            message = f"{what} ({_reason(exc)})" + (f" after {run.attempt} attempts" if run.attempt > 1 else "")
            log.warning("trial of %s failed on the cluster: %s", name, message)
            return JobResult(sandbox.SandboxFailure("lost" if lost else "error", message), "cluster",
                             tuple(run.notes))
        notes = run.notes + land_artifacts(run.job.task.candidate.path, outcome.artifacts)
        report, ran_on = outcome.report, outcome.worker
        correct_untimed = isinstance(report, CandidateReport) and report.failure is None and report.timing is None
        if correct_untimed and not outcome.timed:
            # Another hardware class agreed; the timing that decides an install is taken here,
            # on the target, after verifying here too (a CPU difference can change results).
            log.info("trial of %s: verified on %s (another hardware class); timing it here", name, ran_on)
            report = run_here(run.job)
            ran_on = f"{outcome.worker} (verified there; verified again and timed here)"
        return JobResult(report, ran_on, tuple(notes))

    def close(self) -> None:
        for run in self._running.values():
            run.future.cancel()
        self._running.clear()
        if self._own_client:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001 — closing is best effort
                log.debug("closing the Dask client failed", exc_info=True)
