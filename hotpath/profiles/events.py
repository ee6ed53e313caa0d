"""What the capture-and-tune child tells the ``hotpath optimize`` process, one JSON line each.

The child writes events to a pipe of its own (never to the program's standard output); the
parent turns them back into these records to drive its progress bar and its summary.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import IO, Any


@dataclass(frozen=True)
class Captured:
    """Arguments of one signature of a function were captured (``calls``: calls seen with it)."""

    function: str
    signature: str
    calls: int
    size_bytes: int
    path: str  # the capture file (function and arguments), for `hotpath bench`


@dataclass(frozen=True)
class CaptureSkipped:
    """A function or one of its signatures could not be captured or tuned, and why."""

    function: str
    signature: str
    reason: str


@dataclass(frozen=True)
class ScriptExited:
    """The program finished its capture run with this exit status."""

    status: int


@dataclass(frozen=True)
class TuneStarted:
    function: str
    signature: str
    candidates: int  # proposals expected (refinements may add more)
    index: int  # 1-based position among all tuning runs
    total: int


@dataclass(frozen=True)
class CandidateStarted:
    function: str
    candidate: str


@dataclass(frozen=True)
class CandidateDone:
    function: str
    candidate: str
    status: str
    speedup: float | None


@dataclass(frozen=True)
class Tuned:
    """One tuning run finished: the winner (or the reason there is none)."""

    function: str
    signature: str
    winner: str | None
    speedup: float | None
    ci_low: float | None
    ci_high: float | None
    reason: str | None
    baseline_s: float | None
    duration_s: float
    trials: int


@dataclass(frozen=True)
class Interrupted:
    """Ctrl-C: tuning stopped; what finished before is stored."""

    during: str  # "capture" or "tuning"


Event = Captured | CaptureSkipped | ScriptExited | TuneStarted | CandidateStarted | CandidateDone | Tuned | Interrupted
_KINDS: dict[str, type] = {cls.__name__: cls for cls in (Captured, CaptureSkipped, ScriptExited, TuneStarted,
                                                          CandidateStarted, CandidateDone, Tuned, Interrupted)}


def emit(stream: IO[str] | None, event: Any) -> None:
    """Write one event as a JSON line and flush (no-op without a stream)."""
    if stream is None:
        return
    stream.write(json.dumps({"event": type(event).__name__, **asdict(event)}) + "\n")
    stream.flush()


def decode(line: str) -> Any:
    """The record for one JSON line, or ``None`` for a line that is not an event."""
    try:
        data = json.loads(line)
        cls = _KINDS[data.pop("event")]
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
