"""The audit log: append-only, each entry carrying the hash of the one before it.

An entry's hash covers its own fields and the previous hash, so editing or deleting any row
breaks every hash after it; ``verify`` recomputes the chain and names the first bad entry.
Entries are written in the same transaction as the change they record.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from hotpath.store.db import Database, Transaction

GENESIS = "0" * 64


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


def _digest(prev_hash: str, created: float, action: str, function: str, signature: str, detail: str) -> str:
    payload = json.dumps([prev_hash, repr(created), action, function, signature, detail])
    return hashlib.sha256(payload.encode()).hexdigest()


def append(tx: Transaction, action: str, function: str, signature: str, detail: dict[str, Any]) -> int:
    """Add an entry inside the caller's write transaction; returns its id."""
    row = tx.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev_hash = row["hash"] if row else GENESIS
    created = time.time()
    text = json.dumps(detail, sort_keys=True, default=str)
    entry_hash = _digest(prev_hash, created, action, function, signature, text)
    cursor = tx.execute(
        "INSERT INTO audit (created, action, function, signature, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?)",
        (created, action, function, signature, text, prev_hash, entry_hash),
    )
    return int(cursor.lastrowid or 0)


def entries(db: Database, function: str | None = None) -> list[AuditEntry]:
    sql = "SELECT * FROM audit" + (" WHERE function = ?" if function else "") + " ORDER BY id"
    rows = db.read(sql, (function,) if function else ())
    return [AuditEntry(r["id"], r["created"], r["action"], r["function"], r["signature"],
                       json.loads(r["detail"]), r["prev_hash"], r["hash"]) for r in rows]


def verify(db: Database) -> str | None:
    """``None`` when the chain is intact, else a sentence naming the first bad entry."""
    prev_hash = GENESIS
    expected_id = None
    for row in db.read("SELECT * FROM audit ORDER BY id"):
        if expected_id is not None and row["id"] != expected_id:
            return f"entry {expected_id} is missing (the log jumps to {row['id']})"
        if row["prev_hash"] != prev_hash:
            return f"entry {row['id']} does not follow entry {row['id'] - 1}: an entry was removed or edited"
        recomputed = _digest(row["prev_hash"], row["created"], row["action"], row["function"],
                             row["signature"], row["detail"])
        if recomputed != row["hash"]:
            return f"entry {row['id']} ({row['action']} {row['function']}) was edited after it was written"
        prev_hash = row["hash"]
        expected_id = row["id"] + 1
    return None
