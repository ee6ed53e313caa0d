"""Verdicts on hand-made samples (hotpath.bench/1), including the summary-only rule."""

from __future__ import annotations

import numpy as np
import pytest

from hotpath.gate.decision import compare_benchmark, run_gate
from hotpath.gate.errors import GateInputError
from hotpath.gate.model import BenchmarkSamples, ResultSet, SummaryStats, Verdict
from hotpath.gate.policy import Policy, Rule


def _bench(name: str, scale: float = 1.0, seed: int = 0, unit: str = "s", n_proc: int = 10) -> BenchmarkSamples:
    rng = np.random.default_rng(seed)
    values = scale * 1e-3 * (1 + np.abs(rng.normal(0, 0.01, n_proc * 20)))
    groups = np.repeat(np.arange(n_proc), 20)
    return BenchmarkSamples(name=name, unit=unit, values=tuple(values), groups=tuple(int(g) for g in groups))


def _set(*benches: BenchmarkSamples, source: str = "x") -> ResultSet:
    return ResultSet(source=source, format="hotpath.bench/1", benchmarks={b.name: b for b in benches})


@pytest.mark.parametrize("scale, verdict", [(1.0, Verdict.UNCHANGED), (1.3, Verdict.SLOWER), (0.7, Verdict.FASTER),
                                            (1.02, Verdict.UNCHANGED)])
def test_verdicts(scale: float, verdict: Verdict) -> None:
    c = compare_benchmark(_bench("a", seed=1), _bench("a", scale, seed=2), Policy())
    assert c.verdict is verdict
    assert c.ci_low is not None and c.ci_low <= c.ratio <= c.ci_high
    assert c.min_detectable is not None and c.min_detectable >= 0.05


def test_significant_but_small_change_is_not_a_regression() -> None:
    c = compare_benchmark(_bench("a", seed=1), _bench("a", 1.03, seed=2), Policy())
    assert c.verdict is Verdict.UNCHANGED and c.ci_low > 1.0 and "within the 5% threshold" in c.reason


def test_large_but_noisy_change_is_not_a_regression() -> None:
    rng = np.random.default_rng(0)
    base = BenchmarkSamples("a", "s", tuple(rng.uniform(1, 3, 12)))
    cur = BenchmarkSamples("a", "s", tuple(rng.uniform(1, 3, 12) * 1.1))
    c = compare_benchmark(base, cur, Policy())
    assert c.verdict is Verdict.UNCHANGED and c.ci_low < 1.0


@pytest.mark.parametrize("n_proc, expected, absent", [
    (32, "32/32 processes", "calibrated on"),
    (10, "10/10 processes (the defaults were calibrated on 32 a side", "only"),
    (1, "1/1 processes: single-process data", "calibrated on 32 a side;"),
])
def test_reason_says_how_many_processes_backed_the_verdict(n_proc: int, expected: str, absent: str) -> None:
    c = compare_benchmark(_bench("a", seed=1, n_proc=n_proc), _bench("a", 1.3, seed=2, n_proc=n_proc), Policy())
    assert c.verdict is Verdict.SLOWER
    assert expected in c.reason and absent not in c.reason


def test_threshold_per_benchmark_and_allow() -> None:
    policy = Policy().with_rules(Rule("a", threshold=0.5))
    assert compare_benchmark(_bench("a"), _bench("a", 1.3, seed=3), policy).verdict is Verdict.UNCHANGED
    policy = Policy().with_rules(Rule("a", allow=True, reason="#7"))
    c = compare_benchmark(_bench("a"), _bench("a", 1.3, seed=3), policy)
    assert c.verdict is Verdict.ACCEPTED and c.allow_reason == "#7" and not c.fails


def test_instruction_counts_use_a_tight_threshold() -> None:
    base = BenchmarkSamples("i", "instructions", (1_000_000.0, 1_000_010.0, 1_000_020.0))
    plus3 = BenchmarkSamples("i", "instructions", (1_030_000.0, 1_030_010.0, 1_030_005.0))
    same = BenchmarkSamples("i", "instructions", (1_000_005.0, 1_000_000.0, 1_000_015.0))
    assert compare_benchmark(base, plus3, Policy()).verdict is Verdict.SLOWER
    assert compare_benchmark(base, same, Policy()).verdict is Verdict.UNCHANGED
    assert compare_benchmark(base, plus3, Policy()).method.endswith("median")


