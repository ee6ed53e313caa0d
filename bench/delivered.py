"""Claimed vs delivered speedup: what the sandbox measured next to what the caller gets.

    python -m bench.delivered                                   # every corpus kernel, small size
    python -m bench.delivered --kernels matmul_loops,softmax_rows_vec --repeats 21
    python -m bench.delivered --json bench/results/delivered-gate.json   # samples for `hotpath gate`

For each kernel, in a fresh state folder: tune it with the default backends (``hotpath.tune``);
*claimed* is ``TuneResult.speedup``, the paired median measured in the sandboxed worker. Then the
original and the optimized callable are timed in pairs, shuffled within each round, on fresh
copies of the arguments (``bench.harness.time_paired``), twice:

* *here*: in the tuning process, right after tuning, calling ``TuneResult.optimized``;
* *fresh*: in a new interpreter that wraps the kernel with ``hotpath.optimize`` on the same
  state folder, so its first call installs the stored winner (warm start), as a user's next
  program would.

Delivered speedup is the median of the per-round ratios original / optimized (95% interval);
the warm-up runs past the install's probation, so sampled watch calls are included as a
long-running caller pays them. Geometric means count a kernel without a winner as 1x claimed
(its delivered figure is still measured: the dispatch layer runs the original). The count that
matters for issue 16: installed variants delivering less than 0.95x. Writes
``bench/results/delivered.md`` and ``.json`` (schema ``hotpath.delivered/1``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hotpath
from bench import corpus, harness
from bench.harness import geomean

log = logging.getLogger("bench.delivered")
ROOT = Path(__file__).resolve().parent.parent
#: Below this a delivered speedup is a slowdown that issue 16 counts (noise allowance 5%).
SLOWER = 0.95


def _paired_row(paired: harness.Paired) -> dict[str, Any]:
    low, high = paired.interval()
    return {"speedup": paired.speedup, "ci": [low, high], "mean_speedup": paired.mean_speedup,
            "loops": paired.loops, "original_s": list(paired.original), "optimized_s": list(paired.optimized)}


def child(name: str, size: str, repeats: int) -> dict[str, Any]:
    """In a fresh interpreter: warm-start the stored winner and time it against the original."""
    kernel = corpus.get(name)
    # Never hot: this process must run what the store holds, not tune again.
    opt = hotpath.optimize(kernel.fn, hot_calls=10**9, hot_seconds=1e9)
    args = kernel.make_args(size)
    opt(*kernel.make_args(size))  # the first call installs the stored winner
    installed = [c.name for c in opt.installed.values()]
    paired = harness.time_paired(kernel.fn, opt, args, repeats=repeats)
    still = [c.name for c in opt.installed.values()]
    return {"installed": installed, "installed_after": still, **_paired_row(paired)}


def fresh_process(name: str, size: str, repeats: int, state: Path) -> dict[str, Any]:
    """Run :func:`child` in a new interpreter on the state folder ``state``."""
    env = dict(os.environ, HOTPATH_HOME=str(state))
    done = subprocess.run([sys.executable, "-m", "bench.delivered", "--child", name, "--size", size,
                           "--repeats", str(repeats)], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"fresh process for {name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_kernel(kernel: corpus.Kernel, size: str, options: argparse.Namespace) -> dict[str, Any]:
    """Tune ``kernel`` in its own state folder, then time it here and in a fresh process."""
    state = Path(tempfile.mkdtemp(prefix=f"hotpath-delivered-{kernel.name}-"))
    os.environ["HOTPATH_HOME"] = str(state)
    config = hotpath.Config(timing_budget_s=options.timing_budget, state_dir=state)
    args = kernel.make_args(size)
    row, result = harness.tune(kernel.fn, args, config, kernel.name, style=kernel.style)
    row["claimed"] = row["speedup"]
    row["here"] = _paired_row(harness.time_paired(kernel.fn, result.optimized, args, repeats=options.repeats))
    row["here"]["installed"] = [c.name for c in result.optimized.installed.values()]
    row["fresh"] = fresh_process(kernel.name, size, options.repeats, state)
    return row


def _cell(entry: dict[str, Any]) -> str:
    return f"{entry['speedup']:.2f}x [{entry['ci'][0]:.2f}, {entry['ci'][1]:.2f}] (mean {entry['mean_speedup']:.2f}x)"


def markdown(rows: list[dict[str, Any]], size: str, wall_s: float, load: tuple[float, float], note: str) -> str:
    won = [r for r in rows if r["winner"]]
    slower = {where: [r["name"] for r in won if r[where]["speedup"] < SLOWER] for where in ("here", "fresh")}
    lines = [
        f"# Claimed vs delivered speedup ({size} size)",
        "",
        f"Machine: {harness.machine()}. Wall time {wall_s / 60:.1f} min; 1-minute load average {load[0]:.1f} "
        f"at the start, {load[1]:.1f} at the end.",
    ]
    if note:
        lines += ["", note]
    lines += [
        "",
        "Claimed: the sandbox's paired median (`TuneResult.speedup`). Delivered: median of paired "
        "original/optimized ratios [95% interval] (and total original time over total optimized time), "
        "timed in the tuning process (*here*) and in a fresh interpreter that warm-starts the stored "
        "winner (*fresh*), after the install's probation.",
        "",
    ]
    cells = []
    for r in rows:
        installed = r["winner"] or f"- ({r['reason']})"
        if r["winner"] and not r["fresh"]["installed"]:
            installed += " (not warm-started in the fresh process)"
        baseline = f"{r['baseline_ms']:.2f}" if r["baseline_ms"] is not None else "-"
        cells.append((r["name"], baseline, installed, f"{r['claimed']:.2f}x", _cell(r["here"]), _cell(r["fresh"])))
    lines += harness.table(("kernel", "original ms", "installed", "claimed", "delivered here", "delivered fresh"),
                           cells, "lrlrrr")
    lines += [
        "",
        f"- geometric mean over {len(rows)} kernels (no winner = 1x claimed): claimed "
        f"**{geomean(r['claimed'] for r in rows):.2f}x**, delivered here "
        f"**{geomean(r['here']['speedup'] for r in rows):.2f}x**, delivered fresh "
        f"**{geomean(r['fresh']['speedup'] for r in rows):.2f}x**",
    ]
    if won:
        lines.append(f"- the {len(won)} kernels with an installed variant: claimed "
                     f"{geomean(r['claimed'] for r in won):.2f}x, here {geomean(r['here']['speedup'] for r in won):.2f}x, "
                     f"fresh {geomean(r['fresh']['speedup'] for r in won):.2f}x")
    if len(won) < len(rows):
        lines.append("- a kernel without a winner runs its original behind the wrapper, so its delivered figures "
                     "compare the original with itself (plus tier-0 counting): they show this run's noise floor")
    lines.append(f"- installed variants delivering < {SLOWER}x: **{len(slower['here'])}** here"
                 f"{' (' + ', '.join(slower['here']) + ')' if slower['here'] else ''}, "
                 f"**{len(slower['fresh'])}** fresh{' (' + ', '.join(slower['fresh']) + ')' if slower['fresh'] else ''}"
                 f", of {len(won)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, names=None, size="small", sizes=corpus.SIZES, timing_budget=1.0,
                            out=harness.RESULTS / "delivered", repeats=21)
    parser.add_argument("--kernels", default="", help="comma-separated corpus kernels (default: all)")
    parser.add_argument("--note", default="", help="a line about the conditions, put in the Markdown")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        print(json.dumps(child(options.child, options.size, options.repeats)))
        return 0
    logging.basicConfig(level=logging.WARNING)
    kernels = harness.select(corpus.KERNELS, [n.strip() for n in options.kernels.split(",") if n.strip()])
    load_start = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for position, kernel in enumerate(kernels, 1):
        row = run_kernel(kernel, options.size, options)
        rows.append(row)
        print(f"[{position}/{len(kernels)}] {kernel.name}: {row['winner'] or '-'} claimed {row['claimed']:.2f}x, "
              f"here {row['here']['speedup']:.2f}x, fresh {row['fresh']['speedup']:.2f}x", flush=True)
    wall = time.perf_counter() - started
    load = (load_start, os.getloadavg()[0])
    text = markdown(rows, options.size, wall, load, options.note)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.with_suffix(".md").write_text(text)
    options.out.with_suffix(".json").write_text(json.dumps(
        {"schema": "hotpath.delivered/1", "size": options.size, "wall_s": wall, "load_average": load,
         "kernels": rows}, indent=1))
    bucket = []
    for r in rows:
        for where in ("here", "fresh"):
            bucket.append(harness.samples(f"{r['name']} ({where})", r[where]["optimized_s"]))
            bucket.append(harness.samples(f"{r['name']} ({where}) [original]", r[where]["original_s"]))
    harness.finish(options, bucket, "bench.delivered")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
