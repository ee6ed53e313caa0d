"""Module-sized ocean-model kernels with default settings: winner, speedup and where tuning time goes.

    python -m bench.heldout.run_ocean                      # both sizes, every kernel
    python -m bench.heldout.run_ocean --size small in_situ_density

Each kernel of ``bench/heldout/ocean.py`` is tuned with ``hotpath.tune`` and default settings (every
default backend, cost model on) in a fresh temporary ``HOTPATH_HOME``, at 64k ("small") and 1M
("bench") grid points. Per run: the winner and its speedup from the ``TuneResult``, the tuning
time split into its phases (the original's reference run with edge cases and coverage search,
proposing, the trials, confirming the winner), and every candidate's verdict, compile time and
reason. The phases are timed by wrapping ``hotpath.tuning``'s stage functions from outside: a
measurement, which changes nothing they do.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import hotpath
import hotpath.tuning as tuning
from bench.heldout.ocean import KERNELS

#: ``hotpath.tuning`` stage functions whose wall time is reported, by the phase they are.
PHASES = {"run": "reference", "propose_all": "propose", "guide": "cost model", "speculate": "trials",
          "confirm_winner": "confirm"}


def _timed(phase: str, fn: Callable[..., Any], spent: dict[str, float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = fn(*args, **kwargs)
            if phase == "trials":  # a generator: its time is spent while it is consumed
                result = tuple(result)
            return result
        finally:
            spent[phase] += time.perf_counter() - started
    return wrapper


class _Sandbox:
    """``hotpath.runner.sandbox`` as ``hotpath.tuning`` sees it, with its ``run`` (the reference
    run, the only call tuning makes itself; the trials' runs go through the executors) timed."""

    def __init__(self, module: Any, spent: dict[str, float]) -> None:
        self._module = module
        self.run = _timed("reference", module.run, spent)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


_ORIGINALS: dict[str, Any] = {}


def instrument(spent: dict[str, float]) -> None:
    """Wrap the stage functions ``hotpath.tuning`` calls so that ``spent`` gathers their wall time."""
    for name, phase in PHASES.items():
        if name != "run" and not hasattr(tuning, name) and name not in _ORIGINALS:
            continue  # a stage tuning no longer calls by this name: left out of the split
        original = _ORIGINALS.setdefault(name, tuning.sandbox if name == "run" else getattr(tuning, name))
        if name == "run":
            tuning.sandbox = _Sandbox(original, spent)  # type: ignore[assignment]
        else:
            setattr(tuning, name, _timed(phase, original, spent))


def report(name: str, size: str, numpy_s: float, result: Any, tune_s: float, spent: dict[str, float]) -> list[str]:
    speed = f"{result.speedup:.2f}x" if result.speedup else "-"
    phases = ", ".join(f"{phase} {spent[phase]:.0f}s" for phase in dict.fromkeys(PHASES.values()) if spent[phase] >= 0.5)
    lines = [f"== {name} [{size}]: original {numpy_s * 1e3:.1f} ms; winner {result.winner.name if result.winner else '-'} "
             f"{speed}; tune {tune_s:.0f}s ({phases})" + (f"; {result.reason}" if result.reason else "")]
    for t in result.trials:
        compile_s = f" compile {t.compile_s:.1f}s" if t.compile_s else ""
        speedup = f" {t.speedup:.2f}x" if t.speedup else ""
        reason = " ".join((t.reason or "").split())[:220]
        lines.append(f"     {t.name}: {t.status}{speedup}{compile_s}  {reason}".rstrip())
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("names", nargs="*", help="kernels to run (default: all)")
    parser.add_argument("--size", choices=("small", "bench", "both"), default="both")
    options = parser.parse_args(argv)
    kernels = [k for k in KERNELS if not options.names or k.name in options.names]
    sizes = ("small", "bench") if options.size == "both" else (options.size,)
    os.environ["HOTPATH_HOME"] = tempfile.mkdtemp(prefix="hotpath-ocean-")
    print(f"# python -m bench.heldout.run_ocean {' '.join(sys.argv[1:] if argv is None else argv)}  (default "
          f"settings; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", flush=True)
    rows = []
    for size in sizes:
        for kernel in kernels:
            args = kernel.make_args(size)
            started = time.perf_counter()
            kernel.fn(*args)
            numpy_s = time.perf_counter() - started
            spent: dict[str, float] = defaultdict(float)
            instrument(spent)
            args = kernel.make_args(size)
            started = time.perf_counter()
            result = hotpath.tune(kernel.fn, *args)
            tune_s = time.perf_counter() - started
            print("\n".join(report(kernel.name, size, numpy_s, result, tune_s, spent)), flush=True)
            rows.append((kernel.name, size, result.winner.name if result.winner else "-",
                         f"{result.speedup:.2f}x" if result.speedup else "-", f"{tune_s:.0f}"))
    print("\n| kernel | size | winner | speedup | tune s |\n|---|---|---|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
