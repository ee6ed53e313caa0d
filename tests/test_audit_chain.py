"""The audit chain against tampering the hash chain alone cannot show (issue 26 item 6), wrong
names given to `rollback` and `explain` (issue 19 item 7), and the store's kernel paths (issue 26
item 4): a real SQLite store written by ``Store``, edited with ``sqlite3`` as someone with the
file would, and checked through the real command line."""

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from hotpath import cli
from hotpath.kernels.base import Candidate
from hotpath.runner.timing import Timing
from hotpath.runner.trials import Trial
from hotpath.statedir import StateDir
from hotpath.store import FunctionId, Store
from hotpath.store.audit import GENESIS, check
from hotpath.store import db
from hotpath.store.db import MIGRATIONS

FN = FunctionId("physics", "pair_forces", "k" * 64)
SIGNATURE = "(array(float64, 1d, C))"
ROOT = Path(__file__).resolve().parents[1]


def _winner(home: Path, speedup: float = 3.14159265) -> Trial:
    kernels = StateDir(home).kernels
    kernels.mkdir(parents=True, exist_ok=True)
    source = kernels / "pair_forces_numba.py"
    source.write_text("def kernel(a):\n    return a\n")
    candidate = Candidate("numba", "numba", (), "", "kernel", source, b"ns")
    timing = Timing(1.0, 1.0 / speedup, speedup, speedup * 0.9, speedup * 1.1, 0.95, 6, 1)
    return Trial("numba", "numba", "won", "fastest", (), candidate, timing, 0.1, 5)


@pytest.fixture
def home(tmp_path) -> Path:
    """A state folder whose log installs, replaces, rolls back and installs again (4 entries)."""
    home = tmp_path / "state"
    store = Store(home)
    trial = _winner(home)
    store.record_tuning(FN, SIGNATURE, (trial,), trial)
    store.record_tuning(FN, SIGNATURE, (trial,), trial)  # replaces install 1
    store.rollback(FN, SIGNATURE, "numba", "a shadow check disagreed", {"max_error": 0.5})  # retires install 2
    store.record_tuning(FN, "(float64)", (trial,), trial)  # install 3, active
    return home


