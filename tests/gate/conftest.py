"""Fixtures of the gate's tests: real result files, made once per session by the real tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate_helpers import PYPERF_SCRIPT, PYTEST_BENCH_FILE, measure_interleaved, run_pytest_benchmark


@pytest.fixture(scope="session")
def pyperf_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pyperf", reason="pyperf is in the `test` extra")
    path = tmp_path_factory.mktemp("pyperf-script") / "bench_work.py"
    path.write_text(PYPERF_SCRIPT)
    return path


@pytest.fixture(scope="session")
def pyperf_files(tmp_path_factory: pytest.TempPathFactory, pyperf_script: Path) -> dict[str, Path]:
    """Real pyperf results: a baseline, an unchanged re-run, and a 3x slower change."""
    folder = tmp_path_factory.mktemp("pyperf-results")
    files = {"base": folder / "base.json", "same": folder / "same.json", "slow": folder / "slow.json"}
    measure_interleaved(pyperf_script, {files["base"]: 1000, files["same"]: 1000, files["slow"]: 3000})
    return files


@pytest.fixture(scope="session")
def bench_suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pytest_benchmark", reason="pytest-benchmark is in the `test` extra")
    folder = tmp_path_factory.mktemp("pytest-bench")
    (folder / "bench_test.py").write_text(PYTEST_BENCH_FILE)
    (folder / "pytest.ini").write_text("[pytest]\n")  # keep the repository's settings out
    return folder


@pytest.fixture(scope="session")
def pybench_files(bench_suite_dir: Path) -> dict[str, Path]:
    """Real pytest-benchmark results, with raw data (--benchmark-json) and summary-only (--benchmark-save)."""
    d = bench_suite_dir
    out = {}
    for label, n in (("base", 1000), ("same", 1000), ("slow", 3000)):
        path = d / f"{label}.json"
        proc = run_pytest_benchmark(d, n, f"--benchmark-json={path}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out[label] = path
    for label, n in (("base", 1000), ("slow", 3000)):
        proc = run_pytest_benchmark(d, n, f"--benchmark-storage=file://{d / 'storage'}", f"--benchmark-save={label}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (saved,) = (d / "storage").rglob(f"*_{label}.json")
        out[f"{label}_summary"] = saved
    return out
