"""`hotpath profile / optimize / run / bench` on the example program, end to end, in subprocesses.

The optimize -> run round trip skips the profile (``--functions``) to stay short and
deterministic; the real Scalene run is its own test, on an input long enough to be sampled.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hotpath.store import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "lake.py"
HOTPATH = [sys.executable, "-m", "hotpath.cli"]
needs_scalene = pytest.mark.skipif(shutil.which("scalene") is None and
                                   __import__("importlib.util").util.find_spec("scalene") is None,
                                   reason="Scalene is not installed (pip install 'hotpath[profile]')")


def hotpath(*args: str, home: Path, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, HOTPATH_HOME=str(home), COLUMNS="200", **(env or {}))
    return subprocess.run([*HOTPATH, *args], capture_output=True, text=True, cwd=cwd or ROOT, env=environment,
                          timeout=timeout)


def plain(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def optimized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """A copy of the example, optimized for two functions into a fresh state folder."""
    folder = tmp_path_factory.mktemp("lake")
    script = folder / "lake.py"
    shutil.copy(EXAMPLE, script)
    home = folder / "state"
    result = hotpath("optimize", "--functions", "diffuse,drifter_energy", "--timing-budget", "0.3",
                     str(script), "--size", "small", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    return script, home, result


@pytest.mark.slow
def test_optimize_stores_winners_and_keeps_the_program_output(optimized) -> None:
    script, home, result = optimized
    expected = plain(script, "--size", "small").stdout
    assert expected in result.stdout  # the capture run printed exactly what the program prints
    names = {(r["module"], r["qualname"]) for r in Store.at(home).active_installs()}
    # A script's own functions are stored under its path: another script's diffuse is another function.
    assert {(str(script.resolve()), "diffuse"), (str(script.resolve()), "drifter_energy")} <= names
    assert "winner(s) stored" in result.stdout
    assert list((home / "captures").glob("*.pkl"))


@pytest.mark.slow
def test_run_uses_the_winners_and_prints_exactly_the_same(optimized) -> None:
    script, home, _ = optimized
    expected = plain(script, "--size", "small")
    got = hotpath("-v", "run", str(script), "--size", "small", home=home)
    assert got.returncode == expected.returncode == 0
    assert got.stdout == expected.stdout
    # As short as the run optimize recorded: loading Numba costs more than the winners save.
    assert "not installing the numba winners" in got.stderr and "warm start" not in got.stderr
    from hotpath.profiles import programs

    record = programs.record_path(home, str(script))
    kept = record.read_bytes()
    record.unlink()  # without the record there is nothing to weigh: the winners are installed
    try:
        got = hotpath("-v", "run", str(script), "--size", "small", home=home)
    finally:
        record.write_bytes(kept)
    assert got.returncode == 0 and got.stdout == expected.stdout
    assert "warm start with stored numba" in got.stderr  # the variants really ran


@pytest.mark.slow
def test_an_edited_function_gets_no_stored_winner(optimized) -> None:
    from hotpath.profiles import programs

    script, home, _ = optimized
    original = script.read_text()
    record = programs.record_path(home, str(script))
    kept = record.read_bytes()
    record.unlink()  # no costs to weigh: every winner found is installed at its first call
    try:  # edited where it was tuned: the script's path is part of each function's identity
        script.write_text(original.replace("- 4.0 * u[i, j]", "- u[i, j] * 4.0"))
        got = hotpath("-v", "run", str(script), "--size", "small", home=home)
    finally:
        script.write_text(original)
        record.write_bytes(kept)
    assert got.returncode == 0
    assert got.stdout == plain(script, "--size", "small").stdout
    assert "diffuse (" not in got.stderr  # no warm start: its source hash has no stored winner
    assert "drifter_energy (" in got.stderr  # the unchanged function still starts warm


@pytest.mark.slow
def test_report_lists_the_trials(optimized) -> None:
    script, home, _ = optimized
    got = hotpath("report", home=home)
    assert got.returncode == 0
    assert f"{script.resolve()}:diffuse" in got.stdout and "won" in got.stdout
    data = json.loads(hotpath("report", "--json", home=home).stdout)
    assert data["schema"] == "hotpath.report/1"
    assert any(t["status"] == "won" for run in data["runs"] for t in run["trials"])


@pytest.mark.slow
def test_bench_writes_pyperf_json(optimized, tmp_path: Path) -> None:
    pyperf = pytest.importorskip("pyperf")
    _, home, _ = optimized
    out = tmp_path / "bench.json"
    got = hotpath("bench", "__main__:drifter_energy", "-o", str(out), "--pyperf=-p 2 -n 2 -w 1 -l 4", home=home)
    assert got.returncode == 0, got.stdout + got.stderr
    suite = pyperf.BenchmarkSuite.load(str(out))
    names = sorted(b.get_name() for b in suite.get_benchmarks())
    assert names == ["__main__:drifter_energy hotpath", "__main__:drifter_energy original"]
    shown = subprocess.run([sys.executable, "-m", "pyperf", "show", str(out)], capture_output=True, text=True)
    assert shown.returncode == 0 and "drifter_energy" in shown.stdout


def test_a_crashing_script_ends_with_a_clear_message(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent("""
        def work(n):
            total = 0
            for i in range(n):
                total += i
            return total
        print("partial", work(10))
        raise RuntimeError("boom")
    """))
    got = hotpath("optimize", "--functions", "work", str(script), home=tmp_path / "state")
    assert got.returncode == 1
    assert "\npartial 45\n" in got.stdout
    assert "RuntimeError: boom" in got.stderr
    assert "exited with status 1 during the capture run" in got.stderr
    ran = hotpath("run", str(script), home=tmp_path / "state")
    assert ran.returncode == 1 and ran.stdout == "partial 45\n"
    assert ran.stderr.splitlines()[-1] == "RuntimeError: boom"
    assert ran.stderr.startswith("Traceback (most recent call last):\n  File \"" + str(script))


def test_unpicklable_arguments_are_skipped_with_the_reason(tmp_path: Path) -> None:
    script = tmp_path / "locked.py"
    script.write_text(textwrap.dedent("""
        import threading

        def count(lock, n):
            total = 0
            for i in range(n):
                total += i * i
            return total

        lock = threading.Lock()
        print(sum(count(lock, 1000) for _ in range(3)))
    """))
    got = hotpath("optimize", "--functions", "count", str(script), home=tmp_path / "state")
    assert got.returncode == 0, got.stderr
    assert "\n" + plain(script).stdout in got.stdout
    assert "cannot be pickled" in got.stdout


def test_a_scalene_failure_ends_with_a_clear_message(tmp_path: Path) -> None:
    fake = tmp_path / "fake" / "scalene"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text("import sys\nprint('scalene: internal error', file=sys.stderr)\nsys.exit(3)\n")
    script = tmp_path / "hello.py"
    script.write_text("print('hello')\n")
    env = {"PYTHONPATH": str(fake.parent)}
    got = hotpath("profile", str(script), home=tmp_path / "state", env=env)
    assert got.returncode == 1
    assert "Scalene failed (exit status 3)" in got.stderr
    assert "scalene: internal error" in got.stderr
    assert got.stdout == ""


@pytest.mark.slow
@needs_scalene
def test_profile_ranks_the_hot_functions_with_real_scalene(tmp_path: Path) -> None:
    out = tmp_path / "profile.json"
    got = hotpath("profile", "--json", "-o", str(out), str(EXAMPLE), "--size", "medium", "--quiet",
                  home=tmp_path / "state")
    assert got.returncode == 0, got.stderr
    data = json.loads(got.stdout)
    assert data == json.loads(out.read_text())
    assert data["schema"] == "hotpath.profile/1" and data["profiler"].startswith("scalene ")
    names = [f["function"] for f in data["functions"]]
    assert names[0] == "diffuse"
    # Sampling on a shared, loaded machine is noisy: the big three are ~75%, ~15% and ~6% of the
    # run alone, but under load the small ones trade places with the drifters' NumPy helpers
    # (`current_at`, `move_drifters`): a CI run saw `temperature_counts` fifth.
    assert {"drifter_energy", "temperature_counts"} <= set(names[:5])
    top = data["functions"][0]
    assert top["rewritable"] is True and top["reason"] is None
    assert abs(top["share"] - (top["python_share"] + top["native_share"] + top["system_share"])) < 1e-9
    assert 0.3 < top["share"] <= 1.0
    assert "checksum" in got.stderr  # the program's own output, moved off stdout for --json


@pytest.mark.slow
@needs_scalene
def test_profile_of_a_crashing_script_keeps_its_output(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text("print('before the crash')\nraise ValueError('boom')\n")
    got = hotpath("profile", str(script), home=tmp_path / "state")
    assert got.returncode == 1
    assert got.stdout == "before the crash\n"
    assert "ValueError: boom" in got.stderr
    assert f"{script} failed (exit status 1)" in got.stderr.replace("\n", "")


@pytest.mark.slow
def test_ctrl_c_stops_tuning_and_keeps_what_finished(tmp_path: Path) -> None:
    import signal
    import time

    home = tmp_path / "state"
    env = dict(os.environ, HOTPATH_HOME=str(home), COLUMNS="200")
    process = subprocess.Popen([*HOTPATH, "optimize", "--functions", "diffuse,drifter_energy,temperature_counts",
                                "--timing-budget", "0.3", str(EXAMPLE), "--size", "small"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        if (home / "store.db").exists() and Store.at(home).active_installs():
            break
    os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole process group
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err
    assert "interrupted during tuning" in err
    kept = Store.at(home).active_installs()
    assert 1 <= len(kept) < 3
    assert "checksum" in out  # the program's own capture run had finished normally