def hotpath(capsys, *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def tamper(home: Path, *statements: str) -> None:
    db = sqlite3.connect(StateDir(home).store_db)
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def tamper_read(home: Path, query: str) -> object:
    connection = sqlite3.connect(StateDir(home).store_db)
    try:
        return connection.execute(query).fetchone()[0]
    finally:
        connection.close()


def verify_fails(capsys, home: Path, *words: str) -> None:
    status, out, err = hotpath(capsys, "audit", "--verify", "--home", str(home))
    assert status == 1 and out == "", (out, err)
    assert len(err.strip().splitlines()) == 1 and "NOT intact" in err
    for word in words:
        assert word in err, err


def test_an_intact_log_verifies_and_prints_its_head(capsys, home):
    status, out, _ = hotpath(capsys, "audit", "--verify", "--home", str(home))
    assert status == 0 and out.startswith("audit log intact: 4 entries")
    status, out, _ = hotpath(capsys, "audit", "--head", "--home", str(home))
    count, head = out.split()
    last = Store(home).audit_entries()[-1]
    assert status == 0 and (int(count), head) == (4, last.hash)


def test_deleting_the_newest_entry_is_detected(capsys, home):
    tamper(home, "DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)")
    verify_fails(capsys, home, "records 4 entries but the log has 3", "deleted")


def test_deleting_every_entry_is_detected(capsys, home):
    tamper(home, "DELETE FROM audit")
    verify_fails(capsys, home, "the log has 0", "4 entries were deleted")


def test_an_entry_edited_with_every_hash_recomputed_is_detected(capsys, home):
    """What someone who read audit.py could do: rewrite the rollback's reason and rebuild the chain."""
    from hotpath.store import audit

    db = sqlite3.connect(StateDir(home).store_db)
    db.row_factory = sqlite3.Row
    previous = GENESIS
    for row in db.execute("SELECT * FROM audit ORDER BY id").fetchall():
        detail = row["detail"].replace("a shadow check disagreed", "routine maintenance")
        digest = audit.entry_hash(previous, row["created"], row["action"], row["function"], row["signature"], detail)
        db.execute("UPDATE audit SET detail = ?, prev_hash = ?, hash = ? WHERE id = ?",
                   (detail, previous, digest, row["id"]))
        previous = digest
    db.commit()
    assert Store(home).audit_entries()[2].detail["reason"] == "routine maintenance"
    verify_fails(capsys, home, "entry 3 is not the one the anchor", "recomputed")


def test_a_retired_install_flipped_back_to_active_is_detected(capsys, home):
    assert [r[0] for r in sqlite3.connect(StateDir(home).store_db).execute(
        "SELECT active FROM installs ORDER BY id")] == [0, 0, 1]
    tamper(home, "UPDATE installs SET active = 1, retired = NULL WHERE id = 2")
    verify_fails(capsys, home, "install 2", "re-activated outside hotpath")


def test_an_install_row_rewritten_is_detected(capsys, home):
    tamper(home, "UPDATE installs SET source_path = '/tmp/elsewhere.py' WHERE id = 3")
    verify_fails(capsys, home, "install 3", "edited after entry 4")


def test_an_install_added_outside_hotpath_is_detected(capsys, home):
    tamper(home, "INSERT INTO installs (function_id, signature, environment, backend, name, entry, options, adapters,"
                 " source_path, source_sha256, namespace, namespace_sha256, speedup, created)"
                 " SELECT function_id, '(int64)', environment, backend, name, entry, options, adapters, source_path,"
                 " source_sha256, namespace, namespace_sha256, 9.0, created FROM installs WHERE id = 3")
    verify_fails(capsys, home, "install 4", "in no audit entry")


def test_a_process_stopped_between_commit_and_anchor_is_allowed_and_said(capsys, home):
    anchor = StateDir(home).audit_anchor
    lines = anchor.read_text().splitlines()
    anchor.write_text("\n".join(lines[:-1]) + "\n")  # what a SIGKILL after the commit leaves
    status, out, _ = hotpath(capsys, "audit", "--verify", "--home", str(home))
    assert status == 0 and "the newest 1 entry is not in the anchor yet" in out
    # ... and the next entry anchors the whole chain again.
    Store(home).log("refusal", FN, SIGNATURE, {"reason": "test"})
    status, out, _ = hotpath(capsys, "audit", "--verify", "--home", str(home))
    assert status == 0 and "not in the anchor" not in out


def test_a_removed_anchor_fails_and_the_next_write_restarts_it_visibly(capsys, home):
    StateDir(home).audit_anchor.unlink()
    verify_fails(capsys, home, "anchor file", "missing")
    Store(home).log("refusal", FN, SIGNATURE, {"reason": "test"})
    status, out, _ = hotpath(capsys, "audit", "--verify", "--home", str(home))
    assert status == 0 and "anchored from entry 5 on" in out


def test_a_store_written_before_anchors_is_anchored_when_upgraded(tmp_path, monkeypatch):
    home = tmp_path / "old"
    with monkeypatch.context() as old_hotpath:  # a store as a hotpath at schema 3 wrote it
        old_hotpath.setattr(db, "SCHEMA_VERSION", 3)
        Store(home).log("install", FN, SIGNATURE, {"variant": "numba"})
    StateDir(home).audit_anchor.unlink()
    assert tamper_read(home, "PRAGMA user_version") == 3
    assert check(Store(home, read_only=True).db, Store(home, read_only=True).anchor).problem is not None
    upgraded = Store(home)  # a writer brings it to the current schema and starts the anchor
    result = upgraded.check_audit()
    assert result.problem is None and result.anchor_start is not None and result.anchor_start.count == 1


def test_a_new_store_sets_the_old_anchor_aside(home):
    StateDir(home).store_db.rename(home / "store.db.damaged")  # what the damaged-store message advises
    for suffix in ("-wal", "-shm"):
        (home / f"store.db{suffix}").unlink(missing_ok=True)
    store = Store(home)
    assert store.check_audit().problem is None
    assert len(list(home.glob("audit-anchor.replaced-*"))) == 1


def test_no_store_to_verify_is_one_line_and_not_success(capsys, tmp_path):
    for flag in ("--verify", "--head"):
        status, out, err = hotpath(capsys, "audit", flag, "--home", str(tmp_path / "none"))
        assert status == 1 and out == "" and len(err.strip().splitlines()) == 1 and "no store" in err
    assert not (tmp_path / "none").exists()


def test_audit_help_documents_the_exit_statuses(capsys):
    with pytest.raises(SystemExit):
        cli.main(["audit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "exit status: 0" in text and "1 the log is not intact" in text and "3 the store cannot be opened" in text


def test_audit_entries_keep_sensible_digits(home):
    install = Store(home).audit_entries()[0].detail
    assert install["speedup"] == 3.142 and install["ci"] == [2.827, 3.456]
    assert Store(home).audit_entries()[0].created > 1e9  # the entry's own time is not rounded
    from hotpath.store.audit import rounded

    assert rounded({"t": 1764688643.123456, "x": [1.23456e-7, 0.0, 2]}) == {"t": 1764688643.123, "x": [1.235e-7, 0.0, 2]}


def test_rolling_back_an_unknown_name_fails_and_writes_nothing(capsys, home):
    before = len(Store(home).audit_entries())
    for args in (["__main__:nosuch"], ["physics:pair_forces", "--signature", "(int8)"]):
        status, out, err = hotpath(capsys, "rollback", *args, "--home", str(home))
        assert status == 1 and out == "" and len(err.strip().splitlines()) == 1, (out, err)
        assert "`hotpath status`" in err
    assert len(Store(home).audit_entries()) == before
    status, out, _ = hotpath(capsys, "rollback", "physics:pair_forces", "--home", str(home))
    assert status == 0 and "rolled back 1 install of physics:pair_forces" in out
    assert Store(home).audit_entries()[-1].detail["retired_ids"] == [3]
    assert hotpath(capsys, "audit", "--verify", "--home", str(home))[0] == 0


def test_explain_names_the_form_and_the_near_matches(capsys, home):
    status, out, err = hotpath(capsys, "explain", "pair_forces", "--home", str(home))
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "module:function" in err and "physics:pair_forces" in err
    status, out, err = hotpath(capsys, "explain", "__main__:nosuch", "--home", str(home))
    assert status == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "no function __main__:nosuch" in err and "`hotpath status`" in err


def test_status_does_not_list_an_install_whose_kernel_file_is_gone_as_installed(capsys, home):
    status, out, _ = hotpath(capsys, "status", "--home", str(home))
    assert status == 0 and "kernel file missing" not in out
    (StateDir(home).kernels / "pair_forces_numba.py").unlink()
    status, out, _ = hotpath(capsys, "status", "--home", str(home))
    text = " ".join(out.split())
    assert status == 0 and "1 install lost its kernel file" in text and "the original runs instead" in text
    assert "hotpath rollback physics:pair_forces" in text
    status, out, _ = hotpath(capsys, "status", "--json", "--home", str(home))
    (install,) = json.loads(out)["installs"]
    assert install["kernel_missing"] == [str(StateDir(home.resolve()).kernels / "pair_forces_numba.py")]


def test_a_copied_state_folder_uses_its_own_kernel_files(tmp_path, home):
    from hotpath.integrity import environment

    rows = sqlite3.connect(StateDir(home).store_db).execute("SELECT source_path FROM installs").fetchall()
    assert rows == [("kernels/pair_forces_numba.py",)] * 3
    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    shutil.rmtree(home)
    winner = Store(copy).find_winner(FN, "(float64)")
    assert winner is not None and winner.candidate.path == StateDir(copy.resolve()).kernels / "pair_forces_numba.py"
    assert winner.candidate.path.is_file() and Store(copy).active_installs()[0]["kernel_missing"] == []
    assert Store(copy).check_audit().problem is None
    # A row an older hotpath wrote keeps its absolute path.
    elsewhere = tmp_path / "elsewhere.py"
    tamper(copy, f"UPDATE installs SET source_path = '{elsewhere}' WHERE id = 3")
    assert Store(copy).find_winner(FN, "(float64)").candidate.path == elsewhere
    assert environment()  # the rows were recorded under this process's environment


def test_a_full_disk_during_a_store_write_is_one_line_naming_the_cause(capsys, home):
    import errno

    anchor = StateDir(home).audit_anchor
    anchor.unlink()
    anchor.symlink_to("/dev/full")  # every write to it fails with ENOSPC, as on a full disk
    with pytest.raises(OSError) as caught:
        Store(home).log("refusal", FN, SIGNATURE, {"reason": "test"})
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(anchor)
    status, out, err = hotpath(capsys, "rollback", "physics:pair_forces", "--home", str(home))
    assert status == 3 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "No space left on device" in err and "free disk space" in err and "audit-anchor" in err


SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("runuser") is None
                    or not SYSTEM_PYTHON.exists(), reason="needs root and a system python to read as another user")
def test_a_store_in_a_folder_the_reader_cannot_write_is_read(home):
    """SQLite cannot make a WAL store's shared-memory file in a folder it may not write to; the
    reader falls back to reading the main file. Run as `nobody` with the store module alone and
    the system's python (this virtualenv and pytest's folders are not readable by that user)."""
    import tempfile

    outside = Path(tempfile.mkdtemp(prefix="hotpath-readonly-"))
    shared = outside / "shared"
    shutil.copytree(home, shared)
    # As a store is left once its last writer has gone: checkpointed, no -wal or -shm file.
    closing = sqlite3.connect(shared / "store.db")
    assert closing.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    closing.close()
    assert not (shared / "store.db-shm").exists()
    outside.chmod(0o755)
    for path in (shared, *shared.rglob("*")):
        path.chmod(0o555 if path.is_dir() else 0o444)
    probe = ("import importlib.util, sys; from pathlib import Path\n"
             f"spec = importlib.util.spec_from_file_location('db', {str(ROOT / 'hotpath/store/db.py')!r})\n"
             "db = importlib.util.module_from_spec(spec); spec.loader.exec_module(db)\n"
             f"print(len(db.Database(Path({str(shared / 'store.db')!r}), read_only=True).read('SELECT * FROM audit')))")
    try:
        done = subprocess.run(["runuser", "-u", "nobody", "--", str(SYSTEM_PYTHON), "-c", probe],
                              capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(outside)
    assert done.returncode == 0 and done.stdout.strip() == "4", done.stderr