def test_summary_only_rule() -> None:
    def summ(scale: float) -> BenchmarkSamples:
        return BenchmarkSamples("s", "s", summary=SummaryStats(1.0 * scale, 1.1 * scale, 1.2 * scale, 1.4 * scale, 3.0 * scale, 100))

    slow = compare_benchmark(summ(1.0), summ(1.3), Policy())
    assert slow.verdict is Verdict.SLOWER and slow.ci_low is None and slow.min_detectable is None
    assert "summary statistics only" in slow.reason
    mixed = BenchmarkSamples("s", "s", summary=SummaryStats(1.35, 1.4, 1.55, 1.6, 3.0, 100))  # min moved 35 %, Q1 27 %...
    assert compare_benchmark(summ(1.0), mixed, Policy()).verdict is Verdict.SLOWER
    nearly = BenchmarkSamples("s", "s", summary=SummaryStats(1.35, 1.32, 1.55, 1.6, 3.0, 100))  # ...Q1 only 20 %
    assert compare_benchmark(summ(1.0), nearly, Policy()).verdict is Verdict.UNCHANGED
    # One session a side: a 15 % move of all three is what one process's offset can do (7 % spread)...
    offset = compare_benchmark(summ(1.0), summ(1.15), Policy())
    assert offset.verdict is Verdict.UNCHANGED and "single process" in offset.reason and "+25.9%" in offset.reason
    # ...and only 2 x the 5 % threshold is asked for when no spread is assumed.
    assert compare_benchmark(summ(1.0), summ(1.15), Policy(process_spread=0.0)).verdict is Verdict.SLOWER
    assert compare_benchmark(summ(1.0), summ(1.08), Policy(process_spread=0.0)).verdict is Verdict.UNCHANGED


def test_run_gate_report() -> None:
    base = _set(_bench("a"), _bench("b"), _bench("gone"))
    cur = _set(_bench("a", seed=5), _bench("b", 1.5, seed=6), _bench("new"))
    report = run_gate(base, cur, Policy())
    assert [c.name for c in report.comparisons] == ["a", "b"]
    assert report.only_in_baseline == ("gone",) and report.only_in_current == ("new",)
    assert [c.name for c in report.regressions] == ["b"] and report.exit_code == 1
    assert report.min_detectable is not None
    assert run_gate(base, _set(_bench("a", seed=5)), Policy()).exit_code == 0


def test_run_gate_refuses_unmatched_or_mismatched() -> None:
    with pytest.raises(GateInputError, match="no benchmark appears in both"):
        run_gate(_set(_bench("a")), _set(_bench("b")), Policy())
    with pytest.raises(GateInputError, match="measured in 's'.*'instructions'"):
        run_gate(_set(_bench("a")), _set(_bench("a", unit="instructions")), Policy())


def _session(offset: float, seed: int, rounds: int = 200) -> BenchmarkSamples:
    """One pytest-benchmark-like session: no process labels, a process offset, brief bursts."""
    rng = np.random.default_rng(seed)
    values = 1e-3 * offset * (1 + np.abs(rng.normal(0, 0.01, rounds)))
    values[rng.random(rounds) < 0.05] *= 1.8  # a neighbour taking the core now and then
    return BenchmarkSamples(name="t", unit="s", values=tuple(values))


def test_single_process_data_is_said_in_every_verdict_and_judged_wider() -> None:
    """Issue 19 item 11: identical code in two pytest sessions whose processes happen to differ
    by 10 % was flagged; now the threshold accounts for the spread between processes."""
    base, offset = _session(1.0, 1), _session(1.10, 2)
    c = compare_benchmark(base, offset, Policy())
    assert c.verdict is Verdict.UNCHANGED and c.threshold >= 0.258
    assert "single-process data" in c.reason and "widened by an assumed 7%" in c.reason
    assert c.ci_low < 1.0 < c.ci_high and c.min_detectable > 0.26
    assert compare_benchmark(base, offset, Policy(process_spread=0.0)).verdict is Verdict.SLOWER  # the old rule
    tripled = compare_benchmark(base, _session(3.0, 3), Policy())
    assert tripled.verdict is Verdict.SLOWER and "single-process data" in tripled.reason
    faster = compare_benchmark(base, _session(0.5, 4), Policy())
    assert faster.verdict is Verdict.FASTER and "single-process data" in faster.reason
    # Enough processes a side: the bootstrap sees their spread; nothing is assumed.
    many = compare_benchmark(_bench("a", seed=1), _bench("a", 1.3, seed=2), Policy())
    assert many.threshold == 0.05 and "single-process" not in many.reason


def test_single_process_false_alarms_stay_rare() -> None:
    """Identical code, one process a side, offsets drawn like the calibration VM's (7 %): the
    widened rule flags about 1 pair in 100; without it about 1 in 3 (docs/gate.md)."""
    rng = np.random.default_rng(11)
    pairs = [(_session(np.exp(rng.normal(0, 0.07)), 2 * i), _session(np.exp(rng.normal(0, 0.07)), 2 * i + 1, 100))
             for i in range(150)]
    fast = Policy(resamples=300)
    new = sum(compare_benchmark(b, c, fast).fails for b, c in pairs)
    old = sum(compare_benchmark(b, c, Policy(resamples=300, process_spread=0.0)).fails for b, c in pairs)
    assert new <= 5 and old >= 25, (new, old)
