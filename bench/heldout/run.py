"""Kernels written after the rewriter, never tuned against: a check that it generalises.

    python -m bench.heldout.run > bench/results/heldout.txt
    python -m bench.heldout.run lorenz gini --json heldout.json   # a few, with timed samples for `hotpath gate`

The committed output was produced with the Numba backend only, before Cython joined the
defaults; the same command now pins backends=("numba",) so it stays comparable.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import numpy as np

import hotpath
from bench import harness
from bench.heldout import kernels as u


def cases() -> dict[str, tuple[Callable[..., Any], tuple[Any, ...]]]:
    """Each held-out kernel with its arguments (one seeded generator, drawn in this order)."""
    rng = np.random.default_rng(0)
    return {
        "lj_energy": (u.lj_energy, (rng.random((300, 3)) * 10, 1.0, 1.0)),
        "bilinear": (u.bilinear, (rng.random((100, 100)), rng.random(50000) * 100, rng.random(50000) * 100)),
        "running_mean": (u.running_mean, (rng.random(200000), 50)),
        "sor": (u.sor, (np.zeros((60, 60)), rng.random((60, 60)), 1.5, 10)),
        "lorenz": (u.lorenz, (np.array([1.0, 1.0, 1.0]), 0.001, 50000)),
        "primes_below": (u.primes_below, (100000,)),
        "viterbi": (u.viterbi, (rng.integers(0, 5, 3000), np.log(rng.random((8, 8))), np.log(rng.random((8, 5))),
                                np.log(rng.random(8)))),
        "spectral_energy": (u.spectral_energy, (rng.random(100000),)),
        "gini": (u.gini, (rng.random(200000),)),
    }


def main(argv: list[str] | None = None) -> int:
    options = harness.parser(__doc__, repeats=21).parse_args(argv)
    bucket: list = []
    for name, (fn, args) in cases().items():
        if options.names and name not in options.names:
            continue
        t = time.time()
        r = hotpath.tune(fn, *args, backends=("numba",))
        print(f"== {name}: {r.winner.name if r.winner else '-'} {r.speedup or 1:.1f}x tune {time.time() - t:.1f}s  "
              f"{r.reason or ''}")
        for tr in r.trials:
            if harness.status(tr) != "won":
                print("     ", tr.name, harness.status(tr), tr.reason.splitlines()[0][:200])
        harness.measure(options, bucket, name, fn, r.optimized, args)
    harness.finish(options, bucket, "bench.heldout.run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
