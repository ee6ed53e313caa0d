"""The audit log: append-only, each entry carrying the hash of the one before it.

An entry's hash covers its own fields and the previous hash, so editing or deleting any row
breaks every hash after it; ``check`` recomputes the chain and names the first bad entry.
Entries are written in the same transaction as the change they record.

Two things the chain alone cannot show are checked against records it does not contain:

- a chain cut at its end, emptied, or rebuilt with every hash recomputed: each entry's count
  and hash also go to the anchor file beside the store (``anchor``), compared line by line;
- a change to the ``installs`` table (a retired install made active again, a path or checksum
  rewritten): each install entry carries a digest of its row and the ids it retired, each
  rollback the ids it retired, so the installs' states can be replayed from the log.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hotpath.store.anchor import AnchorDamaged, AnchorFile, Mark
from hotpath.store.db import Database, Transaction

GENESIS = "0" * 64

#: An install row's fields as the digest in its audit entry covers them (``installs`` joined
#: with ``functions``); everything a warm start reads to rebuild and trust the variant.
INSTALL_ROW = (
    "SELECT i.id, i.active, f.module, f.qualname, f.source_hash, i.signature, i.environment, i.backend, i.name,"
    " i.entry, i.options, i.adapters, i.source_path, i.source_sha256, i.namespace_sha256, i.speedup, i.mutates,"
    " i.created, i.binaries FROM installs i JOIN functions f ON f.id = i.function_id")
_DIGESTED = ("module", "qualname", "source_hash", "signature", "environment", "backend", "name", "entry",
             "options", "adapters", "source_path", "source_sha256", "namespace_sha256", "speedup", "mutates",
             "created", "binaries")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    created: float
    action: str  # "install", "warm-install", "rollback", "refusal", "manual-rollback", ...
    function: str
    signature: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainCheck:
    """What ``check`` found: ``problem`` is ``None`` when the log is intact."""

    problem: str | None
    entries: int
    head: str
    anchored: int = 0  # entries the anchor vouches for (the newest line's count)
    anchor_start: Mark | None = None  # the chain as it stood when the anchor was started
    note: str = ""  # intact, but worth saying (entries written after the anchor's newest line)


def entry_hash(prev_hash: str, created: float, action: str, function: str, signature: str, detail: str) -> str:
    """An entry's hash: its fields (``detail`` as stored, JSON) and the hash of the entry before."""
    payload = json.dumps([prev_hash, repr(created), action, function, signature, detail])
    return hashlib.sha256(payload.encode()).hexdigest()


def install_digest(row: Mapping[str, Any] | sqlite3.Row) -> str:
    """The SHA-256 of an install row as ``INSTALL_ROW`` reads it."""
    return hashlib.sha256(json.dumps([row[k] for k in _DIGESTED]).encode()).hexdigest()


def rounded(value: Any) -> Any:
    """``value`` with its floats kept to 4 significant digits (speedups, seconds), but never
    coarser than a millisecond (timestamps), in lists and dicts too: the log is read by people."""
    if isinstance(value, float) and math.isfinite(value) and value != 0.0:
        digits = max(4, math.floor(math.log10(abs(value))) + 4)
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


def append(tx: Transaction, anchor: AnchorFile, action: str, function: str, signature: str,
           detail: dict[str, Any]) -> int:
    """Add an entry inside the caller's write transaction and anchor it once that commits;
    returns its id."""
    row = tx.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev_hash = row["hash"] if row else GENESIS
    created = time.time()
    text = json.dumps(rounded(detail), sort_keys=True, default=str)
    digest = entry_hash(prev_hash, created, action, function, signature, text)
    cursor = tx.execute(
        "INSERT INTO audit (created, action, function, signature, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?)",
        (created, action, function, signature, text, prev_hash, digest),
    )
    count = int(tx.execute("SELECT count(*) FROM audit").fetchone()[0])
    # After the commit, not before: every anchor line then names an entry that exists, and a
    # process killed in between leaves the anchor behind the chain (allowed), never ahead.
    tx.after_commit(lambda: anchor.record(count, digest, prev_hash))
    return int(cursor.lastrowid or 0)


def _holds(stored: str, key: Mapping[str, Any]) -> bool:
    detail = json.loads(stored)
    wanted = json.loads(json.dumps(rounded(dict(key)), default=str))  # as ``append`` would have stored it
    return all(detail.get(k) == v for k, v in wanted.items())


_SAME_KIND = "SELECT detail FROM audit WHERE action = ? AND function = ? AND signature = ?"


def logged(db: Database, action: str, function: str, signature: str, key: Mapping[str, Any]) -> bool:
    """Whether the log holds an ``action`` entry for ``function`` and ``signature`` whose detail
    has every item of ``key``: a read, so a writer can skip its transaction when it does."""
    return any(_holds(r["detail"], key) for r in db.read(_SAME_KIND, (action, function, signature)))


def append_once(tx: Transaction, anchor: AnchorFile, action: str, function: str, signature: str,
                detail: dict[str, Any], key: Mapping[str, Any]) -> int | None:
    """``append``, unless an ``action`` entry for ``function`` and ``signature`` with every item
    of ``key`` in its detail is already there (checked inside ``tx``, so two processes never
    both write it); the new entry's id, ``None`` when it was there."""
    rows = tx.execute(_SAME_KIND, (action, function, signature)).fetchall()
    if any(_holds(r["detail"], key) for r in rows):
        return None
    return append(tx, anchor, action, function, signature, detail)


def head(tx: Transaction) -> tuple[int, str]:
    """The chain's entry count and newest hash, read inside ``tx``."""
    row = tx.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    count = int(tx.execute("SELECT count(*) FROM audit").fetchone()[0])
    return count, (row["hash"] if row else GENESIS)


