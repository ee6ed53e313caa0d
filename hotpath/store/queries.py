"""Read-only queries over the store for reports: every tuning run, trial, install, the audit log.

Nothing here writes; the store's own module stays the only writer. A tuning run's row is the
one record of it (``Store.record_tuning``): its trials read back whole with ``run_trials``; the
flat ``TrialRow`` columns are a view of the same record, kept for tables and older stores.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hotpath.statedir import StateDir

from hotpath.store import Store
from hotpath.store.audit import AuditEntry
from hotpath.store.verification import Verification

if TYPE_CHECKING:
    from hotpath.runner.trials import Trial


@dataclass(frozen=True)
class TrialRow:
    """One candidate tried for one function and signature, as recorded."""

    function: str  # module:qualname
    source_hash: str
    signature: str
    environment: str
    backend: str
    name: str
    status: str
    reason: str
    speedup: float | None
    ci_low: float | None
    ci_high: float | None
    original_s: float | None
    candidate_s: float | None
    compile_s: float | None
    created: float  # the tuning run's record time; trials of one run share it


@dataclass(frozen=True)
class RunRow:
    """One recorded tuning run of one function and signature (its trials: ``run_trials``)."""

    id: int
    function: str  # module:qualname
    signature: str
    created: float  # when it was recorded; its trials and its install carry the same time
    duration_s: float | None  # its wall time, start to record; None: recorded by an older hotpath
    baseline_s: float | None  # the original's time per call on the captured arguments
    verification: Verification  # inputs by rule, coverage, the install's guards


@dataclass(frozen=True)
class InstallRow:
    function: str
    signature: str
    name: str
    backend: str
    speedup: float
    created: float
    active: bool
    retired: float | None
    retired_reason: str | None
    guards: tuple[str, ...] | None = None  # the guards it carries, in words; None: not recorded


def open_existing(state_dir: Path) -> Store | None:
    """The store of ``state_dir`` opened read-only, or ``None`` when nothing was ever recorded
    there (``StoreUnavailable`` when it cannot be read)."""
    if not StateDir(Path(state_dir)).store_db.exists():
        return None
    return Store.at(Path(state_dir), read_only=True)


def trials(store: Store) -> list[TrialRow]:
    rows = store.db.read(
        "SELECT f.module, f.qualname, f.source_hash, t.signature, t.environment, t.backend, t.name, t.status,"
        " t.reason, t.speedup, t.ci_low, t.ci_high, t.original_s, t.candidate_s, t.compile_s, t.created"
        " FROM trials t JOIN functions f ON f.id = t.function_id ORDER BY t.created, t.id")
    return [TrialRow(f"{r['module']}:{r['qualname']}", r["source_hash"], r["signature"], r["environment"], r["backend"],
                     r["name"], r["status"], r["reason"], r["speedup"], r["ci_low"], r["ci_high"], r["original_s"],
                     r["candidate_s"], r["compile_s"], float(r["created"])) for r in rows]


def _recorded_verification(store: Store) -> bool:
    return _schema(store) >= 3


def _guards(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(json.loads(text))


def installs(store: Store) -> list[InstallRow]:
    guards = "i.guards" if _recorded_verification(store) else "NULL AS guards"
    rows = store.db.read(
        "SELECT f.module, f.qualname, i.signature, i.name, i.backend, i.speedup, i.created, i.active, i.retired,"
        f" i.retired_reason, {guards} FROM installs i JOIN functions f ON f.id = i.function_id ORDER BY i.created, i.id")
    return [InstallRow(f"{r['module']}:{r['qualname']}", r["signature"], r["name"], r["backend"], float(r["speedup"]),
                       float(r["created"]), bool(r["active"]), r["retired"], r["retired_reason"], _guards(r["guards"]))
            for r in rows]


def _schema(store: Store) -> int:
    # A store written by an older hotpath, opened read-only, is not migrated: it lacks newer columns.
    return int(store.db.read("PRAGMA user_version")[0][0])


def runs(store: Store) -> list[RunRow]:
    """Every recorded tuning run, oldest first. Runs recorded before the store kept what they
    verified on (schema 3) are absent; before it kept their times (schema 5) their times are None."""
    if _schema(store) < 3:
        return []
    times = "r.duration_s, r.baseline_s" if _schema(store) >= 5 else "NULL AS duration_s, NULL AS baseline_s"
    rows = store.db.read(
        f"SELECT r.id, f.module, f.qualname, r.signature, r.created, {times}, r.inputs, r.lines_run, r.lines_total,"
        " i.guards FROM tuning_runs r JOIN functions f ON f.id = r.function_id"
        " LEFT JOIN installs i ON i.id = r.install_id ORDER BY r.created, r.id")
    return [RunRow(int(r["id"]), f"{r['module']}:{r['qualname']}", r["signature"], float(r["created"]),
                   r["duration_s"], r["baseline_s"],
                   Verification(tuple((rule, int(n)) for rule, n in json.loads(r["inputs"])), r["lines_run"],
                                r["lines_total"], _guards(r["guards"]) if r["guards"] is not None else ()))
            for r in rows]


def run_trials(store: Store, run_id: int) -> tuple[Trial, ...]:
    """The trials of run ``run_id`` as they were recorded (``Trial.from_json`` of each stored
    ``Trial.to_json``), in the order tried. Empty for a run recorded before trials were kept whole."""
    if _schema(store) < 5:
        return ()
    # Imported here: only this reader needs the runner's record types, and the report's other
    # queries need not load the runner (and NumPy with it) to draw a table.
    from hotpath.runner.trials import Trial

    rows = store.db.read("SELECT record FROM trials WHERE run_id = ? AND record IS NOT NULL ORDER BY id", (run_id,))
    return tuple(Trial.from_json(json.loads(r["record"])) for r in rows)


def verifications(store: Store) -> dict[tuple[str, str, float], Verification]:
    """What each recorded tuning run verified on and its install's guards, by (module:function,
    signature, created) as its trials carry them. Runs recorded by an older hotpath are absent."""
    return {(run.function, run.signature, run.created): run.verification for run in runs(store)}


def function_names(store: Store) -> list[str]:
    """Every function the store has recorded, as ``module:qualname``, sorted."""
    return [f"{r['module']}:{r['qualname']}" for r in
            store.db.read("SELECT DISTINCT module, qualname FROM functions ORDER BY module, qualname")]


def near_names(name: str, known: list[str]) -> list[str]:
    """The recorded names ``name`` may have meant: same function name in any module, else close spellings."""
    qualname = name.rpartition(":")[2]
    same = [k for k in known if k.rpartition(":")[2] == qualname]
    if same:
        return same
    by_qualname = {k.rpartition(":")[2]: k for k in known}
    close = difflib.get_close_matches(qualname, list(by_qualname), n=3, cutoff=0.75)
    return [by_qualname[c] for c in close] or difflib.get_close_matches(name, known, n=3, cutoff=0.75)


def audit(store: Store) -> list[AuditEntry]:
    return store.audit_entries()
