"""The calibration's figures: rates with their uncertainty, and ``results.md`` / ``results.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from archive import Rounds
from judging import PairResult

from hotpath.gate.model import Verdict

#: The acceptance targets of issue 7, by pair kind.
TARGETS = {"A/A": "≤ 1 %", "A/B 10%": "≥ 95 %"}
KINDS = ("A/A", "A/B 5%", "A/B 10%", "A/B 25%", "A/A not interleaved")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a rate, honest about small counts."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def rates(pairs: list[PairResult]) -> dict[str, dict]:
    """Per pair kind: how many pairs the gate flagged *slower*, with the ratios it saw."""
    kinds: dict[str, list[PairResult]] = {}
    for p in pairs:
        kinds.setdefault(p.kind, []).append(p)
    out = {}
    for kind, items in kinds.items():
        flagged = sum(1 for p in items if p.verdict == Verdict.SLOWER.value)
        ratios = np.array([p.ratio for p in items])
        detectable = [p.min_detectable for p in items if p.min_detectable is not None]
        out[kind] = {
            "pairs": len(items),
            "flagged_slower": flagged,
            "rate": flagged / len(items),
            "rate_95ci": list(wilson(flagged, len(items))),
            "verdicts": {v.value: sum(1 for p in items if p.verdict == v.value) for v in Verdict},
            "ratio_median": float(np.median(ratios)),
            "log_ratio_sd": float(np.std(np.log(ratios))),
            "ratio_p01_p99": [float(np.quantile(ratios, 0.01)), float(np.quantile(ratios, 0.99))],
            "min_detectable_median": float(np.median(detectable)) if detectable else None,
        }
    return out


def with_rates(counts: dict[str, dict[str, int]]) -> dict[str, dict]:
    """Two-stage counts with their rate and its 95 % interval."""
    out = {}
    for kind, c in counts.items():
        rate = c["confirmed"] / c["trials"] if c["trials"] else float("nan")
        out[kind] = {**c, "rate": rate, "rate_95ci": list(wilson(c["confirmed"], c["trials"]))}
    return out


def noise(rounds: Rounds) -> dict[str, float | list[float]]:
    """How noisy the machine was: spread within runs, and between unchanged runs."""
    a_runs = [runs[label] for runs in rounds.values() for label in ("A", "A2")]
    within = [float(np.quantile(b.values, 0.9) / np.quantile(b.values, 0.1)) for b in a_runs]
    medians = np.array([np.median(b.values) for b in a_runs])
    mins = np.array([np.min(b.values) for b in a_runs])
    return {
        "within_run_p90_over_p10_median": float(np.median(within)),
        "a_run_median_range": [float(medians.min()), float(medians.max())],
        "a_run_median_cv": float(medians.std() / medians.mean()),
        "a_run_min_cv": float(mins.std() / mins.mean()),
    }


def write(doc: dict, out_dir: Path) -> None:
    """``results.json`` (everything) and ``results.md`` (the figures, for humans)."""
    (out_dir / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out_dir / "results.md").write_text(markdown(doc))


def markdown(doc: dict) -> str:
    """The figures of one evaluated collection as Markdown."""
    lines = [
        "# Gate calibration results",
        "",
        f"Measured on {doc['machine']} ({doc['cpu_count']} CPUs), {doc['date']}: {doc['rounds']} rounds, "
        f"collection wall time {doc['collect_minutes']:.0f} min. {doc.get('conditions', '')}".rstrip(),
        "",
        f"Each file: {doc['chunks']} chunks of `workload.py {' '.join(doc['pyperf_args'])} --append FILE` "
        f"({doc['chunks'] * 4} worker processes; pyperf Runner, a pure-Python loop timed in calls of "
        "~1 ms), the five files of a round built interleaved in random order. Gate: the default policy "
        f"({doc['policy']}), through `hotpath.gate.decision.compare_benchmark`.",
        "",
        "## One `hotpath gate` call",
        "",
        "| pairs | processes a side | n | flagged slower | rate | 95% CI of rate | median ratio | sd of log ratio | target |",
        "|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for size, coll in doc["collections"].items():
        for kind in KINDS:
            r = coll["rates"].get(kind)
            if r is None:
                continue
            lines.append(
                f"| {kind} | {size} | {r['pairs']} | {r['flagged_slower']} | {r['rate']:.1%} | "
                f"{r['rate_95ci'][0]:.1%} – {r['rate_95ci'][1]:.1%} | {r['ratio_median']:.3f} | "
                f"{r['log_ratio_sd']:.1%} | {TARGETS.get(kind, '') if size == doc['default_processes'] else ''} |"
            )
    sizes = sorted(int(size) for size in doc["collections"])
    smaller = (
        f"; the {sizes[0]}-process rows judge the first chunks of the same files, i.e. the smaller "
        "collection the gate was used with before"
        if len(sizes) > 1 else ""
    )
    lines += [
        "",
        f"The target column applies to {doc['default_processes']} processes a side{smaller}. A/A "
        "rate is the false-alarm rate; A/B rates are detection rates. *A/A not interleaved* "
        "(secondary) compares unchanged runs of consecutive rounds, measured a round apart without "
        "interleaving, as a naive CI job would.",
        "",
        "## Two-stage protocol of the CI example",
        "",
        "A failure is re-measured and judged again on both measurements merged; only that second "
        "verdict fails the build. Couples of consecutive rounds, overlapping.",
        "",
        "| pairs | processes a side per stage | trials | stage 1 flagged | confirmed (fails the build) | rate | 95% CI of rate | target |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for size, coll in doc["collections"].items():
        for kind, c in coll["two_stage"].items():
            lines.append(
                f"| {kind} | {size} | {c['trials']} | {c['stage1']} | {c['confirmed']} | {c['rate']:.1%} | "
                f"{c['rate_95ci'][0]:.1%} – {c['rate_95ci'][1]:.1%} | "
                f"{TARGETS.get(kind, '') if size == doc['default_processes'] else ''} |"
            )
    n = doc["noise"]
    detect = ", ".join(
        f"{c['rates']['A/A']['min_detectable_median']:.1%} with {size} processes a side"
        for size, c in doc["collections"].items()
    )
    lines += [
        "",
        "## Noise",
        "",
        f"Within one run the 90th percentile is {n['within_run_p90_over_p10_median']:.2f}× the 10th "
        f"(median over runs); the medians of unchanged runs range {n['a_run_median_range'][0] * 1e6:.1f}–"
        f"{n['a_run_median_range'][1] * 1e6:.1f} µs (CV {n['a_run_median_cv']:.1%}), their minimums "
        f"vary with CV {n['a_run_min_cv']:.1%}. Median smallest detectable slowdown reported by the gate "
        f"on A/A pairs: {detect}.",
        "",
        "Reproduce: `python bench/gate_calibration/calibrate.py all --rounds N`; re-evaluate the "
        "committed runs: `python bench/gate_calibration/calibrate.py evaluate --archive "
        "bench/gate_calibration/runs.json.gz`.",
    ]
    return "\n".join(lines) + "\n"
