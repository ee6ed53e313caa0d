"""``hotpath export --patch FILE [FUNCTION ...]``: the stored winners as a reviewable patch.

Exit status: 0 the patch is written (functions that cannot be exported are named on standard
error, one line each); 1 nothing to export (no store, no live winner, or every function left
out); 2 a named function has no live winner; 3 the store cannot be read; 4 a function's file
moved or the function changed since it was tuned (nothing is written: tune it again, or name the
other functions).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hotpath import cli_helpers


#: Exit status when a function moved or changed since tuning.
STALE = 4


def register(subparsers: Any) -> None:
    """Add ``export`` to the ``hotpath`` command."""
    parser = subparsers.add_parser(
        "export", help="write the stored winners as a patch that runs without hotpath",
        description="Write the live winners of the state folder as a unified diff against their source files: "
                    "each function becomes its original, its verified Numba variant and a wrapper that calls "
                    "the variant only inside the conditions it was verified on. See docs/export.md.")
    parser.add_argument("functions", nargs="*", metavar="FUNCTION",
                        help="module:function (or a bare name) to export; default: every live winner")
    parser.add_argument("--patch", required=True, metavar="FILE", help="where to write the diff ('-': standard output)")
    parser.add_argument("--root", default=".", help="folder the diff's paths are relative to (default: .)")
    parser.add_argument("--home", help=cli_helpers.HOME_HELP)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hotpath.export import NothingToExport, UnknownFunction, export_patch

    home = cli_helpers.state_dir(args).root
    try:
        result = export_patch(home, args.functions, Path(args.root))
    except NothingToExport as exc:
        print(f"hotpath export: {exc}", file=sys.stderr)
        return 1
    except UnknownFunction as exc:
        print(f"hotpath export: {exc}", file=sys.stderr)
        return 2
    for line in result.stale:
        print(f"hotpath export: {line}", file=sys.stderr)
    if result.stale:
        return STALE
    for skipped in result.skipped:
        print(f"hotpath export: {skipped.function} left out: {skipped.reason}", file=sys.stderr)
    if not result.exported:
        print("hotpath export: no function could be exported; nothing written", file=sys.stderr)
        return 1
    if args.patch == "-":
        sys.stdout.write(result.diff)
    else:
        try:
            Path(args.patch).write_text(result.diff)
        except OSError as exc:
            print(f"hotpath export: cannot write {args.patch} ({exc.strerror or exc})", file=sys.stderr)
            return 1
    print(f"hotpath export: {len(result.exported)} function(s) written to {args.patch}: "
          f"{', '.join(result.exported)}", file=sys.stderr)
    return 0
