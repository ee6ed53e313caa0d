"""Kernels the tests tune: each one exercises one way a compiled variant can go right or wrong."""

import math

import numpy as np


def sum_squares(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s


def stencil_2d(u, out):
    n, m = u.shape
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return out


def polynomial_hash(a):
    """Python ints never overflow; int64 arithmetic in a compiled variant does."""
    h = 0
    for i in range(a.shape[0]):
        h = h * 31 + int(a[i])
    return h


def first_plus_total(a):
    """``a[0]`` raises IndexError on an empty array in Python; unchecked Numba reads garbage."""
    s = a[0]
    for i in range(a.shape[0]):
        s += a[i]
    return s


def checked_mean(a):
    if a.shape[0] == 0:
        raise ValueError("mean of an empty array")
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s / a.shape[0]


def scale_in_place(a, factor):
    for i in range(a.shape[0]):
        a[i] = a[i] * factor


def min_max(a):
    lo = math.inf
    hi = -math.inf
    for i in range(a.shape[0]):
        x = a[i]
        if x < lo:
            lo = x
        if x > hi:
            hi = x
    return lo, hi


def noisy(a):
    return a.sum() + np.random.random()


def _weight(x):
    return x * x + 1.0


def weighted_total(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += _weight(a[i])
    return s


def counts_values(items):
    return len(items)


def with_options(a, *, scale=1.0):
    return a.sum() * scale


def generator_kernel(a):
    for x in a:
        yield x


class Model:
    def energy(self, a):
        return float((a * a).sum())


def double_into(a, out):
    for i in range(a.shape[0]):
        out[i] = a[i] * 2.0
    return out
