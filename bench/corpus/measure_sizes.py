"""Time every corpus kernel's original at both sizes and write timings.md.

    PYTHONPATH=. python -m bench.corpus.measure_sizes [--repeats 5] [--out PATH] [NAME ...]

Each timed call gets freshly built arguments (so in-place kernels never see their own
output); the reported figure is the median wall time of ``--repeats`` calls after one warm-up.
Targets: "small" under 20 ms, "bench" between 20 and 300 ms.
"""
import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench.corpus import KERNELS, get

SMALL_MAX_MS = 20.0
BENCH_RANGE_MS = (20.0, 300.0)
DEFAULT_OUT = Path(__file__).with_name("timings.md")


def time_call(kernel, size, repeats):
    """Median seconds of ``repeats`` calls of the original, after one warm-up call."""
    kernel.fn(*kernel.make_args(size))
    samples = []
    for _ in range(repeats):
        args = kernel.make_args(size)
        start = time.perf_counter()
        kernel.fn(*args)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _flag(small_ms, bench_ms):
    notes = []
    if small_ms >= SMALL_MAX_MS:
        notes.append("small too slow")
    if not BENCH_RANGE_MS[0] <= bench_ms <= BENCH_RANGE_MS[1]:
        notes.append("bench outside 20-300 ms")
    return "; ".join(notes)


def render(rows, repeats):
    lines = [
        "# Corpus timings (original Python/NumPy code)",
        "",
        f"Median of {repeats} calls after a warm-up, fresh arguments per call. "
        f"Produced by `PYTHONPATH=. python -m bench.corpus.measure_sizes`.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or platform.system()}; "
        f"Python {platform.python_version()}, NumPy {np.__version__}. "
        "Shared machine: expect 10-30% run-to-run noise.",
        "",
        "| kernel | category | style | small (ms) | bench (ms) | note |",
        "|---|---|---|---:|---:|---|",
    ]
    for k, small_ms, bench_ms in rows:
        lines.append(
            f"| `{k.name}` | {k.category} | {k.style} | {small_ms:.2f} | {bench_ms:.1f} | {_flag(small_ms, bench_ms)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="kernels to time (default: all)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown file to write ('-' for stdout only)")
    opts = parser.parse_args(argv)

    kernels = [get(n) for n in opts.names] if opts.names else list(KERNELS)
    rows = []
    for k in kernels:
        small_ms = 1e3 * time_call(k, "small", opts.repeats)
        bench_ms = 1e3 * time_call(k, "bench", opts.repeats)
        rows.append((k, small_ms, bench_ms))
        print(f"{k.name:36s} small {small_ms:8.2f} ms   bench {bench_ms:8.1f} ms  {_flag(small_ms, bench_ms)}",
              file=sys.stderr, flush=True)
    text = render(rows, opts.repeats)
    if str(opts.out) == "-":
        sys.stdout.write(text)
    else:
        opts.out.write_text(text)
        print(f"wrote {opts.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
