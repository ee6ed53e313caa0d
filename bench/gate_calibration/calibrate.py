"""Measure the gate's false-alarm and detection rates with real pyperf runs on this machine.

Each *round* runs the workload five times, in a random order: twice unchanged (A, A') and once
each with a 5 %, 10 % and 25 % injected slowdown. From a round come one A/A pair (A vs A') and
three A/B pairs (A vs each slowed run). Every pair is judged by the very function
``hotpath gate`` uses, with its default policy, and the rates are written to ``results.md``
and ``results.json`` beside this file.

    python bench/gate_calibration/calibrate.py all --rounds 200      # collect, then evaluate
    python bench/gate_calibration/calibrate.py collect --rounds 200 --workdir DIR
    python bench/gate_calibration/calibrate.py evaluate --workdir DIR

The raw pyperf files go to ``--workdir`` (a temporary folder by default); ``evaluate`` also
saves every run's values compactly in ``runs.json.gz`` so the evaluation can be repeated from
the committed data alone (``evaluate --archive runs.json.gz``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

# The gate is imported where used, so `collect` runs even while the gate is being changed.

log = logging.getLogger("gate_calibration")

#: Run label -> injected slowdown.
VARIANTS = {"A": 0.0, "A2": 0.0, "B05": 0.05, "B10": 0.10, "B25": 0.25}
#: pyperf settings of every run: 6 worker processes x 8 values of 150 loops (~8 ms each).
PYPERF_ARGS = ("--processes", "6", "--values", "8", "--warmups", "1", "--loops", "150")
BENCHMARK = "loop"


@dataclass(frozen=True)
class PairResult:
    """The gate's verdict on one pair of runs."""

    kind: str  # "A/A", "A/B 5%", ...
    round: int
    verdict: str
    ratio: float
    ci_low: float | None
    ci_high: float | None
    min_detectable: float | None


def collect(rounds: int, workdir: Path, seed: int) -> None:
    """Run ``rounds`` rounds of the workload with pyperf, skipping rounds already on disk."""
    workdir.mkdir(parents=True, exist_ok=True)
    order_rng = random.Random(seed)
    started = time.monotonic()
    for r in range(rounds):
        labels = list(VARIANTS)
        order_rng.shuffle(labels)  # drawn even for finished rounds, so a resumed run keeps its order
        folder = workdir / f"round-{r:03d}"
        folder.mkdir(exist_ok=True)
        for label in labels:
            out = folder / f"{label}.json"
            if out.exists():
                continue
            cmd = [
                sys.executable, str(HERE / "workload.py"), "--quiet", *PYPERF_ARGS,
                "--slowdown", str(VARIANTS[label]), "-o", str(out) + ".part",
            ]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            os.replace(str(out) + ".part", out)
        elapsed = time.monotonic() - started
        line = f"round {r + 1}/{rounds} done, {elapsed / 60:.1f} min elapsed"
        (workdir / "progress.txt").write_text(line + "\n")
        log.info(line)


def _load_workdir(workdir: Path) -> dict[int, dict[str, BenchmarkSamples]]:
    from hotpath.gate.readers import load_results

    rounds: dict[int, dict[str, BenchmarkSamples]] = {}
    for folder in sorted(workdir.glob("round-*")):
        files = {label: folder / f"{label}.json" for label in VARIANTS}
        if not all(f.exists() for f in files.values()):
            continue  # an interrupted round
        index = int(folder.name.split("-")[1])
        rounds[index] = {
            label: load_results(path).benchmarks[BENCHMARK] for label, path in files.items()
        }
    return rounds


