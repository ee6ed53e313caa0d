"""Collect the measured trace the cost model is trained and evaluated on.

    python -m bench.model_trace [--size small] [--out bench/results/model-trace] [names...]

Tunes every corpus kernel with *every* candidate of the Numba and Cython backends (no model,
no early stop) and writes one JSON file per kernel: for each trial in the order it ran, its
status, measured speedup and the wall seconds it cost (compile + verify + time, measured in
the parent around the sandboxed trial). Resumable: a kernel whose file exists is not re-run.
These files are the raw material of ``bench/run_model.py`` and of the default model's
training data (``hotpath/model/data/corpus_trials.json``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import hotpath
from bench import corpus, harness
from hotpath.dispatch import Optimized
from hotpath.kernels import Candidate
from hotpath.runner.trials import Trial

log = logging.getLogger("bench.model_trace")
DEFAULT_OUT = harness.RESULTS / "model-trace"


def trace_kernel(kernel: corpus.Kernel, size: str, config: hotpath.Config) -> dict[str, Any]:
    """Tune ``kernel`` with every candidate and return what each trial measured and cost."""
    args = kernel.make_args(size)
    opt = Optimized(kernel.fn, config)
    started_at: dict[str, float] = {}
    walls: dict[str, float] = {}

    def observe(event: str, item: Trial | Candidate) -> None:
        now = time.perf_counter()
        if event == "start":
            started_at[item.name] = now
        elif item.name in started_at:
            walls[item.name] = now - started_at.pop(item.name)

    started = time.perf_counter()
    result = opt.tune_args(opt._positional(args, {}), config, observe)
    total = time.perf_counter() - started
    return {
        "kernel": kernel.name, "style": kernel.style, "category": kernel.category, "size": size,
        "signature": str(result.signature), "baseline_s": result.baseline_s, "tune_s": total,
        "reason": result.reason,
        "trials": [{**harness.trial_row(t), "wall_s": walls.get(t.name, 0.0)} for t in result.trials],
    }


def main(argv: list[str] | None = None) -> int:
    # A trace folder, one file per kernel, not samples: no --json here.
    parser = harness.parser(__doc__, size="small", sizes=corpus.SIZES, timing_budget=0.5, out=DEFAULT_OUT,
                            json_out=False)
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    os.environ.setdefault("HOTPATH_HOME", "/tmp/hotpath-model-trace")
    config = hotpath.Config(backends=("numba", "cython"), timing_budget_s=options.timing_budget, persist=False)
    options.out.mkdir(parents=True, exist_ok=True)
    kernels = harness.select(corpus.KERNELS, options.names)
    for position, kernel in enumerate(kernels, 1):
        target = options.out / f"{kernel.name}.json"
        if target.exists():
            continue
        row = trace_kernel(kernel, options.size, config)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(row, indent=1))
        os.replace(tmp, target)
        summary = ", ".join(f"{t['name']}={t['status']}"
                            + (f" {t['speedup']:.1f}x" if t["speedup"] else "") + f" ({t['wall_s']:.1f}s)"
                            for t in row["trials"])
        print(f"[{position}/{len(kernels)}] {kernel.name} tune {row['tune_s']:.1f}s: {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
