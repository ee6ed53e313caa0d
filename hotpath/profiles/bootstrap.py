"""Shared start-up of the child processes that run a user's script (``runscript``, ``capture``).

hotpath's own log lines go to standard error through a handler on the ``hotpath`` logger only
(``HOTPATH_LOG_LEVEL``, default WARNING), never through the root logger, so a script that
configures logging itself sees no difference.
"""

from __future__ import annotations

import logging
import os
import sys

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
