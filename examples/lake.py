"""A toy lake model: heat diffuses over a grid, drifters feel each other, a daily report.

The program is written the way such scripts usually are: a lot of plain set-up, checking and
reporting code, and three small loop-heavy functions where nearly all the time goes:

* ``diffuse``            one explicit heat-diffusion step over the grid (a 5-point stencil)
* ``drifter_energy``     the pairwise interaction energy of the drifters (an O(n^2) loop)
* ``temperature_counts`` a histogram of the grid's temperatures

    python examples/lake.py                 # the full run (a few seconds)
    python examples/lake.py --size small    # a quick one, for tests

hotpath shows profile -> optimize -> run on it; see the README.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Settings:
    """Everything the run depends on; fixed per size so the output is reproducible."""

    grid: int
    days: int
    steps_per_day: int
    drifters: int
    alpha: float = 0.2
    cutoff: float = 0.25
    bins: int = 12
    seed: int = 7


SIZES = {
    "small": Settings(grid=40, days=3, steps_per_day=4, drifters=60),
    "medium": Settings(grid=120, days=6, steps_per_day=10, drifters=250),
    "large": Settings(grid=200, days=8, steps_per_day=12, drifters=400),
}


# --- the hot functions ---------------------------------------------------------------------

def diffuse(u, out, alpha):
    """One explicit diffusion step: ``out`` gets the new interior; edges stay fixed."""
    n, m = u.shape
    for i in range(n):
        out[i, 0] = u[i, 0]
        out[i, m - 1] = u[i, m - 1]
    for j in range(m):
        out[0, j] = u[0, j]
        out[n - 1, j] = u[n - 1, j]
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            lap = u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - 4.0 * u[i, j]
            out[i, j] = u[i, j] + alpha * lap
    return out


def drifter_energy(x, y, cutoff):
    """Sum of a soft pair potential over all drifter pairs closer than ``cutoff``."""
    n = x.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = x[i] - x[j]
            dy = y[i] - y[j]
            r2 = dx * dx + dy * dy
            if r2 < cutoff * cutoff:
                total += (cutoff * cutoff - r2) ** 2
    return total


def temperature_counts(u, lo, hi, bins):
    """How many cells fall in each of ``bins`` equal temperature bands between lo and hi."""
    counts = np.zeros(bins, dtype=np.int64)
    n, m = u.shape
    width = (hi - lo) / bins
    for i in range(n):
        for j in range(m):
            v = u[i, j]
            if v >= lo and v < hi:
                k = int((v - lo) / width)
                if k >= bins:
                    k = bins - 1
                counts[k] += 1
    return counts


# --- the cold code: set-up, checks, movement, reporting ------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--quiet", action="store_true", help="print only the final summary")
    return parser.parse_args(argv)


def check_settings(settings):
    problems = []
    if settings.grid < 3:
        problems.append("the grid needs at least 3 cells a side")
    if not 0.0 < settings.alpha <= 0.25:
        problems.append("alpha must be in (0, 0.25] for the explicit scheme to be stable")
    if settings.drifters < 2:
        problems.append("at least two drifters are needed")
    if problems:
        raise SystemExit("bad settings: " + "; ".join(problems))


def initial_temperature(settings, rng):
    grid = settings.grid
    u = np.full((grid, grid), 4.0)
    u[0, :] = 18.0  # the sunny shore
    u[:, 0] = 10.0  # an inflow
    centre = grid // 2
    radius = max(2, grid // 8)
    for i in range(centre - radius, centre + radius):
        for j in range(centre - radius, centre + radius):
            u[i, j] = 12.0  # a warm patch
    u += rng.normal(0.0, 0.05, size=u.shape)
    return u


def initial_drifters(settings, rng):
    x = rng.uniform(0.0, 1.0, settings.drifters)
    y = rng.uniform(0.0, 1.0, settings.drifters)
    return x, y


def current_at(x, y, day):
    """A slow rotating current; cheap, vectorized, cold."""
    angle = 0.3 * day
    u = 0.01 * np.cos(angle) - 0.02 * (y - 0.5)
    v = 0.01 * np.sin(angle) + 0.02 * (x - 0.5)
    return u, v


def move_drifters(x, y, day):
    u, v = current_at(x, y, day)
    x = np.clip(x + u, 0.0, 1.0)
    y = np.clip(y + v, 0.0, 1.0)
    return x, y


def describe_counts(counts, lo, hi):
    width = (hi - lo) / len(counts)
    parts = []
    for k, count in enumerate(counts):
        if count:
            parts.append(f"{lo + k * width:5.1f}-{lo + (k + 1) * width:5.1f}C:{count}")
    return " ".join(parts)


def day_report(day, u, energy, counts, lo, hi):
    mean = float(u.mean())
    spread = float(u.std())
    return (f"day {day:2d}  mean {mean:8.4f}C  spread {spread:7.4f}  "
            f"energy {energy:12.6e}  bands {describe_counts(counts, lo, hi)}")


def summary(history):
    first, last = history[0], history[-1]
    change = last[1] - first[1]
    trend = "warming" if change > 0 else "cooling" if change < 0 else "steady"
    energies = [h[2] for h in history]
    return (f"{len(history)} days: mean {first[1]:.4f}C -> {last[1]:.4f}C ({trend}), "
            f"energy min {min(energies):.6e} max {max(energies):.6e}, "
            f"checksum {math.fsum(h[1] for h in history):.6f}")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = SIZES[args.size]
    check_settings(settings)
    rng = np.random.default_rng(settings.seed)
    u = initial_temperature(settings, rng)
    scratch = np.empty_like(u)
    x, y = initial_drifters(settings, rng)
    lo, hi = 0.0, 20.0
    history = []
    for day in range(1, settings.days + 1):
        for _ in range(settings.steps_per_day):
            diffuse(u, scratch, settings.alpha)
            u, scratch = scratch, u
            x, y = move_drifters(x, y, day)
        energy = drifter_energy(x, y, settings.cutoff)
        counts = temperature_counts(u, lo, hi, settings.bins)
        history.append((day, float(u.mean()), energy))
        if not args.quiet:
            print(day_report(day, u, energy, counts, lo, hi))
    print(summary(history))
    return 0


if __name__ == "__main__":
    sys.exit(main())
