"""Explicit finite-difference kernels on a 2-D grid (plain loops, as first written)."""

import numpy as np


def diffuse(u, out, alpha):
    """One explicit diffusion step: ``out`` gets the new interior; the edges stay fixed."""
    n, m = u.shape
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = u[i, j] + alpha * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - 4.0 * u[i, j])
    return out


def heat_flux(u, dx):
    """Total absolute heat flux through the interior cell faces (central differences)."""
    n, m = u.shape
    total = 0.0
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            gx = (u[i + 1, j] - u[i - 1, j]) / (2.0 * dx)
            gy = (u[i, j + 1] - u[i, j - 1]) / (2.0 * dx)
            total += abs(gx) + abs(gy)
    return total


def initial_state(n, hot=1.0):
    """A cold plate with a hot square in the middle."""
    u = np.zeros((n, n))
    q = n // 4
    u[q:n - q, q:n - q] = hot
    return u
