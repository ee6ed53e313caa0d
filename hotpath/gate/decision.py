"""Per-benchmark verdicts: faster, unchanged, slower (or slower but acknowledged).

The rule for raw samples: a benchmark is *slower* only when both

* the ratio of location estimates (current / baseline) exceeds ``1 + threshold`` — the change
  is big enough to matter — and
* the bootstrap interval of that ratio, at the policy's confidence, lies entirely above 1 — the
  change is not explained by the noise in these two measurements. (The default two-sided 90 %
  interval makes this a one-sided test at 5 %: only "slower" fails a build.)

*Faster* is the mirror image. Anything else is *unchanged*: too small to matter or not clearly
real. The interval resamples blocks of consecutive worker processes (see :mod:`hotpath.gate.stats`),
so it counts the process-to-process noise that dominates on shared machines; the reason of every
verdict says how many processes backed it, and warns when that is below what the defaults were
calibrated on (:data:`CALIBRATED_PROCESSES`) or too few to see that noise at all.

Data from fewer than 3 processes a side (a pytest-benchmark session is one process) cannot show
how much the next process would differ, and on a shared machine that difference is the largest
noise there is: the same code measured in two pytest sessions read +7 % slower one time in three.
So for times the policy's assumed process-to-process spread (``process_spread``, measured by
bench/gate_calibration) is added to the bootstrap's variance, ``se^2 + spread^2 * (1/n_base +
1/n_cur)`` on the log scale, the interval widened to match, and the threshold raised to what
that noise exceeds only once in 100 comparisons of identical code
(:data:`SINGLE_PROCESS_FALSE_ALARMS`): ``exp(2.33 * sqrt(se^2 + spread^2 * (1/n_base +
1/n_cur))) - 1``, at least 26 % for one process a side at the default 7 %. Every such
verdict's reason says so.

With summary statistics only there is nothing to resample, so the gate asks for more: the
minimum, the lower quartile and the median must all have moved past twice the threshold, and
past what the process-to-process spread alone explains.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np

from hotpath.gate import stats
from hotpath.gate.errors import GateInputError
from hotpath.gate.model import BenchmarkSamples, Comparison, GateReport, ResultSet, SummaryStats, Verdict
from hotpath.gate.policy import Policy

log = logging.getLogger(__name__)

#: Without raw samples the noise cannot be measured; changes must clear this many thresholds.
SUMMARY_THRESHOLD_FACTOR = 2.0
#: Worker processes a side behind the default settings' calibrated rates (<= 1 % false alarms,
#: >= 95 % of 10 % slowdowns caught; bench/gate_calibration). With 16 a side the same rule gave
#: 2-4 % false alarms on the calibration VM, so fewer is worth a warning, not a refusal.
CALIBRATED_PROCESSES = 32
#: On data from under 3 processes a side the threshold is raised to the change that the noise,
#: assumed process-to-process spread included, exceeds this often on identical code: the gate's
#: false-alarm target. Simulated single-process sessions of identical code were flagged 32.8 % of
#: the time without the spread, 5 % with the interval widened but the threshold left at 5 %, and
#: 1.0 % (10/1000) with this rule (bench/gate_calibration/single_process.py).
SINGLE_PROCESS_FALSE_ALARMS = 0.01


def run_gate(baseline: ResultSet, current: ResultSet, policy: Policy | None = None) -> GateReport:
    """Compare every benchmark present in both result sets."""
    policy = policy or Policy()
    common = [name for name in current.names() if name in baseline.benchmarks]
    if not common:
        raise GateInputError(
            f"no benchmark appears in both {baseline.source!r} ({_sample_names(baseline)}) and "
            f"{current.source!r} ({_sample_names(current)}); names must match exactly: run the "
            "same benchmarks, with the same names, on both commits"
        )
    for name in common:
        _check_units(baseline.benchmarks[name], current.benchmarks[name], baseline.source, current.source)
    for pattern in policy.unused_patterns(common):
        log.warning("policy pattern %r matches no compared benchmark", pattern)
    comparisons = tuple(
        compare_benchmark(baseline.benchmarks[name], current.benchmarks[name], policy) for name in common
    )
    return GateReport(
        baseline=baseline.source,
        current=current.source,
        comparisons=comparisons,
        only_in_baseline=tuple(n for n in baseline.names() if n not in current.benchmarks),
        only_in_current=tuple(n for n in current.names() if n not in baseline.benchmarks),
        settings={
            "threshold": policy.threshold,
            "instructions_threshold": policy.instructions_threshold,
            "confidence": policy.confidence,
            "time_quantile": policy.time_quantile,
            "reference_quantile": policy.reference_quantile,
            "cluster_width": policy.cluster_width,
            "resamples": policy.resamples,
            "description": policy.describe(),
        },
    )


def compare_benchmark(baseline: BenchmarkSamples, current: BenchmarkSamples, policy: Policy) -> Comparison:
    """The verdict on one benchmark measured twice (the function every gate entry point uses)."""
    _check_units(baseline, current, "baseline", "current")
    threshold = policy.threshold_for(current.name, current.unit)
    if baseline.has_raw and current.has_raw:
        comparison = _compare_raw(baseline, current, policy, threshold)
    else:
        comparison = _compare_summaries(baseline, current, policy, threshold)
    allowance = policy.allowance(current.name)
    if comparison.verdict is Verdict.SLOWER and allowance is not None:
        comparison = replace(comparison, verdict=Verdict.ACCEPTED, allow_reason=allowance,
                             reason=f"{comparison.reason}; acknowledged: {allowance}")
    return comparison


def _compare_raw(baseline: BenchmarkSamples, current: BenchmarkSamples, policy: Policy, threshold: float) -> Comparison:
    estimator = policy.estimator_for(current.unit)
    rng = np.random.default_rng(stats.seed_for(current.name, policy.seed))
    est = stats.ratio_interval(
        np.asarray(baseline.values),
        np.asarray(current.values),
        estimator=estimator,
        confidence=policy.confidence,
        resamples=policy.resamples,
        rng=rng,
        baseline_groups=np.asarray(baseline.groups) if baseline.groups is not None else None,
        current_groups=np.asarray(current.groups) if current.groups is not None else None,
    )
    ci_low, ci_high, se_log = est.ci_low, est.ci_high, est.se_log
    unseen = _unseen_variance(baseline, current, policy, estimator.median)
    if unseen > 0.0:
        # The bootstrap saw drift within the process(es), not between them: add the assumed
        # spread and widen the interval (never narrower than the bootstrap's own).
        se_log = math.sqrt(se_log**2 + unseen)
        z = stats.normal_quantile(1 - (1 - policy.confidence) / 2)
        ci_low = min(ci_low, est.ratio * math.exp(-z * se_log))
        ci_high = max(ci_high, est.ratio * math.exp(z * se_log))
        threshold = max(threshold, _offset_threshold(se_log**2))
    upper_bar = 1.0 + threshold
    lower_bar = 1.0 / upper_bar
    if est.ratio > upper_bar and ci_low > 1.0:
        verdict = Verdict.SLOWER
    elif est.ratio < lower_bar and ci_high < 1.0:
        verdict = Verdict.FASTER
    else:
        verdict = Verdict.UNCHANGED
    label = estimator.label()
    ci = f"{policy.confidence:.0%} CI {_pct(ci_low)} to {_pct(ci_high)}"
    if verdict is Verdict.SLOWER:
        reason = f"{label} {_pct(est.ratio)} ({ci}), beyond the {threshold:.0%} threshold"
    elif verdict is Verdict.FASTER:
        reason = f"{label} {_pct(est.ratio)} ({ci}), faster beyond the {threshold:.0%} threshold"
    elif est.ratio > upper_bar or est.ratio < lower_bar:
        reason = f"{label} {_pct(est.ratio)} but not significant ({ci})"
    elif ci_low > 1.0 or ci_high < 1.0:
        reason = f"{label} {_pct(est.ratio)} is real ({ci}) but within the {threshold:.0%} threshold"
    else:
        reason = f"{label} {_pct(est.ratio)}, within noise ({ci})"
    detectable = stats.min_detectable(threshold, se_log, policy.confidence)
    reason += _data_note(baseline, current, policy, estimator.median, detectable, threshold)
    return Comparison(
        name=current.name,
        unit=current.unit,
        verdict=verdict,
        ratio=est.ratio,
        ci_low=ci_low,
        ci_high=ci_high,
        threshold=threshold,
        confidence=policy.confidence,
        baseline_estimate=est.baseline,
        current_estimate=est.current,
        baseline_count=baseline.count,
        current_count=current.count,
        method=f"bootstrap over processes, {label}" + (
            f", widened by an assumed {policy.process_spread:.0%} process-to-process spread" if unseen else ""),
        min_detectable=detectable,
        reason=reason,
    )


def _compare_summaries(baseline: BenchmarkSamples, current: BenchmarkSamples, policy: Policy, threshold: float) -> Comparison:
    # No samples means no view of the noise, so the bar is raised instead: every robust
    # statistic the tool kept must have moved, by twice the threshold.
    base, cur = _summary(baseline), _summary(current)
    ratios = {"min": cur.minimum / base.minimum, "Q1": cur.q1 / base.q1, "median": cur.median / base.median}
    upper_bar = 1.0 + SUMMARY_THRESHOLD_FACTOR * threshold
    # A summary-only file is one pytest-benchmark session: one process a side, whose offset moves
    # all three statistics together, so they must also clear what that offset alone explains.
    upper_bar = max(upper_bar, 1.0 + _offset_threshold(2 * policy.process_spread**2))
    if all(r > upper_bar for r in ratios.values()):
        verdict = Verdict.SLOWER
    elif all(r < 1.0 / upper_bar for r in ratios.values()):
        verdict = Verdict.FASTER
    else:
        verdict = Verdict.UNCHANGED
    moved = ", ".join(f"{k} {_pct(r)}" for k, r in ratios.items())
    reason = (
        f"summary statistics only, from a single process a side: {moved} (all must pass "
        f"{_pct(upper_bar)}: {SUMMARY_THRESHOLD_FACTOR:g}x the {threshold:.0%} threshold, and at least what an "
        f"assumed {policy.process_spread:.0%} process-to-process spread explains; keep raw samples, e.g. "
        "--benchmark-save-data, for a significance test)"
    )
    return Comparison(
        name=current.name,
        unit=current.unit,
        verdict=verdict,
        ratio=ratios["Q1"],
        ci_low=None,
        ci_high=None,
        threshold=threshold,
        confidence=policy.confidence,
        baseline_estimate=base.q1,
        current_estimate=cur.q1,
        baseline_count=baseline.count,
        current_count=current.count,
        method="summary statistics (min, Q1, median)",
        min_detectable=None,
        reason=reason,
    )


def _side_processes(bench: BenchmarkSamples) -> int:
    """How many worker processes a side's samples came from (no labels: one, a pytest session)."""
    return stats.process_count(bench.groups) or 1


