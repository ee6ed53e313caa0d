"""`hotpath bench` times the stored winner, for a script's own functions and an imported module's.

The capture-and-tune child of `hotpath optimize` runs on a tiny program (the profile step is
left out: the plan names the functions), then `hotpath bench` runs pyperf with few values.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hotpath.profiles.session import Plan, Target
from hotpath.store import Store, names

pyperf = pytest.importorskip("pyperf")

KERNEL = '''
def smooth(a, out):
    """Three-point moving average, written as a loop."""
    n = a.shape[0]
    out[0] = a[0]
    out[n - 1] = a[n - 1]
    for i in range(1, n - 1):
        out[i] = (a[i - 1] + a[i] + a[i + 1]) / 3.0
    return out
'''

PROGRAM = '''
import numpy as np
from kern import smooth


def energy(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i] * x[i]
    return total


a = np.linspace(0.0, 1.0, 4000)
out = np.empty_like(a)
for _ in range(5):
    a = smooth(a, out).copy()
print(round(energy(a), 6))
'''


def _hotpath(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOTPATH_HOME=str(home), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "hotpath.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def optimized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("benchprog")
    (folder / "kern.py").write_text(textwrap.dedent(KERNEL))
    script = folder / "prog.py"
    script.write_text(textwrap.dedent(PROGRAM))
    home = folder / "state"
    plan = Plan(script=str(script), args=(), capture_dir=str(home / "captures"), timing_budget_s=0.3,
                targets=(Target(str((folder / "kern.py").resolve()), "smooth"), Target(str(script.resolve()), "energy")))
    (folder / "plan.json").write_text(plan.to_json())
    done = subprocess.run([sys.executable, "-m", "hotpath.profiles.session", str(folder / "plan.json"), "-1"],
                          capture_output=True, text=True, env=dict(os.environ, HOTPATH_HOME=str(home)), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return script, home


@pytest.mark.slow
@pytest.mark.parametrize("function", ["kern:smooth", "__main__:energy"])
def test_bench_times_the_installed_variant(optimized, tmp_path: Path, function: str) -> None:
    _, home = optimized
    out = tmp_path / "bench.json"
    got = _hotpath("bench", function, "-o", str(out), "--pyperf=-p 1 -n 2 -w 1 -l 20", home=home)
    assert got.returncode == 0, got.stdout + got.stderr
    suite = pyperf.BenchmarkSuite.load(str(out))
    medians = {b.get_name().rsplit(" ", 1)[-1]: b.median() for b in suite.get_benchmarks()}
    stored = {f"{r['module']}:{r['qualname']}": r["name"] for r in Store.at(home).active_installs()}
    recorded = names.resolve(function, stored)[0]  # __main__:energy is the one script's energy
    assert suite.get_benchmarks()[0].get_metadata()["hotpath_installed"] == stored[recorded]
    # A compiled loop against the interpreted one: far apart, not within noise (the variant ran).
    assert medians["original"] / medians["hotpath"] > 3


@pytest.mark.slow
def test_bench_fails_in_one_line_when_nothing_is_installed(optimized, tmp_path: Path) -> None:
    script, home = optimized
    original = script.read_text()
    try:  # the same program with energy edited: its stored winner is for another source
        script.write_text(original.replace("total += x[i] * x[i]", "total += x[i] ** 2"))
        got = _hotpath("bench", "__main__:energy", "-o", str(tmp_path / "b.json"), home=home)
    finally:
        script.write_text(original)
    assert got.returncode == 1
    lines = [line for line in (got.stdout + got.stderr).splitlines() if line.strip()]
    assert lines == ["hotpath bench: nothing is installed for __main__:energy with this source and these "
                     "arguments: run `hotpath optimize` first"], lines
