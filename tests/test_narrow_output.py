"""Piped and CI output at 80 and 60 columns (issue 19, item 5): `hotpath status` never cuts a
function name or signature, so what it prints can be pasted into `hotpath rollback`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotpath.kernels.base import Candidate
from hotpath.runner.timing import Timing
from hotpath.runner.trials import Trial
from hotpath.statedir import StateDir
from hotpath.store import FunctionId, Store

ROOT = Path(__file__).resolve().parents[1]
FN = FunctionId("analysis.particles_simulation", "ParticleSystem.pair_forces_with_cutoff", "k" * 64)
SIGNATURE = "(array(float64, 2d, C), array(float64, 1d, C), float64, [int64])"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A state folder with one install of a long-named method (a real store, written by Store)."""
    home = tmp_path / "state"
    kernels = StateDir(home).kernels
    kernels.mkdir(parents=True)
    source = kernels / "pair_forces_numba.py"
    source.write_text("def kernel(a):\n    return a\n")
    candidate = Candidate("numba", "numba", (), "", "kernel", source, b"ns")
    trial = Trial("numba", "numba", "won", "fastest", (), candidate, Timing(1.0, 0.5, 2.0, 1.8, 2.2, 0.95, 6, 1), 0.1, 5)
    Store(home).record_tuning(FN, SIGNATURE, (trial,), trial)
    return home


def _piped(home: Path, columns: int, *args: str) -> subprocess.CompletedProcess:
    """`hotpath ARGS` with stdout a pipe (not a terminal), as `| cat` or a CI log sees it."""
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "hotpath.cli", *args, "--home", str(home)],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("columns", [80, 60, 200])
def test_status_piped_keeps_whole_names_that_rollback_accepts(home: Path, columns: int) -> None:
    status = _piped(home, columns, "status")
    assert status.returncode == 0, status.stderr
    name = f"{FN.module}:{FN.qualname}"
    lines = status.stdout.splitlines()
    assert any(name in line for line in lines), status.stdout  # on one line, uncut
    assert SIGNATURE in status.stdout and "…" not in status.stdout
    identified = (name, SIGNATURE, str(home.resolve()))  # lines that carry them may run long, never cut
    assert all(len(line.rstrip()) <= columns for line in lines if not any(i in line for i in identified))
    # What status printed is what rollback takes.
    done = _piped(home, columns, "rollback", name, "--signature", SIGNATURE)
    assert done.returncode == 0, done.stderr
    assert "nothing installed" in _piped(home, columns, "status").stdout
