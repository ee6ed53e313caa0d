"""What every ``hotpath`` subcommand shares: the console, the state folder from ``--home``, errors.

A leaf below every command module, so that commands never import each other's helpers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from hotpath.statedir import StateDir

if TYPE_CHECKING:  # rich is imported by ``console()``: ``hotpath run`` hands over without it
    from rich.console import Console

#: The help text of every subcommand's ``--home`` option.
HOME_HELP = "state folder (default: $HOTPATH_HOME or ./.hotpath)"


def console(stderr: bool = False) -> Console:
    """A console; when output is not a terminal (logs, CI, pipes), wide enough for the tables."""
    from rich.console import Console

    out = Console(stderr=stderr)
    return out if out.is_terminal else Console(stderr=stderr, width=max(out.width, 160))


def state_dir(args: argparse.Namespace) -> StateDir:
    """The state folder a command works on: ``--home``, else ``$HOTPATH_HOME``, else ``./.hotpath``; resolved."""
    home = getattr(args, "home", None)
    return StateDir.locate(Path(home) if home else None).resolved()


def home(args: argparse.Namespace) -> Path:
    """``state_dir(args).root``: the folder itself."""
    return state_dir(args).root


def fail(out: Console, message: str) -> int:
    """Print ``message`` as a one-line error and return the exit status 1."""
    out.print(f"[red]{message}", highlight=False)
    return 1
