"""Tune every corpus kernel and write the table: baseline, winner, speedup, tune time.

    python -m bench.run_corpus                       # all kernels, bench size
    python -m bench.run_corpus --style loops --size small
    python -m bench.run_corpus sum_of_squares_loops  # a few by name

Writes ``bench/results/corpus-<size>.md`` and ``.json`` (schema ``hotpath.corpus/1``). The
geometric mean counts every kernel: a kernel with no winner counts as 1x, so losers are in it.
Speedups are medians of paired original/candidate ratios measured in the same worker, with the
95% interval of that median; this machine is noisy, so compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

import hotpath
from bench import corpus

RESULTS = Path(__file__).parent / "results"


def run_kernel(kernel: corpus.Kernel, size: str, config: hotpath.Config) -> dict:
    args = kernel.make_args(size)
    started = time.perf_counter()
    result = hotpath.tune(kernel.fn, *args, config=config)
    tune_s = time.perf_counter() - started
    won = next((t for t in result.trials if t.status == "won"), None)
    return {
        "name": kernel.name,
        "style": kernel.style,
        "category": kernel.category,
        "signature": str(result.signature),
        "baseline_ms": None if result.baseline_s is None else result.baseline_s * 1e3,
        "winner": won.name if won else None,
        "speedup": won.timing.speedup if won else 1.0,
        "ci": [won.timing.ci_low, won.timing.ci_high] if won else None,
        "reason": result.reason,
        "tune_s": tune_s,
        "trials": [
            {"name": t.name, "status": t.status, "reason": t.reason.splitlines()[0],
             "speedup": t.speedup, "ci": [t.timing.ci_low, t.timing.ci_high] if t.timing else None,
             "compile_s": t.compile_s}
            for t in result.trials
        ],
    }


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def markdown(rows: list[dict], size: str, wall_s: float) -> str:
    lines = [
        f"# Corpus results ({size} size)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, Numba {numba.__version__}. Wall time {wall_s / 60:.1f} min.",
        "Speedup: median of paired original/variant ratios, [95% interval]; no winner counts as 1x.",
        "",
        "| kernel | style | original ms | winner | speedup [95% CI] | tune s | other variants / reason |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for r in rows:
        ci = f" [{r['ci'][0]:.1f}, {r['ci'][1]:.1f}]" if r["ci"] else ""
        others = "; ".join(f"{t['name']}: {t['status']}" + (f" {t['speedup']:.1f}x" if t["speedup"] else "")
                           for t in r["trials"] if t["name"] != r["winner"])
        if r["reason"]:
            others = f"**{r['reason']}**; " + others
        baseline = f"{r['baseline_ms']:.1f}" if r["baseline_ms"] is not None else "-"
        lines.append(f"| {r['name']} | {r['style']} | {baseline} | {r['winner'] or '-'} | "
                     f"{r['speedup']:.1f}x{ci} | {r['tune_s']:.1f} | {others} |")
    lines.append("")
    for style in ("loops", "vectorized", None):
        chosen = [r for r in rows if style is None or r["style"] == style]
        if chosen:
            wins = sum(1 for r in chosen if r["winner"])
            label = style or "all"
            lines.append(f"- geometric-mean speedup, {label}: **{geomean([r['speedup'] for r in chosen]):.2f}x** "
                         f"over {len(chosen)} kernels ({wins} with a winner, the rest counted as 1x)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="kernels to run (default: all)")
    parser.add_argument("--size", choices=corpus.SIZES, default="bench")
    parser.add_argument("--style", choices=("loops", "vectorized", "all"), default="all")
    parser.add_argument("--timing-budget", type=float, default=1.0, help="seconds of timing per candidate")
    parser.add_argument("--out", type=Path, default=None, help="output stem (default bench/results/corpus-SIZE)")
    options = parser.parse_args(argv)

    kernels = [k for k in corpus.KERNELS
               if (not options.names or k.name in options.names)
               and (options.style == "all" or k.style == options.style)]
    config = hotpath.Config(timing_budget_s=options.timing_budget)
    os.environ.setdefault("HOTPATH_HOME", tempfile.mkdtemp(prefix="hotpath-bench-"))
    rows = []
    started = time.perf_counter()
    for position, kernel in enumerate(kernels, 1):
        row = run_kernel(kernel, options.size, config)
        rows.append(row)
        print(f"[{position}/{len(kernels)}] {kernel.name}: {row['winner'] or '-'} {row['speedup']:.1f}x "
              f"(tune {row['tune_s']:.1f} s){'  ' + row['reason'] if row['reason'] else ''}", flush=True)
    wall = time.perf_counter() - started
    stem = options.out or RESULTS / f"corpus-{options.size}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text(markdown(rows, options.size, wall))
    stem.with_suffix(".json").write_text(json.dumps(
        {"schema": "hotpath.corpus/1", "size": options.size, "wall_s": wall, "kernels": rows}, indent=1))
    print(markdown(rows, options.size, wall).split("\n\n")[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
