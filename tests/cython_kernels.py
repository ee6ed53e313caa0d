"""Kernels the Cython tests tune (module-level, so a second process can import them too)."""

import numpy as np


def stencil_sweep(u, out):
    """A 2-D Jacobi sweep over float64 arrays: the loop kernel Cython should win on."""
    n, m = u.shape
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return out


def reserved_word(a):
    """Valid Python that Cython refuses: ``ctypedef`` is a Cython keyword."""
    ctypedef = 2.0
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * ctypedef
    return total


def cyclic_difference(a, out):
    """``a[i - 1]`` at ``i == 0`` is ``a[-1]`` in Python: unchecked C indexing reads before the array."""
    for i in range(a.shape[0]):
        out[i] = a[i] - a[i - 1]
    return out


def scaled_copy(a):
    return np.asarray(a) * 2.0
