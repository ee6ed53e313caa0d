"""``hotpath status``, ``hotpath audit [--verify]`` and ``hotpath rollback module:function``.

Exit status: 0 done; 1 the audit log is not intact, or ``--verify`` found no store to verify;
2 a usage error; 3 the store cannot be opened or read (one line on stderr names the file and the fix).
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
        print(f"hotpath {args.command}: {failure}", file=sys.stderr)
        return UNAVAILABLE

    return run


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def register(subparsers: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", help=HOME_HELP)

    status = subparsers.add_parser("status", parents=[common], help="what is installed, where, since when, how fast")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=one_line_errors(_status))

    audit = subparsers.add_parser("audit", parents=[common], help="the change log; --verify checks it is intact")
    audit.add_argument("--verify", action="store_true", help="recompute the hash chain; exit 1 naming the first bad entry")
    audit.add_argument("--function", help="only entries for module:function")
    audit.add_argument("--json", action="store_true", help="machine-readable output")
    audit.set_defaults(func=one_line_errors(_audit))

    rollback = subparsers.add_parser("rollback", parents=[common], help="retire a function's stored winners by hand")
    rollback.add_argument("function", help="module:function, as `hotpath status` lists it")
    rollback.add_argument("--signature", help="only this signature, as `hotpath status` prints it")
    rollback.set_defaults(func=one_line_errors(_rollback))


def _status(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

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
    table = Table(title=f"installed variants in {_home(args)}", title_justify="left")
    for column in ("function", "signature", "variant", "speedup", "since", "calls checked", "watch cost"):
        table.add_column(column)
    for row in installs:
        seen = row["watch"]
        checked = f"{seen['checked']:,} of {seen['calls']:,}" if seen else "-"
        share = f"{100 * seen.get('shadow_share', 0.0):.1f}%" if seen else "-"
        table.add_row(f"{row['module']}:{row['qualname']}", row["signature"], row["name"],
                      f"{row['speedup']:.1f}x", _when(row["created"]), checked, share)
    Console().print(table)
    return 0


def _audit(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    store = _store(args)
    if store is None:
        console.print(f"no store in {_home(args)}: nothing has been recorded")
        return 1 if args.verify else 0  # nothing verified is not "intact"
    if args.verify:
        problem = store.verify_audit()
        if problem:
            console.print(f"[red]audit log is NOT intact: {problem}")
            return 1
        entries = store.audit_entries()
        head = entries[-1].hash if entries else "-"
        console.print(f"audit log intact: {len(entries)} entries, head {head}")
        return 0
    entries = store.audit_entries(args.function)
    if args.json:
        print(json.dumps([e.__dict__ for e in entries], indent=1, default=str))
        return 0
    for e in entries:
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items() if k not in ("trial_ids",))
        console.print(f"#{e.id} {_when(e.created)} [bold]{e.action}[/] {e.function} {e.signature}  {detail}",
                      highlight=False, soft_wrap=True)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from rich.console import Console

    if ":" not in args.function:
        Console().print(f"[red]name the function as module:function (see `hotpath status`), got {args.function!r}")
        return 2
    store = _store(args, read_only=False)
    if store is None:
        Console().print(f"no store in {_home(args)}: nothing to roll back")
        return 0
    retired = store.manual_rollback(args.function, args.signature)
    Console().print(f"rolled back {retired} install(s) of {args.function}; recorded in the audit log")
    return 0
