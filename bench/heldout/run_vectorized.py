"""Held-out NumPy-style kernels through the Numba backend: does the fused rewrite generalise?

    python -m bench.heldout.run_vectorized > bench/results/heldout-vectorized.txt
    python -m bench.heldout.run_vectorized --size small rosenbrock_vec
    python -m bench.heldout.run_vectorized --json heldout-vec.json   # also timed samples, for `hotpath gate`
    python -m bench.heldout.run_vectorized --defaults   # what a user gets: default backends, budget, cost model

Each kernel of ``bench/heldout/vectorized.py`` is tuned with ``backends=("numba",)`` (plain
``njit``, its parallel variant and the ``numba-fused`` rewrites) in a fresh temporary
``HOTPATH_HOME``, with cost-model pruning off so every candidate is verified and timed, as
``bench.run_vectorized`` does. Per kernel: the winner and its speedup over NumPy with the 95%
interval, then every candidate's verdict and reason; a kernel where the rewrite produced no fused
candidate says so. The summary counts a kernel without a winner as 1x. ``--defaults`` tunes with
``hotpath.Config()`` instead (default backends, the 60 s budget, the cost model on, the default
timing budget): a user's run.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time

import hotpath
from bench import harness
from bench.harness import geomean
from bench.heldout.vectorized import KERNELS
from bench.run_corpus import run_kernel
from bench.run_vectorized import family_cell


def report(row: dict) -> list[str]:
    ci = f" [{row['ci'][0]:.2f}, {row['ci'][1]:.2f}]" if row["ci"] else ""
    baseline = f"{row['baseline_ms']:.1f} ms" if row["baseline_ms"] is not None else "-"
    lines = [f"== {row['name']}: NumPy {baseline}; winner {row['winner'] or '-'} "
             f"{row['speedup']:.2f}x{ci}; tune {row['tune_s']:.0f}s  {row['reason'] or ''}".rstrip()]
    for t in row["trials"]:
        speed = f" {t['speedup']:.2f}x" if t["speedup"] is not None else ""
        lines.append(f"     {t['name']}: {t['status']}{speed}  {t['reason'][:200]}".rstrip())
    if not any(t["name"].startswith("numba-fused") for t in row["trials"]):
        lines.append("     numba-fused: not produced (the rewrite changed no statement)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, size="bench", sizes=("small", "bench"), timing_budget=1.0, repeats=21)
    parser.add_argument("--defaults", action="store_true",
                        help="default settings (backends, budget, cost model) instead of every Numba candidate")
    options = parser.parse_args(argv)
    kernels = harness.select(KERNELS, options.names)
    os.environ["HOTPATH_HOME"] = tempfile.mkdtemp(prefix="hotpath-heldout-vec-")
    if options.defaults:
        config = hotpath.Config()
        settings = f"default backends {','.join(config.backends)}, budget {config.budget_s:g} s, cost model on"
    else:
        every = {"cost_model": False} if "cost_model" in {f.name for f in dataclasses.fields(hotpath.Config)} else {}
        config = hotpath.Config(backends=("numba",), timing_budget_s=options.timing_budget, **every)
        settings = "backends=numba, cost model off"
    command = " ".join(["python -m bench.heldout.run_vectorized", *(sys.argv[1:] if argv is None else argv)])
    print(f"# {command}  ({settings}, {options.size} size, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores)", flush=True)
    rows: list[dict] = []
    bucket: list = []
    started = time.perf_counter()
    for kernel in kernels:
        row = run_kernel(kernel, options.size, config, options, bucket)
        rows.append(row)
        print("\n".join(report(row)), flush=True)
    harness.finish(options, bucket, "bench.heldout.run_vectorized")
    fused = [r for r in rows if r["winner"] and r["winner"].startswith("numba-fused")]
    cells = []
    for r in rows:
        ci = f" [{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]" if r["ci"] else ""
        baseline = f"{r['baseline_ms']:.1f}" if r["baseline_ms"] is not None else "-"
        cells.append((r["name"], baseline, r["winner"] or "-", f"{r['speedup']:.2f}x{ci}",
                      family_cell(r, "numba"), family_cell(r, "numba-fused")))
    print("\n" + "\n".join(harness.table(("kernel", "NumPy ms", "winner", "speedup [95% CI]", "njit", "fused"), cells,
                                         "lrlrrr")))
    print(f"\n- geometric mean of the winners over NumPy (no winner = 1x): "
          f"**{geomean([r['speedup'] for r in rows]):.2f}x** over {len(rows)} kernels; "
          f"{sum(1 for r in rows if r['winner'])} with a winner, {len(fused)} of them fused "
          f"({', '.join(r['name'] for r in fused) or 'none'}); wall {(time.perf_counter() - started) / 60:.1f} min, "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
