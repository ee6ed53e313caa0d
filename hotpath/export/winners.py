"""The live winners of a state folder, with what an exported hunk says about each.

Read-only: one query over the store's installs, their trials (for the confidence interval) and
their tuning runs (for the inputs they were verified on). The store's module stays the only
writer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hotpath.store import Store
from hotpath.store.verification import Verification


@dataclass(frozen=True)
class Winner:
    """One active install: the variant serving one signature of one function."""

    module: str
    qualname: str
    key: str  # the store's key of the function as it was tuned (source, helpers, global values)
    signature: str
    backend: str
    name: str  # the variant, e.g. ``numba+finite-guard``
    entry: str  # the function's name inside the generated file
    adapters: tuple[str, ...]
    source_path: Path  # the generated variant
    speedup: float
    ci: tuple[float, float] | None
    verification: Verification
    created: float

    @property
    def function(self) -> str:
        return f"{self.module}:{self.qualname}"


def live(store: Store) -> list[Winner]:
    """Every active install, newest last; per function key and signature only the newest."""
    rows = store.db.read(
        "SELECT f.module, f.qualname, f.source_hash, i.id, i.signature, i.backend, i.name, i.entry, i.adapters,"
        " i.source_path, i.speedup, i.created, t.ci_low, t.ci_high"
        " FROM installs i JOIN functions f ON f.id = i.function_id LEFT JOIN trials t ON t.id = i.trial_id"
        " WHERE i.active = 1 ORDER BY i.created, i.id")
    runs = _verifications(store)
    newest: dict[tuple[str, str, str, str], Winner] = {}
    for r in rows:
        ci = (float(r["ci_low"]), float(r["ci_high"])) if r["ci_low"] is not None else None
        winner = Winner(r["module"], r["qualname"], r["source_hash"], r["signature"], r["backend"], r["name"],
                        r["entry"], tuple(json.loads(r["adapters"])), _local(store, r["source_path"]), float(r["speedup"]),
                        ci, runs.get(int(r["id"]), Verification()), float(r["created"]))
        newest[(winner.module, winner.qualname, winner.key, winner.signature)] = winner
    return sorted(newest.values(), key=lambda w: w.created)


def _local(store: Store, stored: str) -> Path:
    """A stored path as a file: paths inside the state folder may be kept relative to it."""
    path = Path(stored)
    return path if path.is_absolute() else Path(store.state_dir) / path


def _verifications(store: Store) -> dict[int, Verification]:
    """Install id -> what its tuning run verified on (absent in stores of an older hotpath)."""
    if int(store.db.read("PRAGMA user_version")[0][0]) < 3:
        return {}
    rows = store.db.read("SELECT install_id, inputs, lines_run, lines_total FROM tuning_runs"
                         " WHERE install_id IS NOT NULL")
    return {int(r["install_id"]): Verification(tuple((rule, int(n)) for rule, n in json.loads(r["inputs"])),
                                               r["lines_run"], r["lines_total"]) for r in rows}
