"""`hotpath optimize --benchmarks`: a pytest-benchmark suite as the workload, and the gate's
verdict per benchmark on the rerun with and without the winners (hotpath.profiles.benchmarks)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hotpath.gate import compare
from hotpath.profiles.benchmarks import SuiteError, parse_suite

HOTPATH = [sys.executable, "-m", "hotpath.cli"]
needs_tools = pytest.mark.skipif(
    importlib.util.find_spec("scalene") is None or importlib.util.find_spec("pytest_benchmark") is None,
    reason="needs Scalene and pytest-benchmark")


def hotpath(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOTPATH_HOME=str(cwd / "state"), COLUMNS="200")
    env.pop("PYTHONPATH", None)
    return subprocess.run([*HOTPATH, *args], capture_output=True, text=True, cwd=cwd, env=env, input="",
                          timeout=timeout)


def write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_the_suite_command_is_read_as_python_m_pytest() -> None:
    for command in ("pytest benchmarks/ -k flux", "python -m pytest benchmarks/ -k flux", "-m pytest benchmarks/ -k flux"):
        assert parse_suite(command).program.argv() == ["-m", "pytest", "benchmarks/", "-k", "flux"]
    assert parse_suite("pytest b/").command(Path("/x/a.json"))[-1] == "--benchmark-json=/x/a.json"


@pytest.mark.parametrize("command, says", [
    ("pytest b/ --benchmark-disable", "drop --benchmark-disable"),
    ("pytest b/ --benchmark-json=out.json", "drop --benchmark-json"),
    ("bench_suite.py", "pyperf suites are not supported"),
    ("-m mypkg.cli", "give a pytest-benchmark suite"),
    ("pytest 'b/", "No closing quotation"),
])
def test_a_suite_that_cannot_be_compared_is_refused_in_one_line(command: str, says: str) -> None:
    with pytest.raises(SuiteError, match=says) as raised:
        parse_suite(command)
    assert "\n" not in str(raised.value)


def test_cli_refuses_a_suite_and_a_program_together(tmp_path: Path) -> None:
    got = hotpath("optimize", "--benchmarks", "pytest b/", "-m", "pytest", "b/", cwd=tmp_path, timeout=60)
    assert got.returncode == 2
    assert got.stderr.strip() == "hotpath optimize: give the workload once: --benchmarks COMMAND, or SCRIPT / -m MODULE"


@pytest.mark.slow
@needs_tools
def test_optimize_with_benchmarks_prints_a_verdict_per_benchmark(tmp_path: Path) -> None:
    write(tmp_path, "wavepkg/__init__.py", "")
    write(tmp_path, "wavepkg/kern.py", """
        def smooth(u):
            out = u.copy()
            for i in range(1, u.shape[0] - 1):
                out[i] = 0.25 * u[i - 1] + 0.5 * u[i] + 0.25 * u[i + 1]
            return out
    """)
    # Two benchmarks of the one kernel: a benchmark of a function left as written would be judged
    # on noise alone (originals on both sides), and could read "slower" on a loaded machine.
    write(tmp_path, "benchmarks/test_kern.py", """
        import numpy as np
        import pytest

        from wavepkg.kern import smooth

        @pytest.mark.parametrize("n", [10_000, 20_000])
        def test_smooth(benchmark, n):
            benchmark(smooth, np.linspace(0.0, 1.0, n))
    """)
    suite = "pytest -q -p no:cacheprovider benchmarks/ --benchmark-max-time=0.2"
    got = hotpath("optimize", "--timing-budget", "0.2", "--benchmark-rounds", "2", "--benchmarks", suite,
                  cwd=tmp_path)
    assert got.returncode == 0, got.stdout + got.stderr
    assert "wavepkg.kern:smooth" in got.stdout
    runs = tmp_path / "state" / "benchmarks"
    plain = [runs / f"plain-{i}.json" for i in (1, 2)]
    with_winners = [runs / f"hotpath-{i}.json" for i in (1, 2)]
    report = compare(plain, with_winners)  # the files the rerun left: the gate's own judgement of them
    assert {c.name for c in report.comparisons} == {"benchmarks/test_kern.py::test_smooth[10000]",
                                                    "benchmarks/test_kern.py::test_smooth[20000]"}
    lines = [line.split() for line in got.stdout.splitlines()]
    for c in report.comparisons:  # one line per benchmark, with the verdict the gate gives
        assert [c.verdict.value, c.name] in [line[:2] for line in lines], got.stdout
        assert c.verdict.value == "faster"
    assert got.stdout.count("round 1/2") == 0 and got.stderr.count("round 1/2:") == 2  # plain, then hotpath run


def test_the_example_package_of_the_walkthrough_passes_its_tests_and_runs_its_benchmarks(tmp_path: Path) -> None:
    # docs/codebase.md runs on examples/heatpkg: its tests and benchmarks must keep working.
    folder = Path(__file__).resolve().parent.parent / "examples" / "heatpkg"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    got = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/", "benchmarks/",
                          "--benchmark-disable", f"--benchmark-storage=file://{tmp_path}"], cwd=folder, capture_output=True, text=True, env=env, timeout=120)
    assert got.returncode == 0, got.stdout + got.stderr
    assert "12 passed" in got.stdout  # 7 tests, 5 benchmarks
