"""Summaries of a temperature field: NumPy for the easy parts, a loop where it was easier to write."""

import numpy as np


def radial_profile(u, bins):
    """Mean temperature in ``bins`` rings around the plate's centre."""
    n, m = u.shape
    cy, cx = (n - 1) / 2.0, (m - 1) / 2.0
    rmax = (cy ** 2 + cx ** 2) ** 0.5
    sums = np.zeros(bins)
    counts = np.zeros(bins)
    for i in range(n):
        for j in range(m):
            r = ((i - cy) ** 2 + (j - cx) ** 2) ** 0.5
            k = int(r / rmax * bins)
            if k >= bins:
                k = bins - 1
            sums[k] += u[i, j]
            counts[k] += 1
    return sums / np.maximum(counts, 1)


def hot_fraction(u, threshold):
    """Share of the cells warmer than ``threshold``."""
    return float(np.count_nonzero(u > threshold)) / u.size


def summary(u):
    """Mean, spread and extremes of the field."""
    return {"mean": float(u.mean()), "std": float(u.std()), "min": float(u.min()), "max": float(u.max())}


def autocorrelation(series, max_lag):
    """Normalised autocorrelation of a time series for lags 0..max_lag (how long the flux remembers)."""
    n = series.shape[0]
    mean = series.mean()
    var = 0.0
    for t in range(n):
        var += (series[t] - mean) ** 2
    acf = np.zeros(max_lag + 1)
    for lag in range(max_lag + 1):
        total = 0.0
        for t in range(n - lag):
            total += (series[t] - mean) * (series[t + lag] - mean)
        acf[lag] = total / var if var > 0 else 0.0
    return acf