def _unseen_variance(baseline: BenchmarkSamples, current: BenchmarkSamples, policy: Policy, median: bool) -> float:
    """Variance of the log-ratio from process-to-process offsets that the bootstrap cannot see:
    ``spread^2 / n`` for each side measured in fewer than :data:`stats.MIN_GROUPS` processes.
    Instruction counts (``median``) do not depend on the process, so none."""
    if median:
        return 0.0
    sides = (_side_processes(baseline), _side_processes(current))
    return sum(policy.process_spread**2 / n for n in sides if n < stats.MIN_GROUPS)


def _offset_threshold(variance: float) -> float:
    """The change that noise of log-variance ``variance`` exceeds once in 100 on identical code."""
    return math.expm1(stats.normal_quantile(1 - SINGLE_PROCESS_FALSE_ALARMS) * math.sqrt(variance))


def _data_note(baseline: BenchmarkSamples, current: BenchmarkSamples, policy: Policy, median: bool,
               detectable: float | None, threshold: float) -> str:
    """How many worker processes backed the verdict, and what that means for its reliability."""
    if median and (baseline.groups is None or current.groups is None):
        return ""  # instruction counts of `hotpath measure`: one process per repeat, unlabelled
    base_n, cur_n = _side_processes(baseline), _side_processes(current)
    note = f"; {base_n}/{cur_n} processes"
    fewest = min(base_n, cur_n)
    if fewest < stats.MIN_GROUPS:
        if median:
            return f"{note}: too few to show how much another process would differ"
        labels = "" if baseline.groups is not None and current.groups is not None else \
            " (results without process labels, like pytest-benchmark's, count as one process)"
        if policy.process_spread == 0:
            widened = ("process_spread is 0, so none is assumed and the interval shows only the noise "
                       "within the process")
        else:
            widened = (f"the interval is widened by an assumed {policy.process_spread:.0%} process-to-process "
                       f"spread (policy process_spread) and the threshold raised to "
                       f"{threshold:.0%}, "
                       f"so a slowdown under about "
                       f"{detectable * 100 if detectable is not None else float('nan'):.0f}% can pass")
        return (f"{note}: single-process data{labels}: the variance between processes is not measured "
                f"(often ±5% or more on a shared machine); {widened}; measure several worker processes "
                f"(pyperf --processes), or alternate base and head sessions and gate their files merged")
    if fewest < CALIBRATED_PROCESSES:
        return (f"{note} (the defaults were calibrated on {CALIBRATED_PROCESSES} a side; with fewer, "
                "false alarms are likelier)")
    return note


def _summary(bench: BenchmarkSamples) -> SummaryStats:
    if bench.summary is not None and not bench.has_raw:
        return bench.summary
    values = np.asarray(bench.values)
    q = np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])
    minimum, q1, median, q3, maximum = (float(x) for x in q)
    return SummaryStats(minimum, q1, median, q3, maximum, count=len(values))


def _check_units(baseline: BenchmarkSamples, current: BenchmarkSamples, base_src: str, cur_src: str) -> None:
    if baseline.unit != current.unit:
        raise GateInputError(
            f"benchmark {current.name!r} is measured in {baseline.unit!r} in {base_src!r} but in "
            f"{current.unit!r} in {cur_src!r}; compare like with like: measure both the same way"
        )


def _sample_names(results: ResultSet, limit: int = 3) -> str:
    names = results.names()
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _pct(ratio: float) -> str:
    if not math.isfinite(ratio):
        return "n/a"
    return f"{(ratio - 1.0) * 100:+.1f}%"
