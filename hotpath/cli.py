"""The ``hotpath`` command.

Each subcommand lives in the module that owns its role and registers itself here through a
``register(subparsers)`` function, so this file stays a table of contents.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from hotpath import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotpath",
        description="Find hot numeric Python, rewrite it, verify it, install the fastest correct variant.",
    )
    parser.add_argument("--version", action="version", version=f"hotpath {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    from hotpath.store import StoreUnavailable

    try:
        return int(args.func(args) or 0)
    except StoreUnavailable as exc:  # one line naming the file and the fix, not a traceback
        print(f"hotpath {args.command}: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
