"""The default rule on the default collection, end to end with real pyperf runs.

The collection is the one docs/gate.md prescribes (8 interleaved chunks x 4 worker processes
a side, shortened to 10 values a process to keep the test quick), so the bootstrap resamples
blocks of 4 consecutive processes exactly as it does in CI. An unchanged re-run may still be
flagged by chance (the calibration measures how often: bench/gate_calibration); like the CI
example, the test then re-measures and judges both measurements merged before believing it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate_helpers import measure_interleaved, run_gate_cli, run_pyperf

#: The default collection: 8 chunks x 4 processes a side (32 processes, blocks of 4).
CHUNKS, PROCESSES, VALUES = 8, 4, 10


def _collect(script: Path, folder: Path, sizes: dict[str, int]) -> dict[str, Path]:
    files = {label: folder / f"{label}.json" for label in sizes}
    measure_interleaved(script, {files[label]: n for label, n in sizes.items()}, chunks=CHUNKS,
                        processes=PROCESSES, values=VALUES)
    return files


@pytest.fixture(scope="module")
def default_collection(tmp_path_factory: pytest.TempPathFactory, pyperf_script: Path) -> dict[str, Path]:
    """Base, an unchanged re-run and a 25 % slower change (25 % more loop iterations), interleaved."""
    return _collect(pyperf_script, tmp_path_factory.mktemp("default-collection"),
                    {"base": 1000, "same": 1000, "slow": 1250})


def _verdict(base: str | Path, current: str | Path) -> dict:
    result = run_gate_cli("gate", base, current, "--json", "-", "--quiet")
    assert result.returncode in (0, 1), result.stdout + result.stderr
    (comparison,) = json.loads(result.stdout)["comparisons"]
    return comparison


def test_default_rule_flags_25_percent_and_passes_unchanged(default_collection: dict[str, Path],
                                                            pyperf_script: Path, tmp_path: Path) -> None:
    slow = _verdict(default_collection["base"], default_collection["slow"])
    assert slow["verdict"] == "slower", slow["reason"]
    assert 1.1 < slow["ratio"] < 1.6 and "32/32 processes" in slow["reason"]
    assert "calibrated on" not in slow["reason"]  # the default collection draws no warning

    same = _verdict(default_collection["base"], default_collection["same"])
    if same["verdict"] == "slower":
        # The CI example's second stage: measure again, judge both measurements merged.
        again = _collect(pyperf_script, tmp_path, {"base": 1000, "same": 1000})
        same = _verdict(f"{default_collection['base']},{again['base']}", f"{default_collection['same']},{again['same']}")
    assert same["verdict"] != "slower", same["reason"]
    assert same["ci_low"] < same["ratio"] < same["ci_high"]


def test_one_process_inputs_are_judged_with_a_clear_warning(pyperf_script: Path, tmp_path: Path) -> None:
    base, slow = tmp_path / "base.json", tmp_path / "slow.json"
    run_pyperf(pyperf_script, base, 1000, processes=1, values=30, append=False)
    run_pyperf(pyperf_script, slow, 3000, processes=1, values=30, append=False)
    result = run_gate_cli("gate", base, slow, "--explain")
    assert result.returncode == 1, result.stdout + result.stderr  # 3x the work shows even in one process
    text = " ".join(result.stdout.split())  # the terminal wraps long reasons
    assert "1/1 processes: single-process data" in text and "widened by an assumed 7%" in text
    assert "pyperf --processes" in text
