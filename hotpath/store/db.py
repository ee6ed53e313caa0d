"""The SQLite store: one file per state folder, WAL mode, short IMMEDIATE write transactions.

Several processes may share a state folder (pytest-xdist, a multiprocessing pool): SQLite's
locking serialises writers, ``busy_timeout`` makes them wait instead of failing, and every
change is one transaction, so a process killed mid-write leaves either all of it or none.
The schema is versioned; ``MIGRATIONS[n]`` takes a store from version ``n`` to ``n + 1``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = 5

MIGRATIONS: dict[int, str] = {
    0: """
    CREATE TABLE functions (
        id INTEGER PRIMARY KEY,
        module TEXT NOT NULL,
        qualname TEXT NOT NULL,
        source_hash TEXT NOT NULL,
        UNIQUE (module, qualname, source_hash)
    );
    CREATE TABLE trials (
        id INTEGER PRIMARY KEY,
        function_id INTEGER NOT NULL REFERENCES functions(id),
        signature TEXT NOT NULL,
        environment TEXT NOT NULL,
        backend TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        speedup REAL, ci_low REAL, ci_high REAL,
        original_s REAL, candidate_s REAL, compile_s REAL,
        created REAL NOT NULL
    );
    CREATE TABLE installs (
        id INTEGER PRIMARY KEY,
        function_id INTEGER NOT NULL REFERENCES functions(id),
        signature TEXT NOT NULL,
        environment TEXT NOT NULL,
        trial_id INTEGER REFERENCES trials(id),
        backend TEXT NOT NULL,
        name TEXT NOT NULL,
        entry TEXT NOT NULL,
        options TEXT NOT NULL,
        adapters TEXT NOT NULL,
        source_path TEXT NOT NULL,
        source_sha256 TEXT NOT NULL,
        namespace BLOB NOT NULL,
        namespace_sha256 TEXT NOT NULL,
        speedup REAL NOT NULL,
        mutates INTEGER NOT NULL DEFAULT 0,
        active INTEGER NOT NULL DEFAULT 1,
        created REAL NOT NULL,
        retired REAL,
        retired_reason TEXT
    );
    CREATE INDEX installs_lookup ON installs (function_id, signature, environment, active);
    CREATE TABLE barred (
        function_id INTEGER NOT NULL REFERENCES functions(id),
        signature TEXT NOT NULL,
        name TEXT NOT NULL,
        reason TEXT NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (function_id, signature, name)
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        created REAL NOT NULL,
        action TEXT NOT NULL,
        function TEXT NOT NULL,
        signature TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    """,
    # The built binaries a winner loads besides its source (Cython's and Pythran's shared
    # objects), as JSON [[path, sha256], ...], checked like the source at warm start. Installs
    # recorded before have none listed, so a backend that needs one refuses them.
    1: """
    ALTER TABLE installs ADD COLUMN binaries TEXT NOT NULL DEFAULT '[]';
    """,
    # What each tuning run verified on (inputs by rule, as JSON [[rule, count], ...], and the
    # original's lines they executed) and the guards its install carries, in words (JSON list).
    # Runs recorded before have no row here; their installs list guards as NULL (not recorded).
    2: """
    CREATE TABLE tuning_runs (
        id INTEGER PRIMARY KEY,
        function_id INTEGER NOT NULL REFERENCES functions(id),
        signature TEXT NOT NULL,
        environment TEXT NOT NULL,
        created REAL NOT NULL,
        inputs TEXT NOT NULL,
        lines_run INTEGER,
        lines_total INTEGER,
        install_id INTEGER REFERENCES installs(id)
    );
    CREATE INDEX tuning_runs_lookup ON tuning_runs (function_id, signature, created);
    ALTER TABLE installs ADD COLUMN guards TEXT;
    """,
    # No table changes: from this version on the audit chain is anchored in a file beside the
    # store (``store/anchor.py``), started by ``Store`` in the upgrade transaction; an install
    # entry carries its row's digest and every retiring entry the ids it retired.
    3: "",
    # The tuning run becomes the one record of itself: each trial keeps its whole record
    # (``Trial.to_json``, read back with ``Trial.from_json``) and the run it belongs to, and the
    # run keeps its wall time and the original's time. The flat trial columns stay as a view of
    # the record, for queries and for stores written before; runs recorded before have NULL here.
    4: """
    ALTER TABLE trials ADD COLUMN record TEXT;
    ALTER TABLE trials ADD COLUMN run_id INTEGER REFERENCES tuning_runs(id);
    ALTER TABLE tuning_runs ADD COLUMN duration_s REAL;
    ALTER TABLE tuning_runs ADD COLUMN baseline_s REAL;
    CREATE INDEX trials_run ON trials (run_id);
    """,
}


class Database:
    """A connection per thread to one store file, with the schema brought up to date.

    ``read_only`` opens it with SQLite's ``mode=ro``: nothing is created, migrated or locked for
    writing, so a reader works on a folder it cannot write (``hotpath status``, ``audit``).
    """

    def __init__(self, path: Path, read_only: bool = False,
                 on_upgrade: Callable[[Transaction, int], None] | None = None) -> None:
        """``on_upgrade(tx, old_version)`` runs inside the transaction that brings a store
        (a new one: version 0) up to ``SCHEMA_VERSION``, after the migrations."""
        self.path = path
        self.read_only = read_only
        self._local = threading.local()
        if read_only:
            version = self.connection().execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{path} has schema version {version}, newer than this hotpath "
                                   f"understands ({SCHEMA_VERSION}); upgrade hotpath or use another HOTPATH_HOME")
            # A store older than this hotpath is read as it is: its missing columns are not read here.
            self.connection().execute("SELECT count(*) FROM installs").fetchone()  # a database, with our tables
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{path} has schema version {version}, newer than this hotpath "
                                   f"understands ({SCHEMA_VERSION}); upgrade hotpath or use another HOTPATH_HOME")
            for step in range(version, SCHEMA_VERSION):
                db.executescript_in_transaction(MIGRATIONS[step])
            if version < SCHEMA_VERSION and on_upgrade is not None:
                on_upgrade(db, version)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None and self.read_only:
            connection = self._open_read_only(immutable=False)
            try:
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:
                if not self._unwritable_and_quiet():
                    raise
                # A WAL store in a folder this user cannot write: SQLite cannot create the
                # shared-memory file a reader needs. Nobody can be writing it from here and
                # nothing waits in a WAL file, so the main file is the whole store.
                connection.close()
                connection = self._open_read_only(immutable=True)
            self._local.connection = connection
        elif connection is None:
            connection = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA busy_timeout = 60000")
            self._local.connection = connection
        return connection

    def _open_read_only(self, immutable: bool) -> sqlite3.Connection:
        uri = f"{self.path.resolve().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}"
        connection = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 60000")
        return connection

    def _unwritable_and_quiet(self) -> bool:
        wal = self.path.with_name(self.path.name + "-wal")
        return not os.access(self.path.parent, os.W_OK) and (not wal.exists() or wal.stat().st_size == 0)

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """One IMMEDIATE transaction: the write lock is taken up front, so no deadlock on upgrade."""
        connection = self.connection()
        connection.execute("BEGIN IMMEDIATE")
        tx = Transaction(connection)
        try:
            yield tx
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        tx.committed()

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        connection = self.connection()
        connection.row_factory = sqlite3.Row
        return connection.execute(sql, params).fetchall()


class Transaction:
    """One write transaction; ``after_commit`` work runs once it has committed, never if it fails."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._connection.row_factory = sqlite3.Row
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, work: Callable[[], None]) -> None:
        """Run ``work`` after the commit (in order): what must describe committed data only."""
        self._after_commit.append(work)

    def committed(self) -> None:
        """Called by ``Database.write`` after COMMIT; an error here propagates, the data stays."""
        for work in self._after_commit:
            work()

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        return self._connection.execute(sql, params)

    def executescript_in_transaction(self, script: str) -> None:
        # executescript() would COMMIT first; statements one by one stay inside our transaction.
        for statement in script.split(";"):
            if statement.strip():
                self._connection.execute(statement)
