"""``hotpath optimize``: profile, pick, capture real arguments, tune, store, summarise.

The capture-and-tune step runs in a child process (``session``) so the user's script runs in
a clean interpreter as ``__main__``, exactly as ``hotpath run`` will later run it. This
process reads the child's progress events to drive a progress bar. While the child runs, this
process ignores Ctrl-C: the terminal delivers it to the child too, which stops cleanly, and
everything that finished is already in the store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from hotpath.profiles import bootstrap, events
from hotpath.profiles.session import Plan


@dataclass(frozen=True)
class Outcome:
    """What the capture-and-tune child did."""

    status: int  # the child's exit status: the script's own, 130 after Ctrl-C
    script_status: int | None  # None: the script never finished its capture run
    captured: tuple[events.Captured, ...] = ()
    skipped: tuple[events.CaptureSkipped, ...] = ()
    tuned: tuple[events.Tuned, ...] = ()
    interrupted: str | None = None  # "capture" or "tuning"
    extra: dict[str, Any] = field(default_factory=dict)


class _Progress:
    """A rich progress bar per tuning run: the function, its candidates done and left."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=False)
        self._task: Any = None
        self._function = ""
        self._header = ""
        self._started = False

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:  # shown only once the program's own run is over, never over its output
            self._progress.stop()

    def handle(self, event: Any) -> None:
        p = self._progress
        if isinstance(event, events.TuneStarted):
            if not self._started:
                self._progress.start()
                self._started = True
            self._function = event.function
            self._header = f"[{event.index}/{event.total}] {event.function}"
            self._task = p.add_task(f"{self._header}: reference run", total=max(event.candidates, 1))
        elif self._task is None:
            return
        elif isinstance(event, events.CandidateStarted):
            task = p.tasks[self._task]
            left = max(int(task.total or 0) - int(task.completed), 1)
            p.update(self._task, description=f"{self._header}: trying {event.candidate} "
                                             f"({left} candidate{'s' if left != 1 else ''} left)")
        elif isinstance(event, events.CandidateDone):
            task = p.tasks[self._task]
            if event.status == "skipped" and task.completed >= (task.total or 0):
                return
            if task.completed + 1 > (task.total or 0):
                p.update(self._task, total=task.completed + 1)  # a refinement was added
            p.advance(self._task)
        elif isinstance(event, events.Tuned):
            verdict = f"{event.winner} {event.speedup:.1f}x" if event.winner else "nothing installed"
            task = p.tasks[self._task]
            p.update(self._task, total=max(task.completed, 1), completed=max(task.completed, 1),
                     description=f"{self._header}: {verdict}")
            self._task = None


def capture_and_tune(plan: Plan, workdir: Path, console: Console, verbosity: int = 0,
                     program_stdout: Any = None, stdin: Any = None) -> Outcome:
    """Run the session child for ``plan``; returns what it reported. ``program_stdout`` and
    ``stdin``: the program's, as ``subprocess.Popen`` takes them (``None``: this process's)."""
    workdir.mkdir(parents=True, exist_ok=True)
    plan_path = workdir / "plan.json"
    plan_path.write_text(plan.to_json())
    read_fd, write_fd = os.pipe()
    env = dict(os.environ, **{bootstrap.LOG_LEVEL_ENV: bootstrap.level_for(verbosity)})
    cmd = [sys.executable, "-m", "hotpath.profiles.session", str(plan_path), str(write_fd)]
    captured: list[events.Captured] = []
    skipped: list[events.CaptureSkipped] = []
    tuned: list[events.Tuned] = []
    script_status: int | None = None
    interrupted: str | None = None
    with bootstrap.ctrl_c_to_child():
        process = subprocess.Popen(cmd, pass_fds=(write_fd,), env=env, stdout=program_stdout, stdin=stdin)
        os.close(write_fd)
        with os.fdopen(read_fd, "r") as stream, _Progress(console) as progress:
            for line in stream:
                event = events.decode(line)
                if event is None:
                    continue
                progress.handle(event)
                if isinstance(event, events.Captured):
                    captured.append(event)
                elif isinstance(event, events.CaptureSkipped):
                    skipped.append(event)
                elif isinstance(event, events.Tuned):
                    tuned.append(event)
                elif isinstance(event, events.ScriptExited):
                    script_status = event.status
                elif isinstance(event, events.Interrupted):
                    interrupted = event.during
        status = process.wait()
    if status < 0 and interrupted is None and -status == signal.SIGINT:
        interrupted = "capture" if script_status is None else "tuning"
    return Outcome(status, script_status, tuple(captured), tuple(skipped), tuple(tuned), interrupted)
