"""Reductions over 1-D samples written as explicit Python loops."""
import math


def sum_of_squares_loops(x):
    """Signal energy: the sum of x[i]**2 over all samples."""
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i] * x[i]
    return total


def dot_product_loops(a, b):
    """Inner product sum_i a[i] * b[i] of two equal-length vectors."""
    n = a.shape[0]
    if b.shape[0] != n:
        raise ValueError("dot_product_loops: vectors must have the same length")
    acc = 0.0
    for i in range(n):
        acc += a[i] * b[i]
    return acc


def trapezoid_integral_loops(x, y):
    """Integral of y(x) on a non-uniform grid by the composite trapezoid rule."""
    area = 0.0
    for i in range(1, x.shape[0]):
        area += 0.5 * (x[i] - x[i - 1]) * (y[i] + y[i - 1])
    return area


def mean_variance_loops(samples):
    """Mean and unbiased sample variance in one pass (Welford's algorithm)."""
    n = 0
    mean = 0.0
    m2 = 0.0
    for value in samples:
        n += 1
        delta = value - mean
        mean += delta / n
        m2 += delta * (value - mean)
    if n < 2:
        return mean, math.nan
    return mean, m2 / (n - 1)


def min_max_argmax_loops(x):
    """Minimum, maximum and index of the (first) maximum of a 1-D series."""
    lo = x[0]
    hi = x[0]
    imax = 0
    for i in range(1, x.shape[0]):
        value = x[i]
        if value < lo:
            lo = value
        if value > hi:
            hi = value
            imax = i
    return lo, hi, imax
