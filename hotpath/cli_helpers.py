"""What every ``hotpath`` subcommand shares: the console, the state folder from ``--home``, errors.

A leaf below every command module, so that commands never import each other's helpers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotpath.config import state_home
from hotpath.statedir import StateDir

if TYPE_CHECKING:  # rich is imported by ``console()``: ``hotpath run`` hands over without it
    from rich.console import Console

#: The help text of every subcommand's ``--home`` option.
HOME_HELP = "state folder (default: $HOTPATH_HOME, else state_dir in [tool.hotpath] of pyproject.toml, else ./.hotpath)"
#: The ``-v`` help of the command and of every subcommand.
VERBOSE_HELP = "more log output (-vv for debug)"
#: Where ``-v`` given after the subcommand counts, apart from the command's own, so that
#: ``hotpath -v status -v`` is ``-vv`` (a subcommand's parser would overwrite, not add to, it).
VERBOSE_AFTER = "verbose_after_command"


class VersionAction(argparse.Action):
    """``--version``: reads the version (package metadata) only when asked for it."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show the version and exit", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from hotpath.version import VERSION

        sys.stdout.write(f"hotpath {VERSION}\n")  # standard output, as argparse's own version action
        parser.exit()


class Subcommands:
    """The subparsers of a command, as the commands' ``register`` functions see them: each
    subcommand they add also takes ``-v`` after its name (``hotpath status -v``), and has a
    description for ``--help`` (its one-line help as a sentence, unless it gives one)."""

    def __init__(self, subparsers: Any) -> None:
        self.subparsers = subparsers

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        summary = kwargs.get("help")
        if kwargs.get("description") is None and summary:
            kwargs["description"] = sentence(str(summary))
        parser: argparse.ArgumentParser = self.subparsers.add_parser(name, **kwargs)
        parser.add_argument("-v", "--verbose", action="count", default=0, dest=VERBOSE_AFTER, help=VERBOSE_HELP)
        return parser

    def __getattr__(self, name: str) -> Any:
        return getattr(self.subparsers, name)


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def console(stderr: bool = False) -> Console:
    """A console; when output is not a terminal (logs, CI, pipes), wide enough for the tables."""
    from rich.console import Console

    out = Console(stderr=stderr)
    return out if out.is_terminal else Console(stderr=stderr, width=max(out.width, 160))


def state_dir(args: argparse.Namespace) -> StateDir:
    """The state folder a command works on: ``--home``, else ``$HOTPATH_HOME``, else the project's
    ``[tool.hotpath] state_dir``, else ``./.hotpath``; resolved."""
    home = getattr(args, "home", None)
    return state_home(Path(home) if home else None).resolved()


def home(args: argparse.Namespace) -> Path:
    """``state_dir(args).root``: the folder itself."""
    return state_dir(args).root


def fail(out: Console, message: str) -> int:
    """Print ``message`` as a one-line error and return the exit status 1."""
    out.print(f"[red]{message}", highlight=False)
    return 1
