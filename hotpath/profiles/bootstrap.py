"""Shared start-up of the child processes that run a user's script (``runscript``, ``capture``),
and the one rule their parents share about Ctrl-C.

hotpath's own log lines go to standard error through a handler on the ``hotpath`` logger only
(``HOTPATH_LOG_LEVEL``, default WARNING), never through the root logger, so a script that
configures logging itself sees no difference.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator

LOG_LEVEL_ENV = "HOTPATH_LOG_LEVEL"


def setup_logging() -> None:
    logger = logging.getLogger("hotpath")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("hotpath %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(os.environ.get(LOG_LEVEL_ENV, "WARNING").upper())
    logger.propagate = False


def level_for(verbosity: int) -> str:
    """The ``HOTPATH_LOG_LEVEL`` value for the CLI's ``-v`` count."""
    return ("WARNING", "INFO", "DEBUG")[min(verbosity, 2)]


@contextlib.contextmanager
def ctrl_c_to_child() -> Iterator[None]:
    """Ignore Ctrl-C in this (parent) process while a child runs the user's program.

    The terminal sends SIGINT to the whole foreground process group: the child stops cleanly
    and says so through its exit status, and the parent, instead of dying mid-read with a
    traceback of its own, reports it in one line.
    """
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class CtrlC:
    """Ctrl-C forwarded to a child in a session of its own, and made sure of.

    For a child that does not reliably end on SIGINT (under Scalene 2.4 a CPU-bound program was
    seen to run on after it, in a second process its parent waits for): the child is started
    with ``start_new_session=True``
    so the terminal's SIGINT reaches only this process, which sends it on to the child's whole
    process group and, if the group has not ended ``grace_s`` later, kills it.
    """

    def __init__(self, grace_s: float = 5.0) -> None:
        self.grace_s = grace_s
        self.requested = False
        self._group: int | None = None
        self._timer: threading.Timer | None = None

    def _kill(self, sig: int) -> None:
        if self._group is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._group, sig)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            return
        self.requested = True
        self._kill(signal.SIGINT)
        self._timer = threading.Timer(self.grace_s, self._kill, (signal.SIGKILL,))
        self._timer.daemon = True
        self._timer.start()

    @contextlib.contextmanager
    def forwarding(self, group: int) -> Iterator[CtrlC]:
        """While the body runs, Ctrl-C here goes to process group ``group`` (the child's pid)."""
        self._group = group
        try:
            previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: the child is on its own
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
            if self._timer is not None:
                self._timer.cancel()
            if self.requested:  # no copy of the program left running after us
                self._kill(signal.SIGKILL)
