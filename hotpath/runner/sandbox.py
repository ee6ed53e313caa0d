"""Running one task in a separate worker process, with a deadline and a memory cap.

One process per task, like pyperf's workers: a candidate that corrupts memory or leaks threads
cannot affect the next one, and the user's process only ever reads a result file.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hotpath.runner import channel, payload
from hotpath.runner.worker import CASE_MARKER

log = logging.getLogger(__name__)

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()
#: Where trial folders go: the state folder's ``tmp/`` once a tune names it, else the system's.
_scratch: Path | None = None
#: The name of every trial folder starts with this and the id of the process that made it.
TRIAL_PREFIX = "hotpath-trial-"


def _reset_after_fork() -> None:
    # The parent's workers are not this process's children, and its lock may have been held.
    global _live, _live_lock
    _live, _live_lock = set(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def use_scratch(folder: Path | None) -> None:
    """Put trial folders under ``folder`` (None: the system's temporary folder)."""
    global _scratch
    _scratch = folder


@dataclass(frozen=True)
class SandboxFailure:
    """The worker produced no report: it crashed, hung, or raised outside the task's own checks."""

    kind: str  # "crash", "timeout", "error"
    message: str
    last_case: str | None = None


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _kill_live_workers() -> None:
    # Tuning in the background must never keep the user's program from exiting.
    with _live_lock:
        for process in list(_live):
            _kill(process)


def _last_case(stderr: str) -> str | None:
    marks = [line.split(CASE_MARKER, 1)[1].strip() for line in stderr.splitlines() if CASE_MARKER in line]
    return marks[-1] if marks else None


def _tail(text: str, lines: int = 12) -> str:
    kept = [line for line in text.splitlines() if CASE_MARKER not in line and line.strip()]
    return "\n".join(kept[-lines:])


class Conversation(Protocol):
    """The parent's side of a worker's messages (``hotpath.runner.verdict.Verdict``)."""

    report: Any  # set once the trial is decided: the worker is then stopped, this returned

    def hear(self, message: tuple[Any, ...]) -> str | None:
        """Take one message; a line to answer the worker with, if any."""


def run(task: object, timeout_s: float, memory_limit_mb: int | None,
        user_modules: tuple[str, ...] = (), conversation: Conversation | None = None) -> Any:
    """Do ``task`` in a fresh worker; its report, or a ``SandboxFailure``.

    With a ``conversation`` (a candidate's trial), the worker's messages go to it as they come,
    unpickled as untrusted data (``channel.load_untrusted``), and its report is the result.
    """
    scratch = _scratch
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
    # The process id in the name lets a later run tell a killed process's leftovers from a live one's.
    with tempfile.TemporaryDirectory(prefix=f"{TRIAL_PREFIX}{os.getpid()}-", dir=scratch) as folder:
        task_path = Path(folder, "task.pkl")
        log_path = Path(folder, "worker.log")
        with open(task_path, "wb") as handle:
            pickle.dump({"sys_path": [p or os.getcwd() for p in sys.path]}, handle)
            handle.write(payload.dumps(task, user_modules))
        reading, writing = os.pipe()
        command = [sys.executable, "-m", "hotpath.runner.worker", str(task_path), str(writing),
                   str(memory_limit_mb or 0)]
        try:
            with open(log_path, "wb") as output:
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=output, stderr=output,
                                           start_new_session=True, pass_fds=(writing,))
            os.close(writing)
            writing = -1
            with _live_lock:
                _live.add(process)
            try:
                result, timed_out, refused = _listen(process, reading, time.monotonic() + timeout_s, conversation,
                                                     user_modules)
            finally:
                _kill(process)
                process.wait()
                with _live_lock:
                    _live.discard(process)
        finally:
            os.close(reading)
            if writing >= 0:
                os.close(writing)
        stderr = log_path.read_text(errors="replace")
        last_case = _last_case(stderr)
        if refused is not None:
            return SandboxFailure("error", refused, last_case)
        if conversation is not None and conversation.report is not None:
            return conversation.report
        if timed_out:
            return SandboxFailure("timeout", f"did not finish within {timeout_s:.0f} s", last_case)
        if result is None:
            code = process.returncode
            if code is not None and code < 0:
                try:
                    name = signal.Signals(-code).name
                except ValueError:
                    name = f"signal {-code}"
                if -code == signal.SIGALRM:  # the worker's own per-input limit (hotpath.runner.worker)
                    return SandboxFailure("timeout", "it ran far longer than the original on this input, past "
                                                     "the per-input limit", last_case)
                what = f"the worker was killed by {name}"
            else:
                what = f"the worker exited with status {code}"
            return SandboxFailure("crash", f"{what}\n{_tail(stderr)}".strip(), last_case)
        status, report = result
        if status != "ok":
            return SandboxFailure("error", str(report), last_case)
        if conversation is not None:
            return SandboxFailure("error", "the worker ended without a verdict", last_case)
        return report


def _listen(process: subprocess.Popen[bytes], reading: int, deadline: float, conversation: Conversation | None,
            user_modules: tuple[str, ...]) -> tuple[tuple[str, Any] | None, bool, str | None]:
    """Read the worker's messages until its result, the end of its output, a decided
    conversation or the deadline: (its result, whether the deadline passed, why a message was
    refused)."""
    frames = channel.Frames()
    result = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return result, True, None
        ready, _, _ = select.select([reading], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(reading, 1 << 20)
        if not chunk:  # every copy of the pipe's end closed: the worker has ended
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                return result, True, None
            return result, False, None
        for data in frames.feed(chunk):
            try:
                message = channel.load(data) if conversation is None else channel.load_untrusted(data, user_modules)
            except Exception as exc:  # noqa: BLE001 — whatever the candidate sent, it is refused
                return None, False, f"the worker sent something that is not plain data: {type(exc).__name__}: {exc}"
            if not isinstance(message, tuple) or not message:
                return None, False, "the worker sent a malformed message"
            if message[0] == "result":
                result = message[1:]
                continue
            if conversation is None:
                continue
            reply = conversation.hear(message)
            if conversation.report is not None:
                return result, False, None
            if reply is not None:
                try:
                    assert process.stdin is not None
                    process.stdin.write(reply.encode() + b"\n")
                    process.stdin.flush()
                except OSError:
                    pass  # the worker is gone; its end shows on the pipe
