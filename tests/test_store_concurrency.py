"""Many processes on one store, and one killed mid-write: the store stays whole."""

import signal
import sqlite3
import subprocess
import sys

import pytest

from hotpath.store import Store

WORKERS = 8
OPERATIONS = 200


@pytest.mark.slow
def test_parallel_writers_and_a_sigkill_leave_a_consistent_store(tmp_path):
    artifact = tmp_path / "variant.py"
    artifact.write_text("def kernel(a):\n    return a\n")
    home = tmp_path / "state"
    Store.at(home)  # create the schema once, as the first process would

    def start(worker: str, operations: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "tests.store_worker", str(home), worker, str(operations),
                                 str(artifact)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    victim = start("victim", 100_000)
    victim.stdout.readline()  # it is writing
    writers = [start(str(i), OPERATIONS) for i in range(WORKERS)]
    writers[0].stdout.readline()  # the writers are contending with the victim now
    victim.send_signal(signal.SIGKILL)  # somewhere in the middle of a write
    victim.wait()
    for position, writer in enumerate(writers):
        # Read through the same text buffer readline() filled: communicate() reads the pipe
        # underneath it and would lose the lines that readline() had buffered but not returned.
        out = writer.stdout.read()
        err = writer.stderr.read()
        writer.wait(timeout=300)
        assert writer.returncode == 0, err
        assert len(out.split()) == OPERATIONS - (position == 0)  # one line of the first was read above

    db = sqlite3.connect(home / "store.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = Store.at(home)
    assert store.verify_audit() is None
    for i in range(WORKERS):
        actions = [e.action for e in store.audit_entries(f"stress:kernel_{i}")]
        assert actions.count("install") == OPERATIONS
        assert actions.count("rollback") == OPERATIONS // 2
    victim_done = 1 + len(victim.stdout.read().split())
    victim_entries = [e.action for e in store.audit_entries("stress:kernel_victim")]
    # Every operation it reported as committed is there; at most the one in flight is partial.
    assert victim_entries.count("install") >= victim_done > 0
