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
    assert audit_actions(tuned).count("warm-install") == 2
    status = hotpath_cli(tuned, "status", "--json")
    (install,) = json.loads(status.stdout)["installs"]
    assert install["qualname"] == "weighted_sum" and install["speedup"] > 1


def test_editing_the_source_or_a_global_invalidates(tuned):
    (tuned / "kernel.py").write_text(KERNEL.format(scale=3.0))
    second = run(tuned, "warm")
    assert second["installed"] == [] and second["value"] == second["expected"]
    assert "warm-install" not in audit_actions(tuned)


def _stored_source(project: Path) -> Path:
    db = sqlite3.connect(project / ".hotpath" / "store.db")
    (path,) = db.execute("SELECT source_path FROM installs WHERE active = 1").fetchone()
    return Path(path)


def test_a_tampered_artifact_is_refused(tuned):
    source = _stored_source(tuned)
    source.write_text(source.read_text().replace("s += a[i] * SCALE", "s += a[i] * SCALE + 1"))
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
    assert done.returncode == 1 and "entry 1" in done.stdout


def test_a_removed_audit_row_fails_verification(tuned):
    run(tuned, "warm")  # a second entry
    db = sqlite3.connect(tuned / ".hotpath" / "store.db")
    db.execute("DELETE FROM audit WHERE id = 1")
    db.commit()
    done = hotpath_cli(tuned, "audit", "--verify")
    assert done.returncode == 1 and "entry 2" in done.stdout


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
