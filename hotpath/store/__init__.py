"""Persistence: tuning history, installed winners, barred variants and the audit log.

One SQLite file (``store.db``) in the state folder, shared by every process using that folder.
Generated sources, and the binaries ahead-of-time compilers built from them, stay files under
``kernels/``; the store records each one's SHA-256 with the winner and refuses, with an audit
entry, an artifact that no longer matches it. Paths inside the state folder are stored relative
to it, so a copied folder uses its own files. The audit chain is anchored in ``audit-anchor``
beside the store (``store/anchor.py``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotpath.errors import HotpathError
from hotpath.kernels.base import Candidate
from hotpath.statedir import StateDir
from hotpath.store import audit, names
from hotpath.store.anchor import AnchorDamaged, AnchorFile
from hotpath.store.db import Database, Transaction
from hotpath.store.verification import Verification
from hotpath.integrity import ArtifactRefused, check_artifact, environment, sha256_file

if TYPE_CHECKING:
    from hotpath.runner.trials import Trial

_open: dict[tuple[Path, bool], Store] = {}
#: Folders whose store could not be opened in this process, with why: warned about once.
_unavailable: dict[tuple[Path, bool], StoreUnavailable] = {}
_open_lock = threading.Lock()
log = logging.getLogger(__name__)


class StoreWarning(UserWarning):
    """The store of a state folder cannot be used: the program goes on, nothing persists."""


class StoreUnavailable(HotpathError):
    """The store file cannot be opened or read; the message is one line naming it and the fix."""


def _reset_after_fork() -> None:
    # SQLite connections must not cross a fork, and the lock may have been held at it.
    global _open_lock
    _open.clear()
    _open_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def unavailable(path: Path, exc: BaseException) -> StoreUnavailable:
    """``exc``, met opening or reading the store file ``path``, as one line with the fix."""
    cause = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc).lower() \
            or "malformed" in str(exc).lower():
        fix = "it is damaged: move it aside (hotpath starts a new one) or restore it from a backup"
    elif isinstance(exc, (sqlite3.OperationalError, OSError)) and ("readonly" in str(exc).lower()
                                                                   or "unable to open" in str(exc).lower()
                                                                   or isinstance(exc, PermissionError)):
        fix = "check that it and its folder exist and are readable (and writable, for a program that tunes)"
    elif isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "full" in str(exc).lower():
        fix = "free disk space in its folder"
    else:
        fix = "move it aside (hotpath starts a new one) or point HOTPATH_HOME at another folder"
    return StoreUnavailable(f"hotpath store {path} cannot be used ({cause}); {fix}")


@dataclass(frozen=True)
class FunctionId:
    """A function as the store knows it: where it lives and what its source (and globals) hash to.

    ``module`` is a module's name, or for a script's own function the script's resolved path
    (``store/names.py``): scripts run as ``__main__`` do not share their functions' names.
    """

    module: str
    qualname: str
    key: str

    @property
    def name(self) -> str:
        return f"{self.module}:{self.qualname}"

    @property
    def modules(self) -> tuple[str, str]:
        """The modules its rows may be under: a script's function may also have rows recorded
        as ``__main__`` by an older hotpath, found by the same key (same source, same globals)."""
        return self.module, names.MAIN if names.is_script(self.module) else self.module


@dataclass(frozen=True)
class StoredWinner:
    """An install row: enough to rebuild and re-check the candidate in a new process."""

    install_id: int
    candidate: Candidate
    source_sha256: str
    speedup: float
    mutates: bool
    created: float
    binaries: tuple[tuple[Path, str], ...] = ()  # built files the candidate loads, with their SHA-256


class Store:
    """The store of one state folder. Use ``Store.at(folder)``; instances are shared per process."""

    def __init__(self, state_dir: Path, read_only: bool = False) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.anchor = AnchorFile(StateDir(self.state_dir).audit_anchor)
        self.db = Database(StateDir(self.state_dir).store_db, read_only, on_upgrade=self._start_anchor)

    def _start_anchor(self, tx: Transaction, old_version: int) -> None:
        """Anchor the chain as it stands when a store is created or upgraded from a hotpath that
        did not anchor it. Inside the upgrade transaction: a crash leaves the store to be
        upgraded again, never at the anchored version without an anchor."""
        if old_version == 0 and self.anchor.exists() and not self._anchor_is_new():
            # A new store where an anchor is left: the store it belonged to was moved aside.
            moved = self.anchor.set_aside()
            log.warning("a new store was created in %s: the audit anchor of the store it replaces was moved to %s",
                        self.state_dir, moved)
        if not self.anchor.exists():
            self.anchor.start(*audit.head(tx))

    def _anchor_is_new(self) -> bool:
        try:
            marks = self.anchor.read()
        except AnchorDamaged:
            return False
        return marks is not None and [(m.count, m.head) for m in marks] == [(0, audit.GENESIS)]

    def stored_path(self, path: Path) -> str:
        """``path`` as the store keeps it: relative to the state folder when inside it."""
        try:
            return str(Path(path).resolve().relative_to(self.state_dir))
        except ValueError:
            return str(path)

    def local_path(self, stored: str) -> Path:
        """A stored path as a path in this state folder (absolute ones, as older stores kept them, as they are)."""
        path = Path(stored)
        return path if path.is_absolute() else self.state_dir / path

    @classmethod
    def at(cls, state_dir: Path, read_only: bool = False) -> Store:
        """The store of ``state_dir``, opened once per process (``read_only``: to look, never
        to write or create). Raises ``StoreUnavailable`` when it cannot be opened; the first
        time for a folder, a writer also warns (``StoreWarning``), so a program using a damaged
        store hears of it once, not at every call."""
        path = Path(state_dir).resolve()
        key = (path, read_only)
        with _open_lock:
            if key in _open:
                return _open[key]
            if key in _unavailable:
                raise _unavailable[key]
            try:
                _open[key] = store = cls(path, read_only)
                return store
            except (sqlite3.Error, OSError, RuntimeError) as exc:
                # An OSError may be about the audit anchor beside the store: name the file it names.
                named = Path(exc.filename) if isinstance(exc, OSError) and exc.filename else StateDir(path).store_db
                failure = unavailable(named, exc)
                _unavailable[key] = failure
        if not read_only:
            warnings.warn(f"{failure}; nothing will persist in this process", StoreWarning, stacklevel=2)
        raise failure

    # --- functions ----------------------------------------------------------------------
    @staticmethod
    def _function_row(tx: Any, fn: FunctionId) -> int:
        tx.execute("INSERT OR IGNORE INTO functions (module, qualname, source_hash) VALUES (?,?,?)",
                   (fn.module, fn.qualname, fn.key))
        row = tx.execute("SELECT id FROM functions WHERE module=? AND qualname=? AND source_hash=?",
                         (fn.module, fn.qualname, fn.key)).fetchone()
        return int(row["id"])

    @staticmethod
    def _twins(tx: Any, fn: FunctionId) -> list[int]:
        """The rows an older hotpath recorded ``fn`` under as ``__main__`` (same key): retired with it."""
        if fn.modules[1] == fn.module:
            return []
        return [int(r["id"]) for r in tx.execute("SELECT id FROM functions WHERE module=? AND qualname=? AND source_hash=?",
                                                 (names.MAIN, fn.qualname, fn.key))]

    # --- tuning results -----------------------------------------------------------------
    def record_tuning(self, fn: FunctionId, signature: str, trials: tuple[Trial, ...],
                      winner: Trial | None, mutates: bool = False, binaries: tuple[Path, ...] = (),
                      verification: Verification | None = None, duration_s: float | None = None,
                      baseline_s: float | None = None) -> int | None:
        """Record one tuning run and every trial in it; if there is a winner, make it the active
        install (audited). This row is the one record of the run: each trial is stored whole, as
        ``Trial.to_json`` (``queries.run_trials`` reads them back), with the run's wall time
        ``duration_s`` and the original's time ``baseline_s``.

        ``binaries`` are the built files the winner loads besides its source; each is
        checksummed with it (they must exist). ``verification``: the inputs the run verified on,
        their coverage, and the winner's guards in words, stored with the run and its install.
        """
        verification = verification or Verification()
        env = environment()
        now = time.time()
        with self.db.write() as tx:
            function_id = self._function_row(tx, fn)
            run_id = int(tx.execute(
                "INSERT INTO tuning_runs (function_id, signature, environment, created, inputs, lines_run,"
                " lines_total, duration_s, baseline_s) VALUES (?,?,?,?,?,?,?,?,?)",
                (function_id, signature, env, now, json.dumps(verification.inputs), verification.lines_run,
                 verification.lines_total, duration_s, baseline_s)).lastrowid or 0)
            trial_ids: dict[str, int] = {}
            for t in trials:
                record = t.to_json()
                cursor = tx.execute(
                    "INSERT INTO trials (function_id, signature, environment, backend, name, status, reason,"
                    " speedup, ci_low, ci_high, original_s, candidate_s, compile_s, created, run_id, record)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (function_id, signature, env, *_trial_columns(record), now, run_id,
                     json.dumps(record, default=str)))
                trial_ids[t.name] = int(cursor.lastrowid or 0)
            if winner is None or winner.candidate is None or winner.timing is None:
                return None
            candidate = winner.candidate
            built = [[self.stored_path(path), sha256_file(path)] for path in binaries]
            replaced = self._retire(tx, function_id, signature, env, "replaced by a new tuning run")
            cursor = tx.execute(
                "INSERT INTO installs (function_id, signature, environment, trial_id, backend, name, entry,"
                " options, adapters, source_path, source_sha256, namespace, namespace_sha256, speedup, mutates,"
                " created, binaries, guards) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (function_id, signature, env, trial_ids[winner.name], candidate.backend, candidate.name,
                 candidate.entry, json.dumps(candidate.options), json.dumps(candidate.adapters),
                 self.stored_path(candidate.path), sha256_file(candidate.path), candidate.namespace,
                 _sha(candidate.namespace), winner.timing.speedup, int(mutates), now, json.dumps(built),
                 json.dumps(list(verification.guards or ()))))
            install_id = int(cursor.lastrowid or 0)
            tx.execute("UPDATE tuning_runs SET install_id = ? WHERE id = ?", (install_id, run_id))
            row = tx.execute(audit.INSTALL_ROW + " WHERE i.id = ?", (install_id,)).fetchone()
            audit.append(tx, self.anchor, "install", fn.name, signature, {
                "variant": candidate.name, "backend": candidate.backend, "source": self.stored_path(candidate.path),
                "binaries": built,
                "speedup": winner.timing.speedup, "ci": [winner.timing.ci_low, winner.timing.ci_high],
                "pairs": winner.timing.pairs, "inputs_checked": winner.cases_checked,
                "guards": list(verification.guards or ()),
                "trial_ids": sorted(trial_ids.values()), "install_id": install_id, "environment": env,
                "install_digest": audit.install_digest(row), "retired_ids": replaced,
            })
            return install_id

    @staticmethod
    def _retire(tx: Any, function_id: int, signature: str | None, env: str | None, reason: str) -> list[int]:
        """Retire the matching active installs; their ids, for the audit entry that records it."""
        clauses, params = ["function_id = ?", "active = 1"], [function_id]
        if signature is not None:
            clauses.append("signature = ?")
            params.append(signature)  # type: ignore[arg-type]
        if env is not None:
            clauses.append("environment = ?")
            params.append(env)  # type: ignore[arg-type]
        where = " AND ".join(clauses)
        ids = [int(r["id"]) for r in tx.execute(f"SELECT id FROM installs WHERE {where} ORDER BY id", tuple(params))]
        tx.execute(f"UPDATE installs SET active = 0, retired = ?, retired_reason = ? WHERE {where}",
                   (time.time(), reason, *params))
        return ids

    # --- warm start ---------------------------------------------------------------------
    def find_winner(self, fn: FunctionId, signature: str) -> StoredWinner | None:
        rows = self.db.read(
            "SELECT i.* FROM installs i JOIN functions f ON f.id = i.function_id"
            " WHERE f.module IN (?,?) AND f.qualname=? AND f.source_hash=? AND i.signature=? AND i.environment=?"
            " AND i.active=1 ORDER BY i.id DESC LIMIT 1",
            (*fn.modules, fn.qualname, fn.key, signature, environment()))
        if not rows:
            return None
        r = rows[0]
        if _sha(r["namespace"]) != r["namespace_sha256"]:
            raise ArtifactRefused("the stored namespace of the winner does not match its checksum")
        candidate = Candidate(
            backend=r["backend"], name=r["name"],
            options=tuple((k, v) for k, v in json.loads(r["options"])),
            source="", entry=r["entry"], path=self.local_path(r["source_path"]), namespace=bytes(r["namespace"]),
            adapters=tuple(json.loads(r["adapters"])))
        binaries = tuple((self.local_path(path), sha) for path, sha in json.loads(r["binaries"]))
        return StoredWinner(int(r["id"]), candidate, r["source_sha256"], float(r["speedup"]), bool(r["mutates"]),
                            float(r["created"]), binaries)

    def log(self, action: str, fn: FunctionId, signature: str, detail: dict[str, Any]) -> None:
        """An audit entry on its own (warm installs, refusals)."""
        with self.db.write() as tx:
            audit.append(tx, self.anchor, action, fn.name, signature, detail)

    # --- rollback -----------------------------------------------------------------------
    def rollback(self, fn: FunctionId, signature: str, variant: str, reason: str,
                 evidence: dict[str, Any], action: str = "rollback") -> None:
        """Retire the install and bar ``variant`` for this signature; audited."""
        with self.db.write() as tx:
            function_id = self._function_row(tx, fn)
            retired = [i for row in (function_id, *self._twins(tx, fn)) for i in self._retire(tx, row, signature, None, reason)]
            tx.execute("INSERT OR REPLACE INTO barred (function_id, signature, name, reason, created)"
                       " VALUES (?,?,?,?,?)", (function_id, signature, variant, reason, time.time()))
            audit.append(tx, self.anchor, action, fn.name, signature,
                         {"variant": variant, "reason": reason, "retired_installs": len(retired),
                          "retired_ids": retired, **evidence})

    def manual_rollback(self, function: str, signature: str | None = None) -> int | None:
        """``hotpath rollback module:function``: retire matching installs in every environment.

        ``function`` is a name as the store records it (``store/names.py`` resolves what a user
        typed); a script's function takes with it rows an older hotpath recorded for the same
        code as ``__main__``. Returns how many were retired (audited, even when none was active), or ``None``, writing
        nothing, when the store knows no such function (or no install of it with ``signature``).
        """
        module, qualname = names.split(function)
        with self.db.write() as tx:
            rows = tx.execute("SELECT id, source_hash FROM functions WHERE module=? AND qualname=?",
                              (module, qualname)).fetchall()
            if not rows:
                return None
            ids = [r["id"] for r in rows] + [twin for r in rows
                                             for twin in self._twins(tx, FunctionId(module, qualname, r["source_hash"]))]
            if signature is not None and not tx.execute(
                    f"SELECT 1 FROM installs WHERE signature = ? AND function_id IN ({','.join('?' * len(ids))})",
                    (signature, *ids)).fetchone():
                return None
            retired = [i for fid in ids for i in self._retire(tx, fid, signature, None, "rolled back by hand")]
            audit.append(tx, self.anchor, "manual-rollback", function, signature or "*",
                         {"retired_installs": len(retired), "retired_ids": retired, "user": os.environ.get("USER", "")})
        return len(retired)

    def barred(self, fn: FunctionId, signature: str) -> set[str]:
        rows = self.db.read(
            "SELECT b.name FROM barred b JOIN functions f ON f.id = b.function_id"
            " WHERE f.module IN (?,?) AND f.qualname=? AND f.source_hash=? AND b.signature=?",
            (*fn.modules, fn.qualname, fn.key, signature))
        return {r["name"] for r in rows}

    # --- reading ------------------------------------------------------------------------
    def active_installs(self) -> list[dict[str, Any]]:
        """The active installs; ``kernel`` is the variant's source here, ``kernel_missing`` the
        files it needs that are gone (a warm start refuses such an install and runs the original)."""
        binaries = "i.binaries" if self._schema() >= 2 else "'[]' AS binaries"
        rows = self.db.read(
            "SELECT f.module, f.qualname, i.signature, i.backend, i.name, i.speedup, i.created, i.environment,"
            f" i.source_path, {binaries}"
            " FROM installs i JOIN functions f ON f.id = i.function_id WHERE i.active = 1 ORDER BY i.created")
        out = []
        for r in rows:
            row = dict(r)
            kernel = self.local_path(row.pop("source_path"))
            needed = [kernel, *(self.local_path(path) for path, _ in json.loads(row.pop("binaries") or "[]"))]
            row["kernel"] = str(kernel)
            row["kernel_missing"] = [str(path) for path in needed if not path.is_file()]
            out.append(row)
        return out

    def _schema(self) -> int:
        # A store older than this hotpath, opened read-only, is read as it is (not migrated).
        return int(self.db.read("PRAGMA user_version")[0][0])

    def audit_entries(self, function: str | None = None) -> list[audit.AuditEntry]:
        return audit.entries(self.db, function)

    def verify_audit(self) -> str | None:
        """``None`` when the audit log is intact, else a sentence naming the first problem."""
        return audit.verify(self.db, self.anchor)

    def check_audit(self) -> audit.ChainCheck:
        """The audit log checked against its anchor and the installs table, with its head."""
        return audit.check(self.db, self.anchor)


def _trial_columns(record: dict[str, Any]) -> tuple[Any, ...]:
    """The flat columns of a trial row, read off its ``Trial.to_json`` record: a view of the
    record for queries (and the form stores written before records were kept in)."""
    timing = record.get("timing") or {}
    return (record["backend"], record["name"], record["status"], record["reason"], timing.get("speedup"),
            timing.get("ci_low"), timing.get("ci_high"), timing.get("original_s"), timing.get("candidate_s"),
            record.get("compile_s"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
