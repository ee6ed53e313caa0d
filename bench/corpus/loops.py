"""General nested-loop kernels: dense linear algebra, geometry, signal processing."""
import math

import numpy as np


def matmul_loops(A, B):
    """Dense matrix product C = A @ B with the textbook triple loop."""
    n, m = A.shape
    if B.shape[0] != m:
        raise ValueError("matmul_loops: inner dimensions do not match")
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            s = 0.0
            for k in range(m):
                s += A[i, k] * B[k, j]
            C[i, j] = s
    return C


def _distance(x1, y1, x2, y2):
    dx = x2 - x1
    dy = y2 - y1
    return math.sqrt(dx * dx + dy * dy)


def pairwise_distances_loops(points):
    """Symmetric Euclidean distance matrix between 2-D points given as an (n, 2) array."""
    n = points.shape[0]
    dist = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            d = _distance(points[i, 0], points[i, 1], points[j, 0], points[j, 1])
            dist[i, j] = d
            dist[j, i] = d
    return dist


def convolve_1d_loops(signal, kernel):
    """Discrete convolution of a signal with an FIR kernel, 'valid' part only."""
    n = signal.shape[0]
    m = kernel.shape[0]
    out = np.zeros(n - m + 1)
    for i in range(n - m + 1):
        acc = 0.0
        for j in range(m):
            acc += signal[i + j] * kernel[m - 1 - j]
        out[i] = acc
    return out


def mandelbrot_loops(re_axis, im_axis, max_iter):
    """Escape-time iteration counts of z -> z**2 + c over a rectangular grid of c values."""
    ny = im_axis.shape[0]
    nx = re_axis.shape[0]
    counts = np.zeros((ny, nx), dtype=np.int64)
    for i in range(ny):
        for j in range(nx):
            c = complex(re_axis[j], im_axis[i])
            z = 0j
            n = 0
            while n < max_iter and abs(z) <= 2.0:
                z = z * z + c
                n += 1
            counts[i, j] = n
    return counts


def detect_peaks_loops(signal, threshold, min_distance):
    """Indices of local maxima above ``threshold``, at least ``min_distance`` samples apart.

    When two peaks are closer than ``min_distance`` the taller one is kept.
    """
    n = signal.shape[0]
    peaks = np.empty(n, dtype=np.int64)
    count = 0
    last = -min_distance - 1
    for i in range(1, n - 1):
        value = signal[i]
        if value > threshold and value > signal[i - 1] and value >= signal[i + 1]:
            if i - last > min_distance:
                peaks[count] = i
                count += 1
                last = i
            elif value > signal[last]:
                peaks[count - 1] = i
                last = i
    return peaks[:count]


def max_drawdown_loops(prices):
    """Largest relative drop from a running peak of a price series (0.25 means -25%)."""
    peak = prices[0]
    worst = 0.0
    for i in range(1, prices.shape[0]):
        price = prices[i]
        if price > peak:
            peak = price
        else:
            drawdown = (peak - price) / peak
            if drawdown > worst:
                worst = drawdown
    return worst


def _squared_distance(X, i, centroids, k):
    total = 0.0
    for d in range(X.shape[1]):
        diff = X[i, d] - centroids[k, d]
        total += diff * diff
    return total


def kmeans_assign_loops(X, centroids):
    """k-means assignment step: nearest centroid per point and the total inertia."""
    n = X.shape[0]
    n_clusters = centroids.shape[0]
    labels = np.empty(n, dtype=np.int64)
    inertia = 0.0
    for i in range(n):
        best = 0
        best_dist = _squared_distance(X, i, centroids, 0)
        for k in range(1, n_clusters):
            dist = _squared_distance(X, i, centroids, k)
            if dist < best_dist:
                best_dist = dist
                best = k
        labels[i] = best
        inertia += best_dist
    return labels, inertia
