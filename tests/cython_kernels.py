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


def largest_gain(a):
    """Largest ratio of a later value to an earlier low; ``best`` is a Python float until a gain is
    found, then NumPy's scalar (``a[i] / low``): the type returned depends on the data."""
    low = a[0]
    best = 0.0
    for i in range(1, a.shape[0]):
        if a[i] < low:
            low = a[i]
        else:
            gain = (a[i] - low) / low
            if gain > best:
                best = gain
    return best


def bin_index(x, origin, step):
    """Bin of each sample by ``int((x[i] - origin) / step)``; ``step`` is a Python object here, so
    the division is Python's, on NumPy's scalar: a zero step gives inf (then OverflowError in
    ``int``), never ZeroDivisionError."""
    out = np.zeros(x.shape[0], dtype=np.int64)
    for i in range(x.shape[0]):
        out[i] = int((x[i] - origin) / step)
    return out
