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
