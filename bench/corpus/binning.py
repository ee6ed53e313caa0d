"""Histogramming and binned statistics with explicit loops."""
import math

import numpy as np


def histogram_loops(x, lo, hi, n_bins):
    """Counts of samples in ``n_bins`` equal-width bins on [lo, hi); outliers go to the edge bins."""
    counts = np.zeros(n_bins, dtype=np.int64)
    width = (hi - lo) / n_bins
    for i in range(x.shape[0]):
        b = int((x[i] - lo) / width)
        if b < 0:
            b = 0
        elif b >= n_bins:
            b = n_bins - 1
        counts[b] += 1
    return counts


def binned_mean_loops(x, values, lo, hi, n_bins):
    """Mean of ``values`` in equal-width bins of ``x`` on [lo, hi); NaN for empty bins.

    Samples outside [lo, hi) are ignored (unlike ``histogram_loops``, which clips).
    """
    sums = np.zeros(n_bins)
    counts = np.zeros(n_bins, dtype=np.int64)
    width = (hi - lo) / n_bins
    for i in range(x.shape[0]):
        if x[i] < lo or x[i] >= hi:
            continue
        b = int((x[i] - lo) / width)
        if b >= n_bins:
            b = n_bins - 1
        sums[b] += values[i]
        counts[b] += 1
    means = np.empty(n_bins)
    for b in range(n_bins):
        if counts[b] > 0:
            means[b] = sums[b] / counts[b]
        else:
            means[b] = math.nan
    return means
