"""Kernels in the NumPy expression style: broadcasting, slices, ufunc chains, reductions."""
import math

import numpy as np


def pairwise_distances_vec(X):
    """Euclidean distance matrix between the rows of X by broadcasting (n, 1, d) - (1, n, d)."""
    return np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))


def laplace_stencil_vec(u):
    """One Jacobi relaxation of Laplace's equation written with shifted slices; edges kept."""
    u_new = u.copy()
    u_new[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
    return u_new


def jacobi_relax_inplace_vec(u, n_sweeps):
    """``n_sweeps`` Jacobi sweeps of Laplace's equation, overwriting the interior of ``u``.

    Each right-hand side is evaluated in full before it is assigned, so this is Jacobi
    (not Gauss-Seidel) even though it writes into the array it reads.
    """
    for _ in range(n_sweeps):
        u[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])


def wave_packet_energy_vec(x):
    """Total of a damped wave-packet energy density sampled at points x."""
    return np.sum(np.exp(-x**2) * np.sin(3 * x) + 0.5 * np.cos(x) ** 2)


def huber_loss_vec(residuals, delta):
    """Mean Huber loss: quadratic for |r| <= delta, linear beyond."""
    abs_r = np.abs(residuals)
    loss = np.where(abs_r <= delta, 0.5 * residuals**2, delta * (abs_r - 0.5 * delta))
    return loss.mean()


def display_normalize_vec(image, lo, hi, gamma):
    """Window an image to [lo, hi], rescale to [0, 1] and apply display gamma."""
    scaled = np.where(image < lo, 0.0, np.where(image > hi, 1.0, (image - lo) / (hi - lo)))
    return scaled ** (1.0 / gamma)


def softmax_rows_vec(logits):
    """Row-wise softmax of a (n_samples, n_classes) logit matrix, max-shifted for stability."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def logsumexp_rows_vec(a):
    """log(sum(exp(a), axis=1)) computed stably by shifting with the row maximum."""
    m = a.max(axis=1)
    return m + np.log(np.sum(np.exp(a - m[:, None]), axis=1))


def normalized_cross_correlation_vec(a, b):
    """Zero-lag normalized cross-correlation (Pearson r) of two equal-length signals."""
    da = a - a.mean()
    db = b - b.mean()
    return np.sum(da * db) / np.sqrt(np.sum(da * da) * np.sum(db * db))


def rms_error_vec(predicted, observed):
    """Root-mean-square error between float32 model output and observations."""
    return np.sqrt(np.mean((predicted - observed) ** 2))


def gaussian_kde_vec(samples, grid, bandwidth):
    """Gaussian kernel density estimate of 1-D ``samples`` evaluated on ``grid``."""
    z = (grid[:, None] - samples[None, :]) / bandwidth
    norm = samples.shape[0] * bandwidth * math.sqrt(2.0 * math.pi)
    return np.exp(-0.5 * z**2).sum(axis=1) / norm


def gradient_2d_vec(f, dy, dx):
    """Gradient (df/dy, df/dx) of a 2-D field: central differences inside, one-sided at edges."""
    gy = np.empty_like(f)
    gx = np.empty_like(f)
    gy[1:-1, :] = (f[2:, :] - f[:-2, :]) / (2.0 * dy)
    gy[0, :] = (f[1, :] - f[0, :]) / dy
    gy[-1, :] = (f[-1, :] - f[-2, :]) / dy
    gx[:, 1:-1] = (f[:, 2:] - f[:, :-2]) / (2.0 * dx)
    gx[:, 0] = (f[:, 1] - f[:, 0]) / dx
    gx[:, -1] = (f[:, -1] - f[:, -2]) / dx
    return gy, gx


def horner_poly_vec(coeffs, x):
    """Evaluate the polynomial with ``coeffs`` (highest degree first) at every x, Horner style."""
    result = np.zeros_like(x)
    for c in coeffs:
        result = result * x + c
    return result


def _norm_cdf(d):
    k = 1.0 / (1.0 + 0.2316419 * np.abs(d))
    poly = k * (0.319381530 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429))))
    upper = 1.0 - np.exp(-0.5 * d * d) / math.sqrt(2.0 * math.pi) * poly
    return np.where(d < 0.0, 1.0 - upper, upper)


def black_scholes_call_vec(spot, strike, maturity, rate, volatility):
    """European call prices by Black-Scholes; Phi by Abramowitz-Stegun 26.2.17 (|err| < 7.5e-8)."""
    sqrt_t = np.sqrt(maturity)
    d1 = (np.log(spot / strike) + (rate + 0.5 * volatility**2) * maturity) / (volatility * sqrt_t)
    d2 = d1 - volatility * sqrt_t
    return spot * _norm_cdf(d1) - strike * np.exp(-rate * maturity) * _norm_cdf(d2)


def _fput_accelerations(x, beta, mass):
    a = np.zeros_like(x)
    left = x[1:-1] - x[:-2]
    right = x[2:] - x[1:-1]
    a[1:-1] = (right - left + beta * (right**3 - left**3)) / mass
    return a


def fput_verlet_vec(x, v, mass, beta, dt, n_steps):
    """Velocity Verlet integration of a Fermi-Pasta-Ulam-Tsingou beta chain with fixed ends.

    ``x`` are displacements from equilibrium; returns new (x, v), inputs unchanged.
    """
    a = _fput_accelerations(x, beta, mass)
    for _ in range(n_steps):
        x = x + dt * v + 0.5 * dt * dt * a
        a_new = _fput_accelerations(x, beta, mass)
        v = v + 0.5 * dt * (a + a_new)
        a = a_new
    return x, v


def zscore_columns_vec(X):
    """Standardize each column of a (n_samples, n_features) matrix to zero mean and unit std."""
    return (X - X.mean(axis=0)) / X.std(axis=0)
