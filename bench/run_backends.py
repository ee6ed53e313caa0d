"""Cython vs Numba vs the original on the corpus loop kernels: both backends' best, and the winner.

    python -m bench.run_backends                    # every loop kernel, bench size
    python -m bench.run_backends --size small matmul_loops

Each kernel is tuned once with ``backends=("numba", "cython")``, so both backends' candidates
are verified and timed against the original in the same run, and the runner installs the faster
correct one. Per backend the table shows its best correct variant's speedup (median of paired
original/variant ratios, [95% interval]) or why it has none. Writes
``bench/results/backends.md`` and ``.json``. Cython build times come from the build log.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import Cython
import numba
import numpy as np

import hotpath
from bench import corpus, harness
from bench.harness import geomean
from hotpath.kernels import cython_build

RESULTS = harness.RESULTS
BACKENDS = ("numba", "cython")


def best(trials: list[dict], backend: str) -> dict:
    """The backend's fastest correct variant (from ``harness.trial_row`` rows), else its first failure's reason."""
    mine = [t for t in trials if t["backend"] == backend]
    timed = [t for t in mine if t["status"] in harness.TIMED and t["speedup"] is not None]
    if timed:
        top = max(timed, key=lambda t: t["speedup"])
        return {"variant": top["name"], "speedup": top["speedup"], "ci": top["ci"], "reason": None}
    failed = next((t for t in mine if t["status"] in ("incorrect", "failed")), None)
    why = failed["reason"] if failed else "no candidate"
    return {"variant": None, "speedup": None, "ci": None, "reason": why}


def run_kernel(kernel: corpus.Kernel, size: str, config: hotpath.Config, build_log: Path,
               options: argparse.Namespace | None = None, bucket: list | None = None) -> dict:
    args = kernel.make_args(size)
    builds_before = len(build_log.read_text().splitlines()) if build_log.exists() else 0
    row, result = harness.tune(kernel.fn, args, config, kernel.name)
    entries = build_log.read_text().splitlines()[builds_before:] if build_log.exists() else []
    row["cython_builds_s"] = [e["cython_s"] + e["compile_s"] for e in map(json.loads, entries)]
    row["numba"], row["cython"] = best(row["trials"], "numba"), best(row["trials"], "cython")
    if options is not None and bucket is not None:
        harness.measure(options, bucket, kernel.name, kernel.fn, result.optimized, args)
    return row


def _cell(entry: dict) -> str:
    if entry["speedup"] is None:
        return f"- ({entry['reason'][:70]})"
    return f"{entry['speedup']:.1f}x [{entry['ci'][0]:.1f}, {entry['ci'][1]:.1f}] `{entry['variant']}`"


def markdown(rows: list[dict], size: str, wall_s: float) -> str:
    lines = [
        f"# Cython vs Numba on the corpus loop kernels ({size} size)",
        "",
        f"Machine: {harness.machine()} (shared with other jobs: read ratios), "
        f"NumPy {np.__version__}, Numba {numba.__version__}, "
        f"Cython {Cython.__version__}. Wall time {wall_s / 60:.1f} min.",
        "Each kernel tuned once with `backends=(\"numba\", \"cython\")`; per backend its best correct variant: "
        "median of paired original/variant ratios [95% interval], or why it has none.",
        "",
    ]
    cells = []
    for r in rows:
        baseline = f"{r['baseline_ms']:.1f}" if r["baseline_ms"] is not None else "-"
        built = ", ".join(f"{b:.1f}" for b in r["cython_builds_s"]) or "cached"
        cells.append((r["name"], baseline, _cell(r["numba"]), _cell(r["cython"]),
                      r["winner"] or "- (" + str(r["reason"]) + ")", built, f"{r['tune_s']:.1f}"))
    lines += harness.table(("kernel", "original ms", "Numba", "Cython", "winner", "Cython build s", "tune s"),
                           cells, "lrlllrr")
    lines.append("")
    for backend in BACKENDS:
        speedups = [r[backend]["speedup"] or 1.0 for r in rows]
        correct = sum(1 for r in rows if r[backend]["speedup"] is not None)
        wins = sum(1 for r in rows if r["winner_backend"] == backend)
        lines.append(f"- {backend}: geometric-mean speedup **{geomean(speedups):.2f}x** over {len(rows)} kernels "
                     f"({correct} with a correct variant, the rest counted as 1x); picked for {wins}")
    lines.append(f"- installed (the faster correct one per kernel): geometric mean "
                 f"**{geomean([r['speedup'] for r in rows]):.2f}x**")
    all_builds = [b for r in rows for b in r["cython_builds_s"]]
    if all_builds:
        lines.append(f"- Cython build (cython + C compiler, in the worker): median "
                     f"{sorted(all_builds)[len(all_builds) // 2]:.1f} s over {len(all_builds)} builds")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, names="kernels to run (default: every loop kernel)", size="bench",
                            sizes=corpus.SIZES, timing_budget=1.0, out=RESULTS / "backends", repeats=21)
    options = parser.parse_args(argv)

    kernels = harness.select(corpus.KERNELS, options.names, "loops")
    config = hotpath.Config(backends=BACKENDS, timing_budget_s=options.timing_budget)
    home = harness.state_home("hotpath-bench-backends-")
    build_log = home / "kernels" / cython_build.BUILD_LOG
    rows: list[dict] = []
    bucket: list = []
    started = time.perf_counter()
    for position, kernel in enumerate(kernels, 1):
        row = run_kernel(kernel, options.size, config, build_log, options, bucket)
        rows.append(row)
        print(f"[{position}/{len(kernels)}] {kernel.name}: numba {_cell(row['numba'])} | cython "
              f"{_cell(row['cython'])} -> {row['winner']}", flush=True)
    wall = time.perf_counter() - started
    options.out.parent.mkdir(parents=True, exist_ok=True)
    text = markdown(rows, options.size, wall)
    options.out.with_suffix(".md").write_text(text)
    options.out.with_suffix(".json").write_text(json.dumps(
        {"schema": "hotpath.backends/1", "size": options.size, "wall_s": wall, "kernels": rows}, indent=1))
    harness.finish(options, bucket, "bench.run_backends")
    print(text.split("\n\n")[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
