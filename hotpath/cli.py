"""The ``hotpath`` command.

Each subcommand lives in the module that owns its role and registers itself here through a
``register(subparsers)`` function, so this file stays a table of contents. ``clean`` is the one
exception: what it removes and why it refuses is ``hotpath.store.clean``; the few lines that ask
and print are here.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: `hotpath run` usually hands over before any of them is needed
    import argparse

    from hotpath.cli_helpers import Subcommands


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (hotpath's own options
    take no value), or ``None``."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(only_run: bool = False) -> argparse.ArgumentParser:
    """The ``hotpath`` parser with every subcommand; with ``only_run``, with ``run`` alone: it
    imports none of the other commands' modules (rich, the store, the gate ...), so the program
    ``hotpath run`` starts is not kept waiting for them."""
    import argparse

    from hotpath.cli_helpers import VERBOSE_HELP, Subcommands, VersionAction

    parser = argparse.ArgumentParser(
        prog="hotpath",
        description="Find hot numeric Python, rewrite it, verify it, install the fastest correct variant.",
    )
    parser.add_argument("--version", action=VersionAction)
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    subparsers = Subcommands(parser.add_subparsers(dest="command", metavar="COMMAND"))
    if only_run:
        from hotpath.profiles import run_cli

        run_cli.register(subparsers)
        return parser

    from hotpath import demo
    from hotpath.gate import cli as gate_cli
    from hotpath.store import cli as store_cli

    demo.register(subparsers)
    store_cli.register(subparsers)
    gate_cli.register(subparsers)

    from hotpath.profiles import cli as profiles_cli
    from hotpath.report import cli as report_cli

    profiles_cli.register(subparsers)
    report_cli.register(subparsers)

    from hotpath.model import cli as model_cli

    model_cli.register(subparsers)

    from hotpath.export import cli as export_cli

    export_cli.register(subparsers)
    _register_clean(subparsers)
    return parser


def _register_clean(subparsers: Subcommands) -> None:
    from hotpath.cli_helpers import HOME_HELP

    clean = subparsers.add_parser(
        "clean", help="empty the state folder: store, kernels, captures, profiles, model history, trial folders",
        description="Removes what hotpath keeps in its state folder (--home, $HOTPATH_HOME, [tool.hotpath] "
                    "state_dir or ./.hotpath): the store with its audit log, generated and built kernels, "
                    "captured arguments, profiles, the cost model's history, watch files and trial folders. "
                    "It lists them first and asks (or takes --yes). It refuses a folder holding anything "
                    "hotpath does not write, and one a running hotpath process uses. Exit status: 0 removed "
                    "or nothing to remove, 1 refused or not confirmed.")
    clean.add_argument("--home", help=HOME_HELP)
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    clean.add_argument("--keep-store", action="store_true",
                       help="keep the store, the kernels its winners load and the model's history (stored "
                            "winners keep working); remove captures, profiles, watch files and trial folders")
    clean.add_argument("-y", "--yes", action="store_true", help="remove without asking")
    clean.set_defaults(func=_clean)


def _clean(args: argparse.Namespace) -> int:
    from hotpath.cli_helpers import state_dir
    from hotpath.store import clean

    state = state_dir(args)
    try:
        cleaning = clean.plan(state, keep_store=args.keep_store)
    except clean.CleanRefused as exc:
        print(f"hotpath clean: {exc}", file=sys.stderr)
        return 1
    if not cleaning.remove:
        print(f"nothing to remove in {state.root}")
        return 0
    print(f"{'would remove' if args.dry_run else 'to remove'} from {state.root}:")
    for entry in cleaning.remove:
        print(f"  {entry.path.name:<16} {_megabytes(entry.size):>10}  {entry.holds}")
    for entry in cleaning.keep:
        print(f"  {entry.path.name:<16} {'kept':>10}  {entry.holds}")
    if args.dry_run:
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            print("hotpath clean: nothing removed: pass --yes to remove without a terminal to confirm on",
                  file=sys.stderr)
            return 1
        if input(f"remove {_megabytes(cleaning.size)}? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 1
    clean.remove(cleaning)
    print(f"removed {len(cleaning.remove)} entries ({_megabytes(cleaning.size)}) from {state.root}")
    return 0


def _megabytes(size: int) -> str:
    """``size`` bytes in the largest unit that keeps a digit before the point."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hotpath`` command with ``argv`` (default: this process's arguments); its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if command_of(argv) == "run":
        from hotpath.profiles import run_cli

        status = run_cli.run_settled(argv)  # the common case, decided before any parser is built
        if status is not None:
            return status
    import logging

    from hotpath.cli_helpers import VERBOSE_AFTER
    from hotpath.errors import ConfigError

    parser = build_parser(only_run=command_of(argv) == "run")
    args = parser.parse_args(argv)
    args.verbose += getattr(args, VERBOSE_AFTER, 0)  # commands read the one count, wherever -v was given
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:  # a bad [tool.hotpath] table: its file and key, in one line
        print(f"hotpath {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from hotpath.store import StoreUnavailable  # not before: only commands that read the store need it

        if not isinstance(exc, StoreUnavailable):
            raise
        print(f"hotpath {args.command}: {exc}", file=sys.stderr)  # one line naming the file and the fix
        return 3


if __name__ == "__main__":
    sys.exit(main())
