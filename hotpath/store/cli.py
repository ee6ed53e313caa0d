"""``hotpath status``, ``hotpath audit [--verify|--head]`` and ``hotpath rollback module:function``.

Exit status: 0 done; 1 the audit log is not intact, ``--verify``/``--head`` found no store, or
``rollback`` named a function the store does not know; 2 a usage error; 3 the store cannot be
opened, read or written (one line on stderr names the file, the cause and the fix).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import sqlite3
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hotpath.cli_helpers import HOME_HELP, home as _home, state_dir

#: The exit status of a command whose store cannot be opened or read (one line on stderr says
#: which file and what to do); 1 stays "the audit log is not intact" or "nothing to verify".
UNAVAILABLE = 3


def _store(args: argparse.Namespace, read_only: bool = True) -> Any:
    """The store of ``--home``, or None when there is none; looking commands open it read-only."""
    from hotpath.store import Store, StoreWarning

    folder = state_dir(args)
    if not folder.store_db.exists():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreWarning)  # the command says it in its own one line
        return Store.at(folder.root, read_only=read_only)


def one_line_errors(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``command`` with a store it cannot open or read reported as one line on stderr (exit
    status ``UNAVAILABLE``), not a traceback."""
    from hotpath.store import StoreUnavailable, unavailable

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except sqlite3.Error as exc:
            failure: StoreUnavailable = unavailable(state_dir(args).store_db, exc)
        except StoreUnavailable as exc:
            failure = exc
        except OSError as exc:  # the anchor beside the store: a full disk, a folder it cannot write
            failure = unavailable(Path(exc.filename) if exc.filename else state_dir(args).store_db, exc)
        print(f"hotpath {args.command}: {failure}", file=sys.stderr)
        return UNAVAILABLE

    return run


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def register(subparsers: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", help=HOME_HELP)

    status = subparsers.add_parser("status", parents=[common], help="what is installed, where, since when, how fast")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=one_line_errors(_status))

    audit = subparsers.add_parser(
        "audit", parents=[common], help="the change log; --verify checks it is intact",
        description="Every install, warm install, refusal and rollback, with its evidence, in a hash chain. "
                    "The chain's entry count and head hash are also appended to audit-anchor beside the store, "
                    "so that --verify sees a chain cut at its end, emptied or rebuilt, and a changed install.",
        epilog="exit status: 0 listed, or intact; 1 the log is not intact (one line names the first problem), "
               "or --verify/--head found no store; 2 a usage error; 3 the store cannot be opened or read",
    )
    mode = audit.add_mutually_exclusive_group()
    mode.add_argument("--verify", action="store_true",
                      help="recompute the hash chain and compare it with audit-anchor and the installs table")
    mode.add_argument("--head", action="store_true",
                      help="print the entry count and head hash (after verifying), to keep outside this folder")
    audit.add_argument("--function", help="only entries for module:function")
    audit.add_argument("--json", action="store_true", help="machine-readable output")
    audit.set_defaults(func=one_line_errors(_audit))

    rollback = subparsers.add_parser(
        "rollback", parents=[common], help="retire a function's stored winners by hand",
        epilog="exit status: 0 rolled back (audited); 1 no such function (or signature) in the store, nothing "
               "written; 2 not named as module:function, or named __main__:function where several scripts define "
               "one (the line lists them); 3 the store cannot be opened or written")
    rollback.add_argument("function", help="module:function, as `hotpath status` lists it (a script's own function: "
                                           "path/to/script.py:function)")
    rollback.add_argument("--signature", help="only this signature, as `hotpath status` prints it")
    rollback.set_defaults(func=one_line_errors(_rollback))


