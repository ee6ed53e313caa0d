"""Built-in example kernels for ``hotpath demo``: written the way scientists write them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def jacobi_sweep(u, out):
    """One Jacobi relaxation sweep of the 2-D Laplace equation; returns the largest change."""
    n, m = u.shape
    largest = 0.0
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            value = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
            out[i, j] = value
            largest = max(largest, abs(value - u[i, j]))
    return largest


def pairwise_distances(points):
    """Euclidean distance matrix of ``points`` (n x d), with explicit loops."""
    n, d = points.shape
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            total = 0.0
            for k in range(d):
                diff = points[i, k] - points[j, k]
                total += diff * diff
            out[i, j] = np.sqrt(total)
    return out


def checksum(values):
    """A polynomial checksum in Python's unbounded integers: compiled int64 code overflows."""
    h = 0
    for i in range(values.shape[0]):
        h = h * 1_000_003 + int(values[i])
    return h


def example_args(name: str, scale: float = 1.0) -> tuple[Any, ...]:
    """Deterministic arguments for an example; ``scale`` < 1 shrinks them for quick runs."""
    rng = np.random.default_rng(2026)
    if name == "jacobi_sweep":
        n = max(8, int(400 * scale))
        u = rng.random((n, n))
        return u, np.zeros_like(u)
    if name == "pairwise_distances":
        return (rng.random((max(4, int(250 * scale)), 3)),)
    if name == "checksum":
        return (rng.integers(0, 1000, max(4, int(2000 * scale))),)
    raise KeyError(name)


EXAMPLES: dict[str, Callable[..., Any]] = {"jacobi_sweep": jacobi_sweep, "pairwise_distances": pairwise_distances, "checksum": checksum}
