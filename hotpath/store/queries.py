"""Read-only queries over the store for reports: every trial, every install, the audit log.

Nothing here writes; the store's own module stays the only writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hotpath.statedir import StateDir

from hotpath.store import Store
from hotpath.store.audit import AuditEntry


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


def installs(store: Store) -> list[InstallRow]:
    rows = store.db.read(
        "SELECT f.module, f.qualname, i.signature, i.name, i.backend, i.speedup, i.created, i.active, i.retired,"
        " i.retired_reason FROM installs i JOIN functions f ON f.id = i.function_id ORDER BY i.created, i.id")
    return [InstallRow(f"{r['module']}:{r['qualname']}", r["signature"], r["name"], r["backend"], float(r["speedup"]),
                       float(r["created"]), bool(r["active"]), r["retired"], r["retired_reason"]) for r in rows]


def audit(store: Store) -> list[AuditEntry]:
    return store.audit_entries()