def entries(db: Database, function: str | None = None) -> list[AuditEntry]:
    sql = "SELECT * FROM audit" + (" WHERE function = ?" if function else "") + " ORDER BY id"
    rows = db.read(sql, (function,) if function else ())
    return [AuditEntry(r["id"], r["created"], r["action"], r["function"], r["signature"],
                       json.loads(r["detail"]), r["prev_hash"], r["hash"]) for r in rows]


def verify(db: Database, anchor: AnchorFile) -> str | None:
    """``None`` when the log is intact, else a sentence naming the first problem."""
    return check(db, anchor).problem


def check(db: Database, anchor: AnchorFile) -> ChainCheck:
    """Recompute the chain, compare it with the anchor file and replay the installs' states."""
    rows = db.read("SELECT * FROM audit ORDER BY id")
    hashes: list[str] = []
    problem = _chain_problem(rows, hashes)
    head_hash = hashes[-1] if hashes else GENESIS
    if problem:
        return ChainCheck(problem, len(rows), head_hash)
    try:
        marks = anchor.read()
    except AnchorDamaged as exc:
        return ChainCheck(str(exc), len(rows), head_hash)
    if marks is None:
        if rows:
            return ChainCheck(f"the anchor file {anchor.path} is missing: the end of the chain cannot be checked "
                              "(it was removed; any hotpath run that writes this store starts a new one)",
                              len(rows), head_hash)
        return ChainCheck(_installs_problem(db, rows), 0, head_hash)
    problem = _anchor_problem(marks, hashes, anchor)
    if problem:
        return ChainCheck(problem, len(rows), head_hash)
    anchored = max((m.count for m in marks), default=0)
    start = marks[0] if marks and marks[0].started is not None else None
    behind = len(rows) - anchored
    note = (f"the newest {behind} {'entry is' if behind == 1 else 'entries are'} not in the anchor yet "
            "(a process stopped between writing an entry and anchoring it)") if behind > 0 else ""
    return ChainCheck(_installs_problem(db, rows), len(rows), head_hash, anchored, start, note)


def _chain_problem(rows: list[Any], hashes: list[str]) -> str | None:
    prev_hash = GENESIS
    expected_id = 1
    for row in rows:
        if row["id"] != expected_id:
            return f"entry {expected_id} is missing (the log jumps to {row['id']})"
        if row["prev_hash"] != prev_hash:
            return f"entry {row['id']} does not follow entry {row['id'] - 1}: an entry was removed or edited"
        recomputed = entry_hash(row["prev_hash"], row["created"], row["action"], row["function"],
                             row["signature"], row["detail"])
        if recomputed != row["hash"]:
            return f"entry {row['id']} ({row['action']} {row['function']}) was edited after it was written"
        prev_hash = row["hash"]
        hashes.append(prev_hash)
        expected_id = row["id"] + 1
    return None


def _anchor_problem(marks: tuple[Mark, ...], hashes: list[str], anchor: AnchorFile) -> str | None:
    anchored = max((mark.count for mark in marks), default=0)
    if anchored > len(hashes):
        missing = anchored - len(hashes)
        return (f"the anchor {anchor.path} records {anchored} {'entry' if anchored == 1 else 'entries'} "
                f"but the log has {len(hashes)}: "
                f"the newest {'entry was' if missing == 1 else f'{missing} entries were'} deleted")
    for mark in marks:
        if mark.head != (hashes[mark.count - 1] if mark.count else GENESIS):
            return (f"entry {mark.count} is not the one the anchor {anchor.path} recorded: it was edited and "
                    "the hashes after it recomputed (or the store was replaced)")
    return None


def _installs_problem(db: Database, rows: list[Any]) -> str | None:
    """Replay the installs' states from the log and compare them with the ``installs`` table.

    Installs recorded by a hotpath that wrote no digest are checked only for being active after
    an entry retired them; rows no install entry names were added outside hotpath.
    """
    active: dict[int, bool] = {}
    digests: dict[int, str] = {}
    introduced: dict[int, int] = {}
    for row in rows:
        detail = json.loads(row["detail"])
        for retired in detail.get("retired_ids", ()):
            active[int(retired)] = False
        if row["action"] == "install" and "install_id" in detail:
            install_id = int(detail["install_id"])
            active[install_id] = True
            introduced[install_id] = row["id"]
            if "install_digest" in detail:
                digests[install_id] = detail["install_digest"]
            else:
                digests.pop(install_id, None)
    if int(db.read("PRAGMA user_version")[0][0]) < 2:
        return None  # a store older than built binaries, opened read-only: rows without digests
    if not active:
        if db.read("SELECT count(*) FROM installs")[0][0]:
            return "the installs table has rows no audit entry recorded: they were added outside hotpath"
        return None
    seen = set()
    for install in db.read(INSTALL_ROW + " ORDER BY i.id"):
        install_id = int(install["id"])
        seen.add(install_id)
        what = f"install {install_id} ({install['module']}:{install['qualname']} {install['name']})"
        if install_id not in introduced:
            return f"{what} is in no audit entry: it was added outside hotpath"
        covered = install_id in digests
        if covered and install_digest(install) != digests[install_id]:
            return f"{what} was edited after entry {introduced[install_id]} recorded it"
        if install["active"] and not active[install_id]:
            return f"{what} is active, but the audit log retired it: it was re-activated outside hotpath"
        if covered and not install["active"] and active[install_id]:
            return f"{what} is retired, but no audit entry retired it"
    gone = sorted(i for i in digests if i not in seen)
    if gone:
        return f"install {gone[0]}, recorded in entry {introduced[gone[0]]}, was deleted from the installs table"
    return None
