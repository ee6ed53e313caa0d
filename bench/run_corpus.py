"""Tune every corpus kernel and write the table: baseline, winner, speedup, tune time.

    python -m bench.run_corpus                       # all kernels, bench size
    python -m bench.run_corpus --style loops --size small
    python -m bench.run_corpus sum_of_squares_loops  # a few by name
    python -m bench.run_corpus --budget none         # no tuning budget (default: hotpath's, 60 s)

Writes ``bench/results/corpus-<size>.md`` and ``.json`` (schema ``hotpath.corpus/1``); ``--json PATH``
also times each kernel's installed callable against the original (``--repeats`` pairs) and
writes the samples as ``hotpath.bench/1`` for ``hotpath gate``. The
geometric mean counts every kernel: a kernel with no winner counts as 1x, so losers are in it.
Speedups are medians of paired original/candidate ratios measured in the same worker, with the
95% interval of that median; this machine is noisy, so compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np

import hotpath
from bench import corpus, harness
from bench.harness import geomean

RESULTS = harness.RESULTS


def run_kernel(kernel: corpus.Kernel, size: str, config: hotpath.Config,
               options: argparse.Namespace | None = None, bucket: list | None = None) -> dict[str, Any]:
    """Tune ``kernel`` at ``size``: its row (and, with ``--json``, its paired samples in ``bucket``)."""
    args = kernel.make_args(size)
    row, result = harness.tune(kernel.fn, args, config, kernel.name, style=kernel.style, category=kernel.category)
    if options is not None and bucket is not None:
        harness.measure(options, bucket, kernel.name, kernel.fn, result.optimized, args)
    return row


def markdown(rows: list[dict], size: str, wall_s: float, budget_s: float | None = None) -> str:
    budget = "no tuning budget" if budget_s is None else f"tuning budget {budget_s:g} s per kernel"
    lines = [
        f"# Corpus results ({size} size)",
        "",
        f"Machine: {harness.machine(f'NumPy {np.__version__}', f'Numba {numba.__version__}')}. "
        f"Wall time {wall_s / 60:.1f} min; {budget}.",
        "Speedup: median of paired original/variant ratios, [95% interval]; no winner counts as 1x. "
        "Tune s: the kernel's whole tuning run (reference, every trial, confirmation).",
        "",
    ]
    cells = []
    for r in rows:
        ci = f" [{r['ci'][0]:.1f}, {r['ci'][1]:.1f}]" if r["ci"] else ""
        others = "; ".join(f"{t['name']}: {t['status']}" + (f" {t['speedup']:.1f}x" if t["speedup"] else "")
                           for t in r["trials"] if t["name"] != r["winner"])
        if r["reason"]:
            others = f"**{r['reason']}**; " + others
        baseline = f"{r['baseline_ms']:.1f}" if r["baseline_ms"] is not None else "-"
        cells.append((r["name"], r["style"], baseline, r["winner"] or "-", f"{r['speedup']:.1f}x{ci}",
                      f"{r['tune_s']:.1f}", others))
    lines += harness.table(("kernel", "style", "original ms", "winner", "speedup [95% CI]", "tune s",
                            "other variants / reason"), cells, "llrlrrl")
    lines.append("")
    for style in ("loops", "vectorized", None):
        chosen = [r for r in rows if style is None or r["style"] == style]
        if chosen:
            wins = sum(1 for r in chosen if r["winner"])
            label = style or "all"
            lines.append(f"- geometric-mean speedup, {label}: **{geomean([r['speedup'] for r in chosen]):.2f}x** "
                         f"over {len(chosen)} kernels ({wins} with a winner, the rest counted as 1x)")
    lines.append(harness.tuning_line(rows, budget_s))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, size="bench", sizes=corpus.SIZES, timing_budget=1.0, repeats=21,
                            budget="default")
    parser.add_argument("--style", choices=("loops", "vectorized", "all"), default="all")
    parser.add_argument("--out", type=Path, default=None, help="output stem (default bench/results/corpus-SIZE)")
    options = parser.parse_args(argv)

    kernels = harness.select(corpus.KERNELS, options.names, options.style)
    config = hotpath.Config(timing_budget_s=options.timing_budget, **harness.budget_option(options.budget))
    harness.state_home("hotpath-bench-")
    rows: list[dict[str, Any]] = []
    bucket: list = []
    started = time.perf_counter()
    for position, kernel in enumerate(kernels, 1):
        row = run_kernel(kernel, options.size, config, options, bucket)
        rows.append(row)
        print(f"[{position}/{len(kernels)}] {kernel.name}: {row['winner'] or '-'} {row['speedup']:.1f}x "
              f"(tune {row['tune_s']:.1f} s){'  ' + row['reason'] if row['reason'] else ''}", flush=True)
    wall = time.perf_counter() - started
    stem = options.out or RESULTS / f"corpus-{options.size}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    text = markdown(rows, options.size, wall, config.budget_s)
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(json.dumps(
        {"schema": "hotpath.corpus/1", "size": options.size, "wall_s": wall, "budget_s": config.budget_s,
         "kernels": rows}, indent=1))
    harness.finish(options, bucket, "bench.run_corpus")
    print(text.split("\n\n")[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
