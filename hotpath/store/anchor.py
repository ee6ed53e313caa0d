"""The audit chain's anchor: its entry count and head hash, in an append-only file beside the store.

The hash chain inside ``store.db`` shows an edited or removed entry in the middle, but not a
chain cut at its end, emptied, or rebuilt with every hash recomputed: the database alone holds
nothing to compare with. Each audit entry therefore also appends ``<count> <head hash>`` to
``audit-anchor`` once its transaction has committed, so every line names an entry that exists;
``audit.check`` compares the chain with every line. A process killed between the commit and the
append leaves the chain one entry ahead of the anchor, which the check reports but allows.

The file is as writable as the database: it defends against a change made to the database
alone. For a record nobody in the folder can rewrite, keep what ``hotpath audit --head`` prints.

Format: a header line, then the line that started the anchor (``<count> <hash> start <unix time>``:
the chain as it stood then, ``0`` and the genesis hash for a new store), then one line per entry.
"""

from __future__ import annotations

import errno
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

HEADER = "hotpath audit anchor v1"
_LINE = re.compile(r"^(\d+) ([0-9a-f]{64})(?: start (\d+(?:\.\d+)?))?$")


class AnchorDamaged(Exception):
    """The anchor file exists but does not start with its header: it was replaced or cut."""


@dataclass(frozen=True)
class Mark:
    """One anchor line: the chain had ``count`` entries and its newest hashed to ``head``."""

    count: int
    head: str
    started: float | None = None  # set on the line that started the anchor


@dataclass(frozen=True)
class AnchorFile:
    """The anchor of one store; nothing is written until ``start`` or ``record``."""

    path: Path

    def exists(self) -> bool:
        return self.path.exists()

    def start(self, count: int, head: str) -> bool:
        """Create the file with the chain as it stands (``count`` entries, newest ``head``);
        ``False`` when another process created it first."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise _named(exc, self.path) from exc
        try:
            _write(fd, f"{HEADER}\n{count} {head} start {time.time():.3f}\n", self.path)
        finally:
            os.close(fd)
        return True

    def record(self, count: int, head: str, previous: str) -> None:
        """Append the chain's new head (entry ``count``, hashed ``head``, following ``previous``).

        One ``write`` on an ``O_APPEND`` file: concurrent writers' lines never interleave, and a
        process killed by a signal writes its line whole or not at all. A file that is gone is
        started again just before this entry, so the check shows where the anchor restarted.
        """
        if not self.path.exists():
            self.start(count - 1, previous)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _named(exc, self.path) from exc
        try:
            _write(fd, f"{count} {head}\n", self.path)
        finally:
            os.close(fd)

    def read(self) -> tuple[Mark, ...] | None:
        """Every line, oldest first; ``None`` when there is no file. Raises ``AnchorDamaged``
        when the header is missing. A line cut short (a write that met a full disk) is skipped."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return None
        lines = text.splitlines()
        if not lines or lines[0] != HEADER:
            raise AnchorDamaged(f"{self.path} does not start with its header line: it was replaced or cut")
        marks = []
        for line in lines[1:]:
            match = _LINE.match(line)
            if match:
                started = float(match.group(3)) if match.group(3) else None
                marks.append(Mark(int(match.group(1)), match.group(2), started))
        return tuple(marks)

    def set_aside(self) -> Path:
        """Rename the file (it belonged to a store that was replaced) and return its new name."""
        target = self.path.with_name(f"{self.path.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        os.replace(self.path, target)
        return target


def _write(fd: int, text: str, path: Path) -> None:
    data = text.encode("ascii")
    try:
        written = os.write(fd, data)
    except OSError as exc:
        raise _named(exc, path) from exc
    if written != len(data):  # a short write: the disk filled up mid-line
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` naming the anchor file, so the one-line report says which file and why."""
    if exc.filename:
        return exc
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))
