"""The vectorized part of the corpus: NumPy vs naive ``njit`` vs the fused (devectorized) variants vs Pythran
(vs ``torch.compile`` with ``--backends numba,pythran,torch``).

    python -m bench.run_vectorized                 # bench size, writes bench/results/vectorized.md/.json
    python -m bench.run_vectorized --size small softmax_rows_vec
    python -m bench.run_vectorized --backends numba,pythran,torch --out bench/results/vectorized-torch
    python -m bench.run_vectorized --budget default  # hotpath's tuning budget (default here: none)

Every kernel is tuned with ``hotpath.tune`` (all candidates verified on the captured arguments
and generated edge cases, then timed paired against the original). Per kernel the table shows
the original's time and the speedup of each variant family over it: naive ``njit`` (the
function as written), ``njit`` parallel, and the two fused variants, with refinements
(``+boundscheck``, ``+numpy-errors`` ...) folded into their family (best correct one shown),
and the Pythran variants (its own expression fusion with xsimd, and OpenMP where a loop is proven
parallel). The geometric mean counts a kernel without a winner as 1x. ``--backends numba``
isolates what fusing adds to the same compiler.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time

import numba
import numpy as np

import hotpath
from bench import corpus, harness
from bench.harness import geomean
from bench.run_corpus import run_kernel

RESULTS = harness.RESULTS
FAMILIES = ("numba", "numba-parallel", "numba-fused", "numba-fused-parallel", "pythran", "pythran-openmp", "torch")
HEADERS = ("njit", "njit parallel", "fused", "fused parallel", "pythran", "pythran openmp", "torch.compile")


def family_cell(row: dict, family: str) -> str:
    """The best correct variant of ``family`` as ``2.3x``, else what happened to it."""
    members = [t for t in row["trials"] if t["name"] == family
               or (t["name"].startswith(family + "+") and t["name"].split("+")[0] == family)]
    timed = [t for t in members if t["speedup"] is not None and t["status"] in ("won", "correct")]
    if timed:
        best = max(timed, key=lambda t: t["speedup"])
        suffix = best["name"][len(family):]
        return f"{best['speedup']:.2f}x{' (' + suffix + ')' if suffix else ''}"
    if not members:
        return "-"
    return members[-1]["status"]


def _pythran_version() -> str:
    from hotpath.kernels.pythran_backend import pythran_version

    return pythran_version() or "not installed"


def markdown(rows: list[dict], size: str, wall_s: float, load: tuple[float, float] | None = None,
             budget_s: float | None = None) -> str:
    budget = ("no tuning budget: every variant tried" if budget_s is None else
              f"tuning budget {budget_s:g} s per kernel: a variant it stopped is `skipped`")
    lines = [
        f"# Vectorized kernels: NumPy vs naive njit vs fused loops vs Pythran vs torch.compile ({size} size)",
        "",
        f"Machine: {harness.machine(f'NumPy {np.__version__}', f'Numba {numba.__version__}')}, "
        f"Pythran {_pythran_version()}. Wall time {wall_s / 60:.1f} min; {budget}.",
    ]
    if load is not None:
        lines.append(f"The machine was shared with other jobs while this ran (1-minute load average "
                     f"{load[0]:.1f} at the start, {load[1]:.1f} at the end, on {os.cpu_count()} cores): "
                     "absolute times are inflated and noisy; the paired ratios are what to read.")
    lines += [
        "Cells: median of paired original/variant time ratios (speedup over the NumPy original); "
        "`incorrect`/`failed`/`skipped` when the variant never got timed. Every winner agreed with the "
        "original on the captured arguments and every generated edge case.",
        "",
    ]
    cells = []
    for r in rows:
        ci = f" [{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]" if r["ci"] else ""
        baseline = f"{r['baseline_ms']:.2f}" if r["baseline_ms"] is not None else "-"
        cells.append((r["name"], baseline, *(family_cell(r, f) for f in FAMILIES),
                      r["winner"] or "- (" + str(r["reason"]) + ")", f"{r['speedup']:.2f}x{ci}",
                      f"{r['tune_s']:.1f}"))
    lines += harness.table(("kernel", "NumPy ms", *HEADERS, "winner", "winner speedup [95% CI]", "tune s"), cells,
                           "lr" + "r" * len(HEADERS) + "lrr")
    lines.append("")
    fused_wins = sum(1 for r in rows if r["winner"] and r["winner"].startswith("numba-fused"))
    pythran_wins = sum(1 for r in rows if r["winner"] and r["winner"].startswith("pythran"))
    torch_wins = sum(1 for r in rows if r["winner"] and r["winner"].startswith("torch"))
    lines.append(f"- geometric-mean speedup of the winners over NumPy: **{geomean([r['speedup'] for r in rows]):.2f}x** "
                 f"over {len(rows)} kernels ({sum(1 for r in rows if r['winner'])} with a winner, "
                 f"{fused_wins} of them fused Numba, {pythran_wins} Pythran, {torch_wins} torch.compile; "
                 "no winner counts as 1x)")
    naive = [next((t["speedup"] for t in r["trials"] if t["name"] == "numba" and t["speedup"]), 1.0) for r in rows]
    lines.append(f"- for comparison, naive `njit` alone (plain `numba` candidate, not-timed counted as 1x): "
                 f"{geomean([max(v, 0.0) or 1.0 for v in naive]):.2f}x")
    lines.append(harness.tuning_line(rows, budget_s))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, names="kernels to run (default: every vectorized kernel)", size="bench",
                            sizes=corpus.SIZES, timing_budget=1.0, out=RESULTS / "vectorized",
                            backends="numba,pythran", repeats=21, budget="none")
    parser.add_argument("--compile-timeout", type=float, default=300.0, help="seconds one candidate may compile")
    options = parser.parse_args(argv)
    kernels = harness.select(corpus.by_style("vectorized"), options.names)
    # Pythran builds take 10-80 s here when other jobs share the two cores: more than the default
    # compile timeout allows for, and a timed-out build would be counted against Pythran.
    # Every variant is timed (no cost-model pruning, where the model exists, and by default no
    # tuning budget: ``--budget default`` is what a user gets): the table compares them all.
    every = {"cost_model": False} if "cost_model" in {f.name for f in dataclasses.fields(hotpath.Config)} else {}
    config = hotpath.Config(backends=harness.backends_of(options.backends), timing_budget_s=options.timing_budget,
                            compile_timeout_s=options.compile_timeout, **every,
                            **harness.budget_option(options.budget))
    load_start = os.getloadavg()[0]
    harness.state_home("hotpath-bench-")
    rows: list[dict] = []
    bucket: list = []
    started = time.perf_counter()
    for position, kernel in enumerate(kernels, 1):
        row = run_kernel(kernel, options.size, config, options, bucket)
        rows.append(row)
        print(f"[{position}/{len(kernels)}] {kernel.name}: " + ", ".join(f"{f} {family_cell(row, f)}" for f in FAMILIES)
              + f" -> {row['winner'] or '-'} {row['speedup']:.2f}x", flush=True)
    wall = time.perf_counter() - started
    load = (load_start, os.getloadavg()[0])
    options.out.parent.mkdir(parents=True, exist_ok=True)
    text = markdown(rows, options.size, wall, load, config.budget_s)
    options.out.with_suffix(".md").write_text(text)
    options.out.with_suffix(".json").write_text(json.dumps(
        {"schema": "hotpath.vectorized/1", "size": options.size, "wall_s": wall, "load_average": load,
         "backends": list(config.backends), "budget_s": config.budget_s, "kernels": rows}, indent=1))
    harness.finish(options, bucket, "bench.run_vectorized")
    print(text.split("\n\n")[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
