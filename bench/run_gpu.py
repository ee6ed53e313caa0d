"""Tune the corpus with the GPU backends (CuPy and torch) and write where the time goes.

    python -m bench.run_gpu                       # every kernel, bench size, on a CUDA machine
    python -m bench.run_gpu --style vectorized    # the NumPy-expression kernels only
    python -m bench.run_gpu softmax_rows_vec stencil...  # a few by name, in that order
    python -m bench.run_gpu --deadline 5           # start no kernel after 5 minutes
    python -m bench.run_gpu --backends cupy        # CuPy only (torch's CPU compile is slow on a cold machine)

For each kernel and each CuPy/torch variant: verdict, host<->device transfer time, device
compute time (both medians of synchronized calls), end-to-end time and the end-to-end speedup
over the original NumPy/Python code on the CPU (the paired median that decides the install),
and whether it was installed. Writes ``bench/results/gpu.md`` and ``.json`` (schema
``hotpath.gpu/1``).

The tables are rewritten after every kernel, so a run stopped early (``--deadline``, or a device
lease running out) keeps the rows it measured and says which kernels it did not reach.

Without a CUDA device the GPU variants are skipped with their reason (torch still runs on the
CPU): the script says so and writes nothing unless ``--out`` names a file, so a CPU run never
overwrites GPU numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import hotpath
from bench import corpus, harness
from hotpath.kernels import cupy_backend, device

RESULTS = harness.RESULTS
BACKENDS = ("cupy", "torch")


def versions() -> str:
    """Driver, CUDA runtime and library versions, for the results header."""
    import numpy as np

    found = [f"NumPy {np.__version__}"]
    if cupy_backend.device_status().ok:
        import cupy

        runtime = cupy.cuda.runtime
        driver, built = runtime.driverGetVersion(), runtime.runtimeGetVersion()
        found += [f"CUDA driver API {driver // 1000}.{driver % 1000 // 10}",
                  f"CUDA runtime {built // 1000}.{built % 1000 // 10}", f"CuPy {cupy.__version__}"]
    try:
        import torch

        found.append(f"torch {torch.__version__}" + (f" (CUDA {torch.version.cuda})" if torch.version.cuda else ""))
    except ImportError:
        found.append("torch not installed")
    return ", ".join(found)


def gpu_name() -> str | None:
    """The CUDA device's name, or None where there is none."""
    if cupy_backend.device_status().ok:
        import cupy

        return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        return None


