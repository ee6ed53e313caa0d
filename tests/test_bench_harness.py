"""The benchmark harness: tables, geometric mean, rows, options and hotpath.bench/1 output."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from bench import harness
from hotpath.gate.decision import run_gate
from hotpath.gate.errors import GateInputError
from hotpath.gate.policy import Policy
from hotpath.runner.timing import Timing
from hotpath.runner.trials import Trial, TrialStatus


def test_table_aligns_columns_as_asked() -> None:
    lines = harness.table(("kernel", "ms", "winner"), [("a", "1.0", "numba"), ("b", 2, "-")], "lr")
    assert lines == [
        "| kernel | ms | winner |",
        "|---|---:|---|",
        "| a | 1.0 | numba |",
        "| b | 2 | - |",
    ]


def test_geomean() -> None:
    assert harness.geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert harness.geomean(v for v in (1.0, 1.0, 27.0)) == pytest.approx(3.0)
    assert math.isnan(harness.geomean([]))


def _trial(name: str, status: str, speedup: float | None) -> Trial:
    timing = None if speedup is None else Timing(
        original_s=2e-3, candidate_s=2e-3 / speedup, speedup=speedup, ci_low=speedup * 0.9, ci_high=speedup * 1.1,
        confidence=0.95, pairs=6, loops=1, parts=(("transfer_s", 1e-4),))
    return Trial(backend=name.split("+")[0], name=name, status=TrialStatus(status), reason=f"{status}\nmore",
                 timing=timing, compile_s=0.5)


def test_tune_row_reads_the_winner_and_every_trial() -> None:
    result = SimpleNamespace(signature="(float64[:])", baseline_s=2e-3, reason=None,
                             trials=(_trial("numba", "won", 3.0), _trial("cython", "incorrect", None)))
    row = harness.tune_row(result, "k", 1.5, style="loops")
    assert (row["name"], row["style"], row["winner"], row["winner_backend"]) == ("k", "loops", "numba", "numba")
    assert row["speedup"] == 3.0 and row["ci"] == pytest.approx([2.7, 3.3]) and row["baseline_ms"] == 2.0
    assert [t["status"] for t in row["trials"]] == ["won", "incorrect"]
    assert row["trials"][0]["parts"] == {"transfer_s": 1e-4} and row["trials"][1]["reason"] == "incorrect"
    lost = harness.tune_row(SimpleNamespace(signature=None, baseline_s=None, reason="no winner",
                                            trials=(_trial("numba", "correct", 0.8),)), "k", 1.0)
    assert (lost["winner"], lost["speedup"], lost["reason"]) == (None, 1.0, "no winner")


def test_parser_leaves_out_what_a_script_does_not_take(tmp_path) -> None:
    options = harness.parser("doc", size="small", sizes=("small", "bench"), backends="numba", repeats=5).parse_args(
        ["a", "--json", str(tmp_path / "x.json")])
    assert (options.names, options.size, options.backends, options.repeats) == (["a"], "small", "numba", 5)
    bare = harness.parser("doc", names=None, json_out=False).parse_args([])
    assert vars(bare) == {}
    with pytest.raises(SystemExit):
        harness.parser("doc", size="small", sizes=("small",)).parse_args(["--size", "huge"])


def test_budget_option_and_the_tuning_time_line() -> None:
    options = harness.parser("doc", budget="default").parse_args([])
    assert harness.budget_option(options.budget) == {}  # hotpath's own default
    assert harness.budget_option("none") == {"budget_s": None} and harness.budget_option("45") == {"budget_s": 45.0}
    stopped = {"reason": "not tried: the tuning budget of 60 s was spent (61.0 s)"}
    rows = [{"tune_s": 12.0, "trials": [{"reason": "agreed"}]}, {"tune_s": 61.5, "trials": [stopped]},
            {"tune_s": 30.0, "trials": []}]
    assert harness.tuning_line(rows, 60.0) == ("- tuning time per function: median **30.0 s**, longest 61.5 s "
                                               "(budget 60 s per run; 1 of 3 runs stopped by it)")
    assert "no budget" in harness.tuning_line(rows, None)


def test_paired_timing_interleaves_and_counts_each_call() -> None:
    calls = {"original": 0, "optimized": 0}

    def original(values: list[int]) -> None:
        calls["original"] += 1
        values.append(1)  # mutates its argument: each call must get its own copy

    def optimized(values: list[int]) -> None:
        calls["optimized"] += 1
        assert values == [0]
        values.append(1)

    paired = harness.time_paired(original, optimized, ([0],), repeats=4, min_sample_s=0.0, warmup_calls=2,
                                 warmup_s=0.0)
    assert len(paired.original) == len(paired.optimized) == len(paired.ratios) == 4
    assert paired.loops == 1 and calls == {"original": 2 + 1 + 4, "optimized": 2 + 4}
    assert all(v > 0 for v in paired.original + paired.optimized)


def test_written_results_round_trip_through_the_gate(tmp_path) -> None:
    paired = harness.Paired(original=(2.0e-3, 2.1e-3, 1.9e-3), optimized=(1.0e-3, 1.1e-3, 0.9e-3), loops=3)
    path = tmp_path / "run.json"
    harness.write_json(path, harness.paired_samples("kernel", paired), {"script": "test"})
    results = harness.read_json(path)
    assert results.format == harness.SCHEMA
    assert results.names() == ["kernel", "kernel [original]"]
    assert results.benchmarks["kernel"].values == paired.optimized
    assert results.benchmarks["kernel [original]"].unit == "s"
    report = run_gate(results, results, Policy())
    assert report.exit_code == 0 and len(report.comparisons) == 2


def test_one_sample_is_refused_by_the_gate(tmp_path) -> None:
    path = tmp_path / "one.json"
    harness.write_json(path, [harness.samples("k", [1e-3])])
    with pytest.raises(GateInputError, match="at least 2"):
        harness.read_json(path)