def _load_archive(path: Path) -> dict[int, dict[str, BenchmarkSamples]]:
    from hotpath.gate.model import BenchmarkSamples

    with gzip.open(path, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    return {
        int(r): {
            label: BenchmarkSamples(name=BENCHMARK, unit="s", values=tuple(run["samples"]),
                                    groups=tuple(run["groups"]))
            for label, run in runs.items()
        }
        for r, runs in doc["rounds"].items()
    }


def _save_archive(rounds: dict[int, dict[str, BenchmarkSamples]], path: Path) -> None:
    doc = {
        "description": "values (seconds per call) of every calibration run, by round and label",
        "pyperf_args": list(PYPERF_ARGS),
        "rounds": {
            str(r): {label: {"samples": [float(f"{v:.6g}") for v in b.values], "groups": list(b.groups or ())}
                     for label, b in runs.items()}
            for r, runs in rounds.items()
        },
    }
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump(doc, fh, separators=(",", ":"))


def judge(rounds: dict[int, dict[str, BenchmarkSamples]], policy: Policy) -> list[PairResult]:
    """The gate's verdict on every A/A and A/B pair."""
    from hotpath.gate.decision import compare_benchmark

    pairs = []
    for r, runs in sorted(rounds.items()):
        # Alternate which unchanged run is the baseline so neither is favoured.
        base, other = (runs["A"], runs["A2"]) if r % 2 == 0 else (runs["A2"], runs["A"])
        jobs = [("A/A", base, other)] + [
            (f"A/B {round(VARIANTS[label] * 100)}%", base, runs[label]) for label in ("B05", "B10", "B25")
        ]
        for kind, b, c in jobs:
            comp = compare_benchmark(b, c, policy)
            pairs.append(PairResult(kind, r, comp.verdict.value, comp.ratio, comp.ci_low, comp.ci_high,
                                    comp.min_detectable))
    return pairs


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a rate, honest about small counts."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarise(pairs: list[PairResult], rounds: dict[int, dict[str, BenchmarkSamples]]) -> dict:
    """Rates per pair kind, plus how noisy the machine was."""
    import numpy as np

    from hotpath.gate.model import Verdict

    kinds: dict[str, list[PairResult]] = {}
    for p in pairs:
        kinds.setdefault(p.kind, []).append(p)
    rates = {}
    for kind, items in kinds.items():
        flagged = sum(1 for p in items if p.verdict == Verdict.SLOWER.value)
        ratios = np.array([p.ratio for p in items])
        low, high = _wilson(flagged, len(items))
        rates[kind] = {
            "pairs": len(items),
            "flagged_slower": flagged,
            "rate": flagged / len(items),
            "rate_95ci": [low, high],
            "verdicts": {v.value: sum(1 for p in items if p.verdict == v.value) for v in Verdict},
            "ratio_median": float(np.median(ratios)),
            "ratio_p01_p99": [float(np.quantile(ratios, 0.01)), float(np.quantile(ratios, 0.99))],
            "min_detectable_median": float(np.median([p.min_detectable for p in items if p.min_detectable is not None])),
        }
    # Raw noise: the spread of all values within a run, and of run medians across A runs.
    a_runs = [runs[label] for runs in rounds.values() for label in ("A", "A2")]
    within = [float(np.quantile(b.values, 0.9) / np.quantile(b.values, 0.1)) for b in a_runs]
    medians = np.array([np.median(b.values) for b in a_runs])
    mins = np.array([np.min(b.values) for b in a_runs])
    return {
        "rates": rates,
        "noise": {
            "within_run_p90_over_p10_median": float(np.median(within)),
            "a_run_median_range": [float(medians.min()), float(medians.max())],
            "a_run_median_cv": float(medians.std() / medians.mean()),
            "a_run_min_cv": float(mins.std() / mins.mean()),
        },
    }


def write_reports(summary: dict, meta: dict, out_dir: Path) -> None:
    """``results.json`` (everything) and ``results.md`` (the figures, for humans)."""
    doc = {"schema": "hotpath.gate-calibration/1", **meta, **summary}
    (out_dir / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    rates = summary["rates"]
    lines = [
        "# Gate calibration results",
        "",
        f"Measured on {meta['machine']} ({meta['cpu_count']} CPUs), {meta['date']}, "
        f"{meta['rounds']} rounds, collection wall time {meta['collect_minutes']:.0f} min.",
        "",
        f"Each run: `pyperf` Runner, `{' '.join(PYPERF_ARGS)}` "
        "(pure-Python loop, ~50 µs a call). Gate: default policy "
        f"({meta['policy']}).",
        "",
        "| pairs | n | flagged slower | rate | 95% CI of rate | median ratio | target |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    targets = {"A/A": "≤ 1 %", "A/B 10%": "≥ 95 %"}
    for kind in ("A/A", "A/B 5%", "A/B 10%", "A/B 25%"):
        r = rates[kind]
        lines.append(
            f"| {kind} | {r['pairs']} | {r['flagged_slower']} | {r['rate']:.1%} | "
            f"{r['rate_95ci'][0]:.1%} – {r['rate_95ci'][1]:.1%} | {r['ratio_median']:.3f} | "
            f"{targets.get(kind, '')} |"
        )
    noise = summary["noise"]
    lines += [
        "",
        "A/A rate is the false-alarm rate; A/B rates are detection rates.",
        "",
        "Noise seen: within one run the 90th percentile is "
        f"{noise['within_run_p90_over_p10_median']:.2f}× the 10th (median over runs); the medians "
        f"of unchanged runs range {noise['a_run_median_range'][0] * 1e6:.1f}–"
        f"{noise['a_run_median_range'][1] * 1e6:.1f} µs (CV {noise['a_run_median_cv']:.1%}), "
        f"their minimums vary with CV {noise['a_run_min_cv']:.1%}.",
        "",
        f"Median smallest detectable slowdown reported by the gate on A/A pairs: "
        f"{rates['A/A']['min_detectable_median']:.1%}.",
        "",
        "Reproduce: `python bench/gate_calibration/calibrate.py all --rounds "
        f"{meta['rounds']}`; re-evaluate the committed runs: "
        "`python bench/gate_calibration/calibrate.py evaluate --archive bench/gate_calibration/runs.json.gz`.",
    ]
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")


def evaluate(rounds: dict[int, dict[str, BenchmarkSamples]], out_dir: Path, collect_minutes: float) -> dict:
    """Judge every pair with the default policy and write the reports."""
    from hotpath.gate.policy import Policy

    policy = Policy()
    pairs = judge(rounds, policy)
    summary = summarise(pairs, rounds)
    meta = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "rounds": len(rounds),
        "collect_minutes": collect_minutes,
        "pyperf_args": list(PYPERF_ARGS),
        "policy": policy.describe(),
        "pairs": [p.__dict__ for p in pairs],
    }
    write_reports(summary, meta, out_dir)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("collect", "evaluate", "all"))
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--archive", type=Path, default=None, help="evaluate from a runs.json.gz")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.{md,json} go")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    workdir = args.workdir or Path(tempfile.gettempdir()) / "hotpath-gate-calibration"
    collect_minutes = float("nan")
    if args.action in ("collect", "all"):
        started = time.monotonic()
        collect(args.rounds, workdir, args.seed)
        collect_minutes = (time.monotonic() - started) / 60
        (workdir / "collect_minutes.txt").write_text(f"{collect_minutes}\n")
    if args.action in ("evaluate", "all"):
        if args.archive:
            rounds = _load_archive(args.archive)
            meta_file = args.out / "results.json"
            if meta_file.exists():
                collect_minutes = json.loads(meta_file.read_text()).get("collect_minutes", collect_minutes)
        else:
            rounds = _load_workdir(workdir)
            minutes_file = workdir / "collect_minutes.txt"
            if math.isnan(collect_minutes) and minutes_file.exists():
                collect_minutes = float(minutes_file.read_text())
            _save_archive(rounds, args.out / "runs.json.gz")
        summary = evaluate(rounds, args.out, collect_minutes)
        for kind, r in summary["rates"].items():
            log.info("%-8s %3d pairs  flagged slower %5.1f%%", kind, r["pairs"], 100 * r["rate"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