def run_kernel(kernel: corpus.Kernel, size: str, config: hotpath.Config,
               options: argparse.Namespace | None = None, bucket: list | None = None) -> dict:
    args = kernel.make_args(size)
    row, result = harness.tune(kernel.fn, args, config, kernel.name, style=kernel.style)
    # The kernel's cpu_ms is a single cold call; each variant's original_ms is the original's time
    # in the same paired run.
    row["cpu_ms"] = row["baseline_ms"]
    row["variants"] = [{
        **t, "variant": t["name"],
        "transfer_ms": t["parts"][device.TRANSFER_S] * 1e3 if device.TRANSFER_S in t["parts"] else None,
        "compute_ms": t["parts"][device.COMPUTE_S] * 1e3 if device.COMPUTE_S in t["parts"] else None,
        "end_to_end_ms": t["candidate_ms"],
    } for t in row.pop("trials")]
    if options is not None and bucket is not None:
        harness.measure(options, bucket, kernel.name, kernel.fn, result.optimized, args)
    return row


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(kernels: list[dict], size: str, gpu: str | None, wall_s: float, stack: str = "",
             not_reached: tuple[str, ...] = ()) -> str:
    lines = [
        f"# GPU backends on the corpus ({size} size)",
        "",
        f"Device: {gpu or 'none (GPU variants skipped)'}; host {harness.machine(stack)}. "
        f"Wall time {wall_s / 60:.1f} min.",
        "Baseline: the original on the CPU. Transfer = host->device arguments + device->host results "
        "and written arguments; compute = the variant on device arrays (both synchronized medians). "
        "Speedup: end-to-end paired median [95% interval], which decides the install.",
        "",
    ]
    cells = []
    for k in kernels:
        for v in k["variants"]:
            speed = f"{v['speedup']:.2f}x [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}]" if v["speedup"] else "-"
            why = v["reason"].replace("|", "/")[:140]
            cpu = v["original_ms"] if v["original_ms"] is not None else k["cpu_ms"]
            cells.append((k["name"], _ms(cpu), v["variant"], v["status"], _ms(v["transfer_ms"]),
                          _ms(v["compute_ms"]), _ms(v["end_to_end_ms"]), speed, why))
    lines += harness.table(("kernel", "CPU ms", "variant", "verdict", "transfer ms", "compute ms", "end-to-end ms",
                            "speedup [95% CI]", "why"), cells, "lrllrrrrl")
    won = [k for k in kernels if k["winner"]]
    lines += ["", f"- kernels with an installed GPU/torch variant: {len(won)} of {len(kernels)}"]
    if not_reached:
        lines.append(f"- not reached before the deadline ({len(not_reached)}): {', '.join(not_reached)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, size="bench", sizes=corpus.SIZES, backends=",".join(BACKENDS),
                            timing_budget=1.0, repeats=21)
    parser.add_argument("--style", choices=("loops", "vectorized", "all"), default="all")
    parser.add_argument("--out", type=Path, default=None, help="output stem (default bench/results/gpu)")
    parser.add_argument("--deadline", type=float, default=None, metavar="MINUTES",
                        help="start no kernel after this many minutes (the tables say which were left)")
    options = parser.parse_args(argv)

    gpu = gpu_name()
    if gpu is None:
        print(f"no CUDA device here ({cupy_backend.device_status().reason}); GPU variants will be skipped",
              file=sys.stderr)
        if options.out is None:
            print("not writing bench/results/gpu.md from a machine without a GPU; pass --out to keep this run",
                  file=sys.stderr)
    kernels = harness.select(corpus.KERNELS, options.names, options.style)
    # Every GPU variant is tried and timed (no cost model: it learned from CPU runs).
    config = hotpath.Config(backends=harness.backends_of(options.backends), timing_budget_s=options.timing_budget, cost_model=False)
    harness.state_home("hotpath-gpu-bench-")
    stem = options.out or RESULTS / "gpu"
    write = gpu is not None or options.out is not None
    stack = versions()
    rows: list[dict] = []
    bucket: list = []
    started = time.perf_counter()
    for position, kernel in enumerate(kernels, 1):
        if options.deadline is not None and time.perf_counter() - started > options.deadline * 60:
            break
        row = run_kernel(kernel, options.size, config, options, bucket)
        rows.append(row)
        print(f"[{position}/{len(kernels)}] {kernel.name}: {row['winner'] or '-'}"
              + "".join(f"; {v['variant']} {v['status']}" + (f" {v['speedup']:.2f}x" if v["speedup"] else "")
                        for v in row["variants"]), flush=True)
        if write:  # after every kernel: a run stopped early keeps what it measured
            left = tuple(k.name for k in kernels[position:])
            write_results(stem, rows, options.size, gpu, time.perf_counter() - started, stack, left)
    harness.finish(options, bucket, "bench.run_gpu")
    if write:
        left = tuple(k.name for k in kernels[len(rows):])
        write_results(stem, rows, options.size, gpu, time.perf_counter() - started, stack, left)
        print(f"wrote {stem.with_suffix('.md')}")
    return 0


def write_results(stem: Path, rows: list[dict], size: str, gpu: str | None, wall_s: float, stack: str,
                  not_reached: tuple[str, ...]) -> None:
    """``stem``.md and .json for the kernels run so far."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text(markdown(rows, size, gpu, wall_s, stack, not_reached))
    stem.with_suffix(".json").write_text(json.dumps(
        {"schema": "hotpath.gpu/1", "size": size, "device": gpu, "stack": stack, "wall_s": wall_s,
         "not_reached": list(not_reached), "kernels": rows}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
