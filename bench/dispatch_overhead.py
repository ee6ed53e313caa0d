"""What the dispatch layer costs per call, as ratios to calling the installed variant directly.

    python -m bench.dispatch_overhead -o bench/results/dispatch-overhead.json

pyperf runs each case in its own worker processes (calibrated loops, several values each);
the workers find the variant through the store (warm start), so they time exactly what a
user's process runs. Cases: the variant called directly; the decorated function on an
unsampled call (guard key, dict lookup, sampling countdown, exception guard); the decorated
function when every call is shadow-verified (copies, the original, the comparison); and the
original itself for scale. The summary is written next to the JSON as a Markdown table.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyperf

import hotpath

os.environ.setdefault("HOTPATH_HOME", str(Path(tempfile.gettempdir()) / "hotpath-bench-dispatch"))
SIZES = {"small": 16, "medium": 1000}


def dot(a, b):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


def prepared(n: int, verify_rate: float):
    a = np.random.default_rng(0).random(n)
    b = np.random.default_rng(1).random(n)
    fn = hotpath.optimize(dot, verify_rate=verify_rate, hot_calls=10**9, hot_seconds=1e9)
    fn(a, b)  # warm start from the store
    if not fn.installed:
        result = hotpath.tune(fn, a, b)
        assert result.winner is not None, result.summary()
    (install,) = fn._installed.values()
    return fn, install.variant, a, b


def main() -> None:
    runner = pyperf.Runner()
    runner.metadata["description"] = __doc__.splitlines()[0]
    for label, n in SIZES.items():
        fn, variant, a, b = prepared(n, 0.0)
        shadowed, _, _, _ = prepared(n, 1.0)
        results = {
            "variant": runner.bench_func(f"{label}: variant directly", variant, a, b),
            "unsampled": runner.bench_func(f"{label}: decorated, unsampled", fn, a, b),
            "shadow": runner.bench_func(f"{label}: decorated, shadow-verified", shadowed, a, b),
            "original": runner.bench_func(f"{label}: original", dot, a, b),
        }
        if runner.args.worker or any(r is None for r in results.values()):
            continue  # a worker process: the parent summarises
        medians = {k: statistics.median(v.get_values()) for k, v in results.items()}
        lines = [f"## {label} (n={n})", "", "| case | median | ratio to the variant |", "|---|---:|---:|"]
        for key, value in medians.items():
            lines.append(f"| {results[key].get_name()} | {value * 1e9:.0f} ns | {value / medians['variant']:.2f}x |")
        summary = "\n".join(lines) + "\n"
        print(summary)
        out = Path(__file__).parent / "results" / "dispatch-overhead.md"
        if label == "small":
            out.write_text("# Dispatch overhead (pyperf, medians)\n\n" + summary + "\n")
        else:
            with out.open("a") as handle:
                handle.write(summary + "\n")


if __name__ == "__main__":
    sys.exit(main())
