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
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import Cython
import numba
import numpy as np

import hotpath
from bench import corpus
from hotpath.kernels import cython_build

RESULTS = Path(__file__).parent / "results"
BACKENDS = ("numba", "cython")


def best(trials: list, backend: str) -> dict:
    """The backend's fastest correct variant, else its first failure's reason."""
    mine = [t for t in trials if t.backend == backend]
    timed = [t for t in mine if t.status in ("won", "correct") and t.timing is not None]
    if timed:
        top = max(timed, key=lambda t: t.timing.speedup)
        return {"variant": top.name, "speedup": top.timing.speedup,
                "ci": [top.timing.ci_low, top.timing.ci_high], "reason": None}
    failed = next((t for t in mine if t.status in ("incorrect", "failed")), None)
    why = failed.reason.splitlines()[0] if failed else "no candidate"
    return {"variant": None, "speedup": None, "ci": None, "reason": why}


def run_kernel(kernel: corpus.Kernel, size: str, config: hotpath.Config, build_log: Path) -> dict:
    args = kernel.make_args(size)
    builds_before = len(build_log.read_text().splitlines()) if build_log.exists() else 0
    started = time.perf_counter()
    result = hotpath.tune(kernel.fn, *args, config=config)
    tune_s = time.perf_counter() - started
    entries = build_log.read_text().splitlines()[builds_before:] if build_log.exists() else []
    build_s = [e["cython_s"] + e["compile_s"] for e in map(json.loads, entries)]
    won = next((t for t in result.trials if t.status == "won"), None)
    return {
        "name": kernel.name,
        "signature": str(result.signature),
        "baseline_ms": None if result.baseline_s is None else result.baseline_s * 1e3,
        "numba": best(list(result.trials), "numba"),
        "cython": best(list(result.trials), "cython"),
        "winner": won.name if won else None,
        "winner_backend": won.backend if won else None,
        "speedup": won.timing.speedup if won else 1.0,
        "reason": result.reason,
        "tune_s": tune_s,
        "cython_builds_s": build_s,
    }


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def _cell(entry: dict) -> str:
    if entry["speedup"] is None:
        return f"- ({entry['reason'][:70]})"
    return f"{entry['speedup']:.1f}x [{entry['ci'][0]:.1f}, {entry['ci'][1]:.1f}] `{entry['variant']}`"


def markdown(rows: list[dict], size: str, wall_s: float) -> str:
    lines = [
        f"# Cython vs Numba on the corpus loop kernels ({size} size)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs: read ratios), "
        f"Python {platform.python_version()}, NumPy {np.__version__}, Numba {numba.__version__}, "
        f"Cython {Cython.__version__}. Wall time {wall_s / 60:.1f} min.",
        "Each kernel tuned once with `backends=(\"numba\", \"cython\")`; per backend its best correct variant: "
        "median of paired original/variant ratios [95% interval], or why it has none.",
        "",
        "| kernel | original ms | Numba | Cython | winner | Cython build s | tune s |",
        "|---|---:|---|---|---|---:|---:|",
    ]
    for r in rows:
        baseline = f"{r['baseline_ms']:.1f}" if r["baseline_ms"] is not None else "-"
        built = ", ".join(f"{b:.1f}" for b in r["cython_builds_s"]) or "cached"
        lines.append(f"| {r['name']} | {baseline} | {_cell(r['numba'])} | {_cell(r['cython'])} | "
                     f"{r['winner'] or '- (' + str(r['reason']) + ')'} | {built} | {r['tune_s']:.1f} |")
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="kernels to run (default: every loop kernel)")
    parser.add_argument("--size", choices=corpus.SIZES, default="bench")
    parser.add_argument("--timing-budget", type=float, default=1.0, help="seconds of timing per candidate")
    parser.add_argument("--out", type=Path, default=RESULTS / "backends", help="output stem")
    options = parser.parse_args(argv)

    kernels = [k for k in corpus.KERNELS if k.style == "loops" and (not options.names or k.name in options.names)]
    config = hotpath.Config(backends=BACKENDS, timing_budget_s=options.timing_budget)
    home = Path(os.environ.setdefault("HOTPATH_HOME", tempfile.mkdtemp(prefix="hotpath-bench-backends-")))
    build_log = home / "kernels" / cython_build.BUILD_LOG
    rows = []
    started = time.perf_counter()
    for position, kernel in enumerate(kernels, 1):
        row = run_kernel(kernel, options.size, config, build_log)
        rows.append(row)
        print(f"[{position}/{len(kernels)}] {kernel.name}: numba {_cell(row['numba'])} | cython "
              f"{_cell(row['cython'])} -> {row['winner']}", flush=True)
    wall = time.perf_counter() - started
    options.out.parent.mkdir(parents=True, exist_ok=True)
    text = markdown(rows, options.size, wall)
    options.out.with_suffix(".md").write_text(text)
    options.out.with_suffix(".json").write_text(json.dumps(
        {"schema": "hotpath.backends/1", "size": options.size, "wall_s": wall, "kernels": rows}, indent=1))
    print(text.split("\n\n")[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
