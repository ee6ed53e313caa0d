"""Standard input for a program that ``hotpath profile``/``optimize`` run more than once.

The profiling run and the capture run each need the input ``python prog.py < data`` would give,
but standard input can be read only once. So the first run reads the real one through a tee:
a thread copies what arrives into a file in the state folder's ``tmp/`` area and on into a pipe
the program reads; every later run reads that file. The tee reads only while the first run is
alive, never ahead of it waiting for an end of input: a program that never reads standard input
is not kept waiting for one that never ends (``ssh host hotpath ...``, a parent's open pipe).
What the first run read is in the file, so later runs see the same input (and the end of it
where the first run stopped). A terminal is left alone: each run reads it as usual.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

_CHUNK = 1 << 16


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class StdinReplay:
    """Standard input for each of a program's runs: ``with replay.run() as stdin: Popen(..., stdin=stdin)``."""

    def __init__(self, folder: Path, source: int = 0) -> None:
        self._source = source
        try:
            self._terminal = os.isatty(source)
        except OSError:
            self._terminal = False
        self.path = folder / f"stdin-{os.getpid()}"
        self._folder = folder
        self._recorded = False
        self._lock = threading.Lock()
        self._closed = False

    @property
    def terminal(self) -> bool:
        """Standard input is a terminal: every run gets it directly."""
        return self._terminal

    @contextlib.contextmanager
    def run(self) -> Iterator[Any]:
        """What one run's ``Popen`` takes as ``stdin``, for as long as the run lasts."""
        if self._terminal:
            yield None
        elif self._recorded:
            with self.path.open("rb") as recorded:
                yield recorded
        else:
            with self._tee() as read_end:
                yield read_end

    @contextlib.contextmanager
    def _tee(self) -> Iterator[int]:
        self._folder.mkdir(parents=True, exist_ok=True)
        record = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        read_end, write_end = os.pipe()
        pump = threading.Thread(target=self._pump, args=(record, write_end), name="hotpath-stdin", daemon=True)
        pump.start()
        try:
            yield read_end
        finally:
            os.close(read_end)  # the run is over: a write into its pipe now fails, and the pump stops
            with self._lock:  # the pump may still be blocked reading; whatever it reads now is not recorded
                self._closed = True
                os.close(record)
            self._recorded = True

    def _pump(self, record: int, write_end: int) -> None:
        try:
            while True:
                try:
                    data = os.read(self._source, _CHUNK)
                except OSError as exc:  # no standard input at all (closed): the program sees its end
                    log.debug("standard input cannot be read (%s): the program gets an empty one", exc)
                    data = b""
                with self._lock:
                    if self._closed:
                        return
                    _write_all(record, data)
                if not data:
                    return
                _write_all(write_end, data)
        except OSError:  # the program closed its standard input or ended: nothing more is recorded
            return
        finally:
            os.close(write_end)

    def close(self) -> None:
        """Remove the recording."""
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> StdinReplay:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