def _status(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    from hotpath import watch_report

    store = _store(args)
    installs = store.active_installs() if store else []
    watched = watch_report.totals(_home(args))
    for row in installs:  # what the watch measured in the processes that ran it, if any did
        row["watch"] = watched.get((f"{row['module']}:{row['qualname']}", row["signature"], row["name"]))
    if args.json:
        print(json.dumps({"schema": "hotpath.status/2", "installs": installs}, indent=1))
        return 0
    if not installs:
        Console().print(f"nothing installed in {_home(args)}")
        return 0
    lost = [row for row in installs if row["kernel_missing"]]
    out = Console()
    title = f"installed variants in {_home(args)}"
    records = [_status_record(row) for row in installs]
    table = Table(title=title, title_justify="left")
    for column in _STATUS_COLUMNS:
        # Names and signatures are pasted into `hotpath rollback`: never wrapped or cut.
        table.add_column(column, no_wrap=True)
    for record in records:
        table.add_row(*record)
    if Measurement.get(out, out.options.update_width(1 << 16), table).maximum <= out.width:
        out.print(table)
    else:  # too narrow (a pipe, a CI log): one block per install, the name alone on its line
        out.print(Text(title, style="italic"), soft_wrap=True)
        for name, *rest in records:
            out.print(Text(name.plain, style="bold"), soft_wrap=True)
            detail = Text("  ")
            for label, cell in zip(_STATUS_COLUMNS[1:], rest):
                detail.append(f"{label} ", style="dim")
                detail.append_text(cell)
                detail.append("  ")
            out.print(detail, soft_wrap=True)
    if lost:
        # A warm start refuses these (audited) and runs the original: say so, and how to fix it.
        names = sorted({f"{row['module']}:{row['qualname']}" for row in lost})
        Console().print(f"{_count(len(lost), 'install')} lost {'its' if len(lost) == 1 else 'their'} kernel file "
                        f"({lost[0]['kernel_missing'][0]}{', ...' if len(lost) > 1 else ''}): the original runs instead. "
                        f"Tune again to rebuild, or `hotpath rollback {names[0]}` to clear it.",
                        highlight=False, soft_wrap=True)
    return 0


_STATUS_COLUMNS = ("function", "signature", "variant", "speedup", "since", "calls checked", "watch cost")


def _status_record(row: dict[str, Any]) -> list[Any]:
    """One install's cells for ``status``, as rich Text: signatures like ``[float64]`` are not markup."""
    from rich.text import Text

    seen = row["watch"]
    variant = Text(row["name"])
    if row["kernel_missing"]:
        variant.append(" (kernel file missing: not installed)", style="red")
    return [Text(f"{row['module']}:{row['qualname']}"), Text(row["signature"]), variant,
            Text(f"{row['speedup']:.1f}x"), Text(_when(row["created"])),
            Text(f"{seen['checked']:,} of {seen['calls']:,}" if seen else "-"),
            Text(f"{100 * seen.get('shadow_share', 0.0):.1f}%" if seen else "-")]


def _audit(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    store = _store(args)
    if store is None:
        if args.verify or args.head:  # nothing verified is not "intact"
            print(f"hotpath audit: no store in {_home(args)}: nothing to verify", file=sys.stderr)
            return 1
        console.print(f"no store in {_home(args)}: nothing has been recorded")
        return 0
    if args.verify or args.head:
        return _verify(store, args)
    entries = store.audit_entries(args.function)
    if args.json:
        print(json.dumps([e.__dict__ for e in entries], indent=1, default=str))
        return 0
    for e in entries:
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items()
                           if k not in ("trial_ids", "retired_ids", "install_digest"))
        console.print(f"#{e.id} {_when(e.created)} [bold]{e.action}[/] {e.function} {e.signature}  {detail}",
                      highlight=False, soft_wrap=True)
    return 0


def _verify(store: Any, args: argparse.Namespace) -> int:
    """``audit --verify`` and ``audit --head``: one line, exit 1 when the log is not intact."""
    check = store.check_audit()
    if check.problem:
        print(f"hotpath audit: the audit log is NOT intact: {check.problem}", file=sys.stderr)
        return 1
    if args.head:
        if args.json:
            print(json.dumps({"entries": check.entries, "head": check.head}))
        else:
            print(f"{check.entries} {check.head}")
        return 0
    summary = f"audit log intact: {_count(check.entries, 'entry', 'entries')}, head {check.head}"
    start = check.anchor_start
    if start is not None and start.count and start.started is not None:
        summary += f"; anchored from entry {start.count + 1} on (anchor started {_when(start.started)})"
    if check.note:
        summary += f"; {check.note}"
    if args.json:
        print(json.dumps({"intact": True, "entries": check.entries, "head": check.head,
                          "anchored": check.anchored, "note": check.note}))
    else:
        print(summary)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from rich.console import Console

    if ":" not in args.function:
        print(f"hotpath rollback: name the function as module:function (see `hotpath status`), got "
              f"{args.function!r}", file=sys.stderr)
        return 2
    from hotpath.store import names, queries

    store = _store(args, read_only=False)
    try:
        targets = names.resolve(args.function, queries.function_names(store)) if store is not None else []
    except names.AmbiguousName as exc:  # rolling back both would undo a script nobody named
        print(f"hotpath rollback: {exc}", file=sys.stderr)
        return 2
    counts = [n for n in (store.manual_rollback(target, args.signature) for target in targets) if n is not None]
    retired = sum(counts) if counts else None
    if retired is None:  # nothing was written: a wrong name must not leave an audit entry behind
        what = f"no install of {args.function} with signature {args.signature}" if args.signature \
            else f"no function {args.function}"
        print(f"hotpath rollback: {what} is recorded in {_home(args)}; `hotpath status` lists the installed ones",
              file=sys.stderr)
        return 1
    Console().print(f"rolled back {_count(retired, 'install')} of {' and '.join(targets)}; recorded in the audit log",
                    highlight=False)
    return 0
