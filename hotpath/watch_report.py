"""What the watch of installed variants measured, per process, for ``hotpath status``.

The watch runs in the user's process and the store is written only when something changes
(an install, a rollback), so each process keeps a small JSON file of its own in the state
folder's ``watch/`` directory, rewritten at most every :data:`REPORT_EVERY_S` seconds and at
exit: for each install, how many calls it served and how many were shadow-verified, and the
share of its call time the watch spends. ``hotpath status`` adds these up over processes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from hotpath.statedir import StateDir
from typing import Any

#: The shortest interval between two rewrites of a process's file.
REPORT_EVERY_S = 30.0
#: Files older than this are left out of the totals (and removed when written over by a new pid).
KEEP_S = 7 * 24 * 3600.0
_SCHEMA = "hotpath.watch/1"


def folder(state_dir: Path) -> Path:
    return StateDir(state_dir).watch


def write(state_dir: Path, entries: Iterable[dict[str, Any]]) -> None:
    """Replace this process's file with ``entries`` (one per install: ``function``, ``signature``,
    ``variant`` and the numbers of ``Install.watch_summary``). Never raises: a report must not
    break the user's program."""
    rows = list(entries)
    try:
        where = folder(state_dir)
        where.mkdir(parents=True, exist_ok=True)
        target = where / f"{os.getpid()}.json"
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps({"schema": _SCHEMA, "pid": os.getpid(), "written": time.time(),
                                         "installs": rows}))
        temporary.replace(target)  # atomic: a reader never sees half a file
    except OSError:
        pass


def totals(state_dir: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(function, signature, variant) -> calls and checked calls summed over recent processes,
    with the shadow share and period of the most recently written one."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    now = time.time()
    for path in sorted(folder(state_dir).glob("*.json")) if folder(state_dir).is_dir() else ():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("schema") != _SCHEMA or now - float(data.get("written", 0)) > KEEP_S:
            continue
        for row in data.get("installs", ()):
            key = (row["function"], row["signature"], row["variant"])
            total = merged.setdefault(key, {"calls": 0, "checked": 0, "agreed_exceptions": 0, "written": 0.0})
            total["calls"] += int(row.get("calls", 0))
            total["checked"] += int(row.get("checked", 0))
            total["agreed_exceptions"] += int(row.get("agreed_exceptions", 0))
            if data["written"] >= total["written"]:
                total.update(written=data["written"], shadow_share=row.get("shadow_share", 0.0),
                             period=row.get("period", 0))
    return merged
