"""Measure the gate's false-alarm and detection rates with real pyperf runs on this machine.

Each *round* builds five pyperf files, chunk by chunk and interleaved in random order: two of
unchanged code (A, A') and one each with a 5 %, 10 % and 25 % injected slowdown. From a round
come one A/A pair (A vs A') and three A/B pairs (A vs each slowed file). Every pair is judged
by the very function ``hotpath gate`` uses, with its default policy. Also reported: unchanged
files of consecutive rounds (not interleaved), and the two-stage protocol of the CI example
(a flagged pair re-judged on two rounds merged). Results go to ``results.md`` and
``results.json`` beside this file; see ``HISTORY.md`` for how the design was reached.

    python bench/gate_calibration/calibrate.py all --rounds 100      # collect, then evaluate
    python bench/gate_calibration/calibrate.py collect --rounds 100 --workdir DIR
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily at run time: the collection phase needs none of it
    from hotpath.gate.model import BenchmarkSamples
    from hotpath.gate.policy import Policy

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

# The gate is imported where used, so `collect` runs even while the gate is being changed.

log = logging.getLogger("gate_calibration")

#: Run label -> injected slowdown.
VARIANTS = {"A": 0.0, "A2": 0.0, "B05": 0.05, "B10": 0.10, "B25": 0.25}
#: pyperf settings of each chunk: 4 worker processes x 50 values of 20 loops (~1 ms each).
PYPERF_ARGS = ("--processes", "4", "--values", "50", "--warmups", "3", "--loops", "20")
#: Chunks per file: each file ends up with CHUNKS x 4 = 16 processes, 800 values.
CHUNKS = 4
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


def collect(rounds: int, workdir: Path, seed: int, chunks: int = CHUNKS) -> None:
    """Run ``rounds`` rounds of the workload with pyperf, skipping rounds already on disk.

    Within a round the five files are built up interleaved: ``chunks`` times over, each variant
    (in a fresh random order) appends a short pyperf run to its file. This is how docs/gate.md
    tells CI to measure base and head: alternating, so both see the same machine.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    order_rng = random.Random(seed)
    started = time.monotonic()
    for r in range(rounds):
        # Orders are drawn even for finished rounds, so a resumed collection keeps its plan.
        orders = [order_rng.sample(list(VARIANTS), len(VARIANTS)) for _ in range(chunks)]
        folder = workdir / f"round-{r:03d}"
        if all((folder / f"{label}.json").exists() for label in VARIANTS):
            continue
        folder.mkdir(exist_ok=True)
        for stale in folder.glob("*.part"):
            stale.unlink()
        for order in orders:
            for label in order:
                cmd = [
                    sys.executable, str(HERE / "workload.py"), "--quiet", *PYPERF_ARGS,
                    "--slowdown", str(VARIANTS[label]), "--append", str(folder / f"{label}.json.part"),
                ]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        for label in VARIANTS:
            os.replace(folder / f"{label}.json.part", folder / f"{label}.json")
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
    scale = doc["seconds_per_unit"]
    rounds = {}
    for r, runs in doc["rounds"].items():
        rounds[int(r)] = {}
        for label, processes in runs.items():
            values = [v * scale for proc in processes for v in proc]
            groups = [g for g, proc in enumerate(processes) for _ in proc]
            rounds[int(r)][label] = BenchmarkSamples(name=BENCHMARK, unit="s", values=tuple(values), groups=tuple(groups))
    return rounds


def _save_archive(rounds: dict[int, dict[str, BenchmarkSamples]], path: Path) -> None:
    """Every run's values, per worker process, as integer nanoseconds (compact, exact enough)."""
    def processes(bench: BenchmarkSamples) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for value, group in zip(bench.values, bench.groups or [0] * len(bench.values)):
            out.setdefault(group, []).append(round(value * 1e9))
        return list(out.values())

    doc = {
        "description": "per-call times of every calibration run: rounds -> label -> worker processes -> values",
        "seconds_per_unit": 1e-9,
        "pyperf_args": list(PYPERF_ARGS),
        "chunks": CHUNKS,
        "rounds": {str(r): {label: processes(b) for label, b in runs.items()} for r, runs in rounds.items()},
    }
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as fh:
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
        if r + 1 in rounds:
            # Secondary: unchanged runs ~20 s apart and NOT interleaved, as a naive CI would take them.
            jobs.append(("A/A not interleaved", runs["A"], rounds[r + 1]["A2"]))
        for kind, b, c in jobs:
            comp = compare_benchmark(b, c, policy)
            pairs.append(PairResult(kind, r, comp.verdict.value, comp.ratio, comp.ci_low, comp.ci_high,
                                    comp.min_detectable))
    return pairs


