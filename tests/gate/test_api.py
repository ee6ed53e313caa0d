"""The gate's Python API, ``hotpath.gate.compare``: the same judgement as ``hotpath gate``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gate_helpers import run_gate_cli, write_hotpath_doc
from hotpath.gate import GateInputError, GateReport, Verdict, compare
from hotpath.gate.model import BenchmarkSamples
from hotpath.gate.policy import Policy


def _times(scale: float, seed: int, n: int = 32 * 20) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(scale * 1e-3 * (1 + np.abs(rng.normal(0, 0.01, n))))


GROUPS = tuple(g for g in range(32) for _ in range(20))


def _labelled(scale: float, seed: int) -> BenchmarkSamples:
    return BenchmarkSamples("x", "s", tuple(_times(scale, seed)), GROUPS)


def test_compare_mappings_of_samples() -> None:
    report = compare({"parse": _labelled(1.0, 1), "load": _labelled(1.0, 2)},
                     {"parse": _labelled(1.3, 3), "load": _labelled(1.0, 4)})
    assert isinstance(report, GateReport) and report.exit_code == 1
    verdicts = {c.name: c.verdict for c in report.comparisons}
    assert verdicts == {"parse": Verdict.SLOWER, "load": Verdict.UNCHANGED}
    (slow,) = report.regressions
    assert slow.change == pytest.approx(0.3, abs=0.02) and "32/32 processes" in slow.reason
    # The policy decides: a 50 % threshold lets the 30 % slowdown pass.
    assert compare({"parse": _labelled(1.0, 1)}, {"parse": _labelled(1.3, 3)}, Policy(threshold=0.5)).exit_code == 0


def test_plain_lists_are_single_process_data() -> None:
    report = compare({"t": _times(1.0, 1, 200)}, {"t": _times(1.10, 2, 200)})
    (c,) = report.comparisons
    assert c.verdict is Verdict.UNCHANGED and "single-process data" in c.reason and c.threshold > 0.25
    assert compare({"t": np.array(_times(1.0, 1, 200))}, {"t": _times(3.0, 2, 200)}).exit_code == 1  # arrays too


def test_compare_files_and_a_policy_file_as_the_cli_does(tmp_path: Path) -> None:
    def doc(path: Path, scale: float, seed: int) -> Path:
        return write_hotpath_doc(path, [{"name": "parse", "samples": _times(scale, seed), "groups": list(GROUPS)}])

    base, head = doc(tmp_path / "base.json", 1.0, 1), doc(tmp_path / "head.json", 1.08, 2)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"threshold": "10%"}))
    strict, lenient = compare(base, head), compare(str(base), [head], policy=policy)
    assert strict.comparisons[0].verdict is Verdict.SLOWER and lenient.comparisons[0].verdict is Verdict.UNCHANGED
    cli = json.loads(run_gate_cli("gate", base, head, "--json", "-").stdout)
    assert cli["comparisons"][0]["verdict"] == strict.comparisons[0].verdict.value
    assert cli["comparisons"][0]["ratio"] == pytest.approx(strict.comparisons[0].ratio)


@pytest.mark.parametrize("baseline, match", [
    ({"t": [0.001]}, "at least 2"),
    ({"t": "fast"}, "sequence of times"),
    ({"t": [0.001, "x"]}, "must be numbers"),
    ({"other": [0.001, 0.002]}, "no benchmark appears in both"),
    (42, "expected a results file"),
    ("missing.json", "does not exist"),
])
def test_unusable_input_raises_one_clear_error(baseline: object, match: str) -> None:
    with pytest.raises(GateInputError, match=match):
        compare(baseline, {"t": [0.001, 0.002]})  # type: ignore[arg-type]
