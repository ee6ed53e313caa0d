"""Persistence across processes: warm start, invalidation, refused artifacts, the audit chain."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

KERNEL = '''
import numpy as np
SCALE = {scale}

def weighted_sum(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * SCALE
    return s
'''

DRIVER = '''
import json, sys
import numpy as np
import hotpath
from kernel import weighted_sum

mode = sys.argv[1]
a = np.random.default_rng(0).random(50_000)
fn = hotpath.optimize(weighted_sum, backends=("numba",), timing_budget_s=0.3, hot_calls=10**9, hot_seconds=1e9)
if mode == "tune":
    result = hotpath.tune(fn, a)
    value = fn(a)
else:
    value = fn(a)  # the first call for this signature
print(json.dumps({"installed": [c.name for c in fn.installed.values()], "value": value,
                  "expected": weighted_sum(a)}))
'''


@pytest.fixture
def project(tmp_path):
    """A user's project folder with its own state folder, driven by separate processes."""
    (tmp_path / "driver.py").write_text(DRIVER)
    (tmp_path / "kernel.py").write_text(KERNEL.format(scale=2.0))
    return tmp_path


def run(project: Path, mode: str) -> dict:
    env = {**os.environ, "HOTPATH_HOME": str(project / ".hotpath"), "PYTHONPATH": str(project)}
    done = subprocess.run([sys.executable, "driver.py", mode], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def hotpath_cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOTPATH_HOME": str(project / ".hotpath")}
    return subprocess.run([sys.executable, "-m", "hotpath.cli", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)


def audit_actions(project: Path) -> list[str]:
    done = hotpath_cli(project, "audit", "--json")
    assert done.returncode == 0, done.stderr
    return [e["action"] for e in json.loads(done.stdout)]


@pytest.fixture
def tuned(project):
    first = run(project, "tune")
    assert first["installed"], "process A should install a winner"
    return project


def test_a_new_process_starts_with_the_stored_winner(tuned):
    second = run(tuned, "warm")
    assert second["installed"] == run(tuned, "warm")["installed"] != []
    assert second["value"] == second["expected"]
    assert audit_actions(tuned).count("warm-install") == 1  # once per install and program, not per run
    status = hotpath_cli(tuned, "status", "--json")
    (install,) = json.loads(status.stdout)["installs"]
    assert install["qualname"] == "weighted_sum" and install["speedup"] > 1


def test_a_warm_install_is_audited_once_per_install_and_program(tuned):
    """Every run of a program loads the stored winner; the audit says so the first time each
    program loads that install (a second script in the folder is another program)."""
    for _ in range(3):
        run(tuned, "warm")
    (tuned / "other.py").write_text(DRIVER)
    env = {**os.environ, "HOTPATH_HOME": str(tuned / ".hotpath"), "PYTHONPATH": str(tuned)}
    for _ in range(2):
        done = subprocess.run([sys.executable, "other.py", "warm"], cwd=tuned, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    entries = json.loads(hotpath_cli(tuned, "audit", "--json").stdout)
    warm = [e["detail"] for e in entries if e["action"] == "warm-install"]
    assert sorted(d["program"] for d in warm) == sorted(str((tuned / name).resolve()) for name in ("driver.py", "other.py"))
    (install,) = {e["detail"]["install_id"] for e in entries if e["action"] == "install"}
    assert {d["install_id"] for d in warm} == {install}
    assert hotpath_cli(tuned, "audit", "--verify").returncode == 0


def test_editing_the_source_or_a_global_invalidates(tuned):
    (tuned / "kernel.py").write_text(KERNEL.format(scale=3.0))
    second = run(tuned, "warm")
    assert second["installed"] == [] and second["value"] == second["expected"]
    assert "warm-install" not in audit_actions(tuned)


def _stored_source(project: Path) -> Path:
    db = sqlite3.connect(project / ".hotpath" / "store.db")
    (path,) = db.execute("SELECT source_path FROM installs WHERE active = 1").fetchone()
    assert not Path(path).is_absolute()  # relative to the state folder: a copied folder uses its own
    return project / ".hotpath" / path


def test_a_tampered_artifact_is_refused(tuned):
    source = _stored_source(tuned)
    text = source.read_text()
    tampered = text.replace("s += a[i] *", "s += 1 + a[i] *")  # SCALE is folded into the source as its value
    assert tampered != text
    source.write_text(tampered)
    second = run(tuned, "warm")
    assert second["installed"] == [] and second["value"] == second["expected"]
    actions = audit_actions(tuned)
    assert "refusal" in actions and "warm-install" not in actions


def test_a_world_writable_artifact_is_refused(tuned):
    _stored_source(tuned).chmod(0o666)
    assert run(tuned, "warm")["installed"] == []
    assert "refusal" in audit_actions(tuned)


def test_a_tampered_audit_row_fails_verification(tuned):
    assert hotpath_cli(tuned, "audit", "--verify").returncode == 0
    db = sqlite3.connect(tuned / ".hotpath" / "store.db")
    db.execute("UPDATE audit SET detail = replace(detail, 'speedup', 'speedyp') WHERE id = 1")
    db.commit()
    done = hotpath_cli(tuned, "audit", "--verify")
    assert done.returncode == 1 and "entry 1" in done.stderr


def test_a_removed_audit_row_fails_verification(tuned):
    run(tuned, "warm")  # a second entry
    db = sqlite3.connect(tuned / ".hotpath" / "store.db")
    db.execute("DELETE FROM audit WHERE id = 1")
    db.commit()
    done = hotpath_cli(tuned, "audit", "--verify")
    assert done.returncode == 1 and "entry 1 is missing" in done.stderr


def test_manual_rollback_from_the_command_line(tuned):
    done = hotpath_cli(tuned, "rollback", "kernel:weighted_sum")
    assert done.returncode == 0 and "rolled back 1" in done.stdout
    assert run(tuned, "warm")["installed"] == []
    assert audit_actions(tuned)[-1] == "manual-rollback"
    assert hotpath_cli(tuned, "rollback", "weighted_sum").returncode == 2


def test_a_missing_artifact_is_refused(tuned):
    _stored_source(tuned).unlink()
    second = run(tuned, "warm")
    assert second["installed"] == [] and second["value"] == second["expected"]
    assert "refusal" in audit_actions(tuned)


CYTHON_KERNEL = '''
def smooth(a, out):
    for i in range(1, a.shape[0] - 1):
        out[i] = (a[i - 1] + a[i] + a[i + 1]) / 3.0
    return out
'''

CYTHON_DRIVER = '''
import json, sys
import numpy as np
import hotpath
from cykernel import smooth

a = np.random.default_rng(0).random(200_000)
fn = hotpath.optimize(smooth, backends=("cython",), timing_budget_s=0.3, hot_calls=10**9, hot_seconds=1e9,
                      cost_model=False)
if sys.argv[1] == "tune":
    hotpath.tune(fn, a, np.zeros_like(a))
value = fn(a, np.zeros_like(a))
print(json.dumps({"installed": [c.name for c in fn.installed.values()],
                  "same": bool(np.array_equal(value, smooth(a, np.zeros_like(a))))}))
'''


@pytest.mark.slow
def test_a_cython_winners_built_binary_is_checksummed_and_a_tampered_one_refused(tmp_path):
    """The shared object is what runs: it is recorded with its SHA-256 and checked like the source."""
    (tmp_path / "cykernel.py").write_text(CYTHON_KERNEL)
    (tmp_path / "driver.py").write_text(CYTHON_DRIVER)
    env = {**os.environ, "HOTPATH_HOME": str(tmp_path / ".hotpath"), "PYTHONPATH": str(tmp_path)}

    def drive(mode: str) -> dict:
        done = subprocess.run([sys.executable, "driver.py", mode], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert drive("tune")["installed"] == ["cython"]
    db = sqlite3.connect(tmp_path / ".hotpath" / "store.db")
    ((binaries,),) = db.execute("SELECT binaries FROM installs WHERE active = 1").fetchall()
    ((stored, sha256),) = json.loads(binaries)
    binary = str(tmp_path / ".hotpath" / stored)  # stored relative to the state folder
    assert binary.endswith(".so") and len(sha256) == 64 and Path(binary).is_file()

    assert drive("warm") == {"installed": ["cython"], "same": True}
    with open(binary, "ab") as handle:  # a valid ELF still, with one byte more: not what was verified
        handle.write(b"\0")
    assert drive("warm") == {"installed": [], "same": True}
    actions = audit_actions(tmp_path)
    assert actions.count("warm-install") == 1 and actions[-1] == "refusal"
    refusal = json.loads(hotpath_cli(tmp_path, "audit", "--json").stdout)[-1]
    assert "changed since it was verified" in refusal["detail"]["reason"] and binary in refusal["detail"]["reason"]


def test_a_version_1_store_is_migrated_and_its_installs_list_no_binaries(tmp_path):
    from hotpath.store.db import MIGRATIONS, SCHEMA_VERSION, Database

    path = tmp_path / "store.db"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0])
    old.execute("INSERT INTO functions (module, qualname, source_hash) VALUES ('m', 'f', 'k')")
    old.execute("INSERT INTO installs (function_id, signature, environment, backend, name, entry, options, adapters,"
                " source_path, source_sha256, namespace, namespace_sha256, speedup, created)"
                " VALUES (1, '(x)', 'e', 'cython', 'cython', 'f', '[]', '[]', 'p.pyx', 's', x'', 'n', 2.0, 0)")
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    db = Database(path)
    assert db.read("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 5
    # No binary recorded: a warm start of a backend that loads one refuses it (persist._check_binaries).
    assert [r["binaries"] for r in db.read("SELECT binaries FROM installs")] == ["[]"]
    # Nor what it was verified on: its guards read as not recorded, not as none.
    assert [r["guards"] for r in db.read("SELECT guards FROM installs")] == [None]
    assert db.read("SELECT count(*) FROM tuning_runs")[0][0] == 0


def test_a_version_2_store_is_reported_read_only_without_verification(tmp_path):
    """`hotpath report` and `explain` open a store read-only and do not migrate it: one written by
    the hotpath before verification was recorded still reads, its runs and installs marked unknown."""
    from hotpath.report import model
    from hotpath.store.db import MIGRATIONS

    old = sqlite3.connect(tmp_path / "store.db")
    old.executescript(MIGRATIONS[0] + MIGRATIONS[1])
    old.execute("INSERT INTO functions (module, qualname, source_hash) VALUES ('m', 'f', 'k')")
    old.execute("INSERT INTO trials (function_id, signature, environment, backend, name, status, reason, speedup,"
                " created) VALUES (1, '(x)', 'e', 'numba', 'numba', 'won', 'fastest', 3.0, 5.0)")
    old.execute("INSERT INTO installs (function_id, signature, environment, trial_id, backend, name, entry, options,"
                " adapters, source_path, source_sha256, namespace, namespace_sha256, speedup, created)"
                " VALUES (1, '(x)', 'e', 1, 'numba', 'numba', 'f', '[]', '[\"finite\"]', 'p.py', 's', x'', 'n', 3.0, 5.0)")
    old.execute("PRAGMA user_version = 2")
    old.commit()
    old.close()
    report = model.load(tmp_path)
    assert report is not None and len(report.runs) == 1
    assert report.runs[0].verification.inputs == () and report.runs[0].verification.guards is None
    assert report.runs[0].verification.inputs_line() == "verification inputs not recorded"
    assert [i.guards for i in report.installs] == [None]
    assert sqlite3.connect(tmp_path / "store.db").execute("PRAGMA user_version").fetchone()[0] == 2