def two_stage_rates(rounds: dict[int, dict[str, BenchmarkSamples]], policy: Policy) -> dict[str, dict]:
    """Rates of the CI example's protocol: a failure is re-measured, then judged on all data.

    For each pair of consecutive rounds (r, r+1): stage 1 judges round r alone; if it fails,
    stage 2 judges rounds r and r+1 merged per side (``hotpath gate a1,a2 b1,b2``), and only a
    stage-2 failure counts. The couples overlap (r, r+1), (r+1, r+2), ... so they are not
    independent, but each is a faithful run of the protocol.
    """
    from hotpath.gate.decision import compare_benchmark
    from hotpath.gate.model import ResultSet
    from hotpath.gate.readers.merge import merge_results

    def merged(first: BenchmarkSamples, second: BenchmarkSamples) -> BenchmarkSamples:
        sets = [ResultSet(source=str(i), format="pyperf", benchmarks={BENCHMARK: b}) for i, b in enumerate((first, second))]
        return merge_results(sets).benchmarks[BENCHMARK]

    out: dict[str, dict] = {}
    for r in sorted(rounds):
        if r + 1 not in rounds:
            continue
        now, later = rounds[r], rounds[r + 1]
        for kind, label in (("A/A", "A2"), ("A/B 5%", "B05"), ("A/B 10%", "B10"), ("A/B 25%", "B25")):
            first = compare_benchmark(now["A"], now[label], policy).fails
            confirmed = first and compare_benchmark(
                merged(now["A"], later["A"]), merged(now[label], later[label]), policy
            ).fails
            entry = out.setdefault(kind, {"trials": 0, "stage1": 0, "confirmed": 0})
            entry["trials"] += 1
            entry["stage1"] += first
            entry["confirmed"] += confirmed
    for entry in out.values():
        entry["rate"] = entry["confirmed"] / entry["trials"] if entry["trials"] else float("nan")
        entry["rate_95ci"] = list(_wilson(entry["confirmed"], entry["trials"]))
    return out


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a rate, honest about small counts."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarise(pairs: list[PairResult], rounds: dict[int, dict[str, BenchmarkSamples]], policy: Policy) -> dict:
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
        "two_stage": two_stage_rates(rounds, policy),
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
        f"Each file: {CHUNKS} chunks of `workload.py {' '.join(PYPERF_ARGS)} --append FILE` "
        "(pyperf Runner, a pure-Python loop of ~50 µs a call), the five files of a round built "
        "interleaved in random order. Gate: the default policy "
        f"({meta['policy']}), through `hotpath.gate.decision.compare_benchmark`.",
        "",
        "| pairs | n | flagged slower | rate | 95% CI of rate | median ratio | target |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    targets = {"A/A": "≤ 1 %", "A/B 10%": "≥ 95 %"}
    for kind in ("A/A", "A/B 5%", "A/B 10%", "A/B 25%", "A/A not interleaved"):
        if kind not in rates:
            continue
        r = rates[kind]
        lines.append(
            f"| {kind} | {r['pairs']} | {r['flagged_slower']} | {r['rate']:.1%} | "
            f"{r['rate_95ci'][0]:.1%} – {r['rate_95ci'][1]:.1%} | {r['ratio_median']:.3f} | "
            f"{targets.get(kind, '')} |"
        )
    noise = summary["noise"]
    lines += [
        "",
        "A/A rate is the false-alarm rate; A/B rates are detection rates (single gate call, "
        "default policy). *A/A not interleaved* (secondary) compares unchanged runs from "
        "consecutive rounds, measured ~20 s apart without interleaving, as a naive CI job would.",
        "",
        "**Two-stage protocol of the CI example** (a failure is re-measured and judged again on "
        "both measurements merged; only that second verdict fails the build). Couples of "
        "consecutive rounds, overlapping:",
        "",
        "| pairs | trials | stage 1 flagged | confirmed (fails the build) | rate | 95% CI of rate | target |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for kind, c in summary["two_stage"].items():
        lines.append(
            f"| {kind} | {c['trials']} | {c['stage1']} | {c['confirmed']} | {c['rate']:.1%} | "
            f"{c['rate_95ci'][0]:.1%} – {c['rate_95ci'][1]:.1%} | {targets.get(kind, '')} |"
        )
    lines += [
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
    summary = summarise(pairs, rounds, policy)
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
    parser.add_argument("--rounds", type=int, default=100)
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
