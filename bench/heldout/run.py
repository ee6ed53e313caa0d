"""Kernels written after the rewriter, never tuned against: a check that it generalises.

    python -m bench.heldout.run > bench/results/heldout.txt

The committed output was produced with the Numba backend only, before Cython joined the
defaults; the same command now pins backends=("numba",) so it stays comparable.
"""
import numpy as np, hotpath, time
from bench.heldout import kernels as u
rng = np.random.default_rng(0)
cases = {
 "lj_energy": (u.lj_energy, (rng.random((300, 3)) * 10, 1.0, 1.0)),
 "bilinear": (u.bilinear, (rng.random((100, 100)), rng.random(50000) * 100, rng.random(50000) * 100)),
 "running_mean": (u.running_mean, (rng.random(200000), 50)),
 "sor": (u.sor, (np.zeros((60, 60)), rng.random((60, 60)), 1.5, 10)),
 "lorenz": (u.lorenz, (np.array([1.0, 1.0, 1.0]), 0.001, 50000)),
 "primes_below": (u.primes_below, (100000,)),
 "viterbi": (u.viterbi, (rng.integers(0, 5, 3000), np.log(rng.random((8, 8))), np.log(rng.random((8, 5))), np.log(rng.random(8)))),
 "spectral_energy": (u.spectral_energy, (rng.random(100000),)),
 "gini": (u.gini, (rng.random(200000),)),
}
for name, (fn, args) in cases.items():
    t = time.time()
    r = hotpath.tune(fn, *args, backends=("numba",))
    print(f"== {name}: {r.winner.name if r.winner else '-'} {r.speedup or 1:.1f}x tune {time.time()-t:.1f}s  {r.reason or ''}")
    for tr in r.trials:
        if tr.status not in ("won",):
            print("     ", tr.name, tr.status, tr.reason.splitlines()[0][:200])
