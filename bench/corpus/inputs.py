"""Deterministic argument builders: ``make(size) -> tuple`` for each corpus kernel.

``size`` is "small" (quick: tests, smoke runs) or "bench" (the original takes roughly
20-300 ms per call; see timings.md). Every builder seeds its own generator, so the same
size always gives identical arrays.
"""

import numpy as np

from .integer import _UNREACHABLE

SIZES = ("small", "bench")


def _pick(size, small, bench):
    if size == "small":
        return small
    if size == "bench":
        return bench
    raise ValueError(f"unknown size {size!r}; expected one of {SIZES}")


def _rng(seed):
    return np.random.default_rng(seed)


# reductions -------------------------------------------------------------------------

def sum_of_squares(size):
    n = _pick(size, 20_000, 400_000)
    return (_rng(101).standard_normal(n),)


def dot_product(size):
    n = _pick(size, 20_000, 300_000)
    rng = _rng(102)
    return rng.standard_normal(n), rng.standard_normal(n)


def trapezoid_integral(size):
    n = _pick(size, 10_000, 200_000)
    rng = _rng(103)
    x = np.sort(rng.uniform(0.0, 10.0, n))
    y = np.exp(-0.3 * x) * np.sin(2.0 * x) + 0.01 * rng.standard_normal(n)
    return x, y


def mean_variance(size):
    n = _pick(size, 10_000, 200_000)
    return (_rng(104).normal(1.0e3, 5.0, n),)


def min_max_argmax(size):
    n = _pick(size, 20_000, 800_000)
    return (np.cumsum(_rng(105).standard_normal(n)),)


# stencils ---------------------------------------------------------------------------

def jacobi_step(size):
    n = _pick(size, 60, 300)
    rng = _rng(201)
    u = rng.standard_normal((n, n))
    u[0, :] = u[-1, :] = u[:, 0] = u[:, -1] = 0.0
    f = rng.uniform(-1.0, 1.0, (n, n))
    return u, u.copy(), f, 1.0 / (n - 1)


def smooth_1d(size):
    n = _pick(size, 10_000, 200_000)
    rng = _rng(202)
    t = np.linspace(0.0, 20.0, n)
    return ((np.sin(t) + 0.3 * rng.standard_normal(n)).astype(np.float32),)


def laplacian_3d(size):
    n = _pick(size, 16, 40)
    return _rng(203).standard_normal((n, n + 2, n + 4)), 0.1


def game_of_life_step(size):
    n = _pick(size, 48, 200)
    return (_rng(204).random((n, n)) < 0.3,)


# loops ------------------------------------------------------------------------------

def matmul(size):
    n = _pick(size, 30, 100)
    rng = _rng(301)
    return rng.standard_normal((n, n + 5)), rng.standard_normal((n + 5, n))


def pairwise_distances(size):
    n = _pick(size, 150, 700)
    return (_rng(302).uniform(0.0, 100.0, (n, 2)),)


def convolve_1d(size):
    n, m = _pick(size, (2_000, 15), (30_000, 31))
    rng = _rng(303)
    taps = np.hanning(m + 2)[1:-1]
    return rng.standard_normal(n), taps / taps.sum()


def mandelbrot(size):
    nx, ny, max_iter = _pick(size, (60, 40, 50), (200, 150, 100))
    return np.linspace(-2.2, 0.8, nx), np.linspace(-1.2, 1.2, ny), max_iter


def detect_peaks(size):
    n = _pick(size, 20_000, 800_000)
    rng = _rng(305)
    t = np.arange(n)
    signal = np.sin(2.0 * np.pi * t / 250.0) + 0.4 * rng.standard_normal(n)
    return signal, 0.8, 50


def max_drawdown(size):
    n = _pick(size, 20_000, 400_000)
    log_returns = _rng(306).normal(2.0e-4, 1.0e-2, n)
    return (100.0 * np.exp(np.cumsum(log_returns)),)


def kmeans_assign(size):
    n, k = _pick(size, (600, 8), (15_000, 8))
    rng = _rng(307)
    centres = rng.uniform(-10.0, 10.0, (k, 3))
    X = centres[rng.integers(0, k, n)] + rng.standard_normal((n, 3))
    return X, centres + 0.5 * rng.standard_normal((k, 3))


# binning ----------------------------------------------------------------------------

def histogram(size):
    n = _pick(size, 20_000, 400_000)
    return _rng(401).normal(0.0, 1.0, n), -3.0, 3.0, 64


def binned_mean(size):
    n = _pick(size, 10_000, 300_000)
    rng = _rng(402)
    x = rng.uniform(-0.5, 10.5, n)
    values = np.sqrt(np.abs(x)) + 0.1 * rng.standard_normal(n)
    return x, values, 0.0, 10.0, 50


# in place ---------------------------------------------------------------------------

def cumsum_inplace(size):
    n = _pick(size, 20_000, 400_000)
    return (_rng(501).exponential(1.0, n),)


def calibrate_image_inplace(size):
    n = _pick(size, 100, 400)
    rng = _rng(502)
    dark = rng.normal(100.0, 3.0, (n, n)).astype(np.float32)
    flat = rng.uniform(0.8, 1.2, (n, n)).astype(np.float32)
    sky = rng.poisson(8.0, (n, n)) + rng.normal(0.0, 4.0, (n, n))
    image = (dark + flat * sky - 5.0).astype(np.float32)
    return image, dark, flat


# integer ----------------------------------------------------------------------------

def polynomial_hash(size):
    n = _pick(size, 20_000, 300_000)
    return (_rng(601).integers(0, 50_000, n, dtype=np.int64),)


def weighted_mean_timestamp(size):
    n = _pick(size, 20_000, 200_000)
    rng = _rng(602)
    counts = rng.integers(0, 1_000, n, dtype=np.int64)
    start_ns = 1_700_000_000_000_000_000
    timestamps = start_ns + np.cumsum(rng.integers(1, 1_000_000, n, dtype=np.int64))
    return counts, timestamps


def floyd_warshall(size):
    n = _pick(size, 25, 70)
    rng = _rng(603)
    weights = rng.integers(1, 100, (n, n), dtype=np.int64)
    weights[rng.random((n, n)) < 0.7] = _UNREACHABLE
    np.fill_diagonal(weights, 0)
    return (weights,)


# simulation -------------------------------------------------------------------------

def nbody_step(size):
    n = _pick(size, 40, 150)
    rng = _rng(701)
    pos = rng.standard_normal((n, 3))
    vel = 0.1 * rng.standard_normal((n, 3))
    mass = rng.uniform(0.5, 1.5, n) / n
    return pos, vel, mass, 1.0e-3, 0.05


def heat_equation_1d(size):
    n, n_steps = _pick(size, (100, 100), (300, 600))
    x = np.linspace(0.0, 1.0, n)
    u0 = np.exp(-100.0 * (x - 0.3) ** 2) + 0.5 * (x > 0.6)
    dx = x[1] - x[0]
    return u0, 1.0, dx, 0.4 * dx * dx, n_steps


def logistic_lyapunov(size):
    n_r, n_iter = _pick(size, (50, 200), (300, 1_000))
    return np.linspace(2.5, 3.99, n_r), 0.123, n_iter // 2, n_iter


# vectorized -------------------------------------------------------------------------

def pairwise_distances_vec(size):
    n = _pick(size, 200, 1_200)
    return (_rng(801).standard_normal((n, 3)),)


def laplace_stencil_vec(size):
    n = _pick(size, 200, 3_000)
    return (_rng(802).standard_normal((n, n)),)


def jacobi_relax_inplace_vec(size):
    n, sweeps = _pick(size, (100, 10), (500, 100))
    u = np.zeros((n, n))
    u[0, :] = 1.0
    u[:, -1] = np.linspace(1.0, 0.0, n)
    return u, sweeps


def wave_packet_energy_vec(size):
    n = _pick(size, 100_000, 3_000_000)
    return (_rng(804).uniform(-5.0, 5.0, n),)


def huber_loss_vec(size):
    n = _pick(size, 100_000, 5_000_000)
    return _rng(805).standard_t(3.0, n), 1.35


def display_normalize_vec(size):
    n = _pick(size, 256, 2_048)
    image = _rng(806).gamma(2.0, 500.0, (n, n))
    return image, 200.0, 3_000.0, 2.2


def softmax_rows_vec(size):
    n, k = _pick(size, (1_000, 50), (40_000, 200))
    return (3.0 * _rng(807).standard_normal((n, k)),)


def logsumexp_rows_vec(size):
    n, k = _pick(size, (1_000, 50), (50_000, 200))
    return (50.0 * _rng(808).standard_normal((n, k)),)


def normalized_cross_correlation_vec(size):
    n = _pick(size, 100_000, 8_000_000)
    rng = _rng(809)
    a = rng.standard_normal(n)
    return a, 0.6 * a + 0.8 * rng.standard_normal(n)


def rms_error_vec(size):
    n = _pick(size, 100_000, 40_000_000)
    rng = _rng(810)
    observed = np.float32(15.0) + np.float32(8.0) * rng.standard_normal(n, dtype=np.float32)
    predicted = observed + (np.float32(0.3) + np.float32(1.5) * rng.standard_normal(n, dtype=np.float32))
    return predicted, observed


def gaussian_kde_vec(size):
    n, m = _pick(size, (500, 200), (4_000, 2_000))
    rng = _rng(811)
    samples = np.concatenate([rng.normal(-2.0, 0.5, n // 2), rng.normal(1.5, 1.0, n - n // 2)])
    return samples, np.linspace(-5.0, 6.0, m), 0.3


def gradient_2d_vec(size):
    n = _pick(size, 200, 3_000)
    y = np.linspace(0.0, 1.0, n)[:, None]
    x = np.linspace(0.0, 2.0, n + 10)[None, :]
    f = np.sin(6.0 * x) * np.cos(4.0 * y) + 0.01 * _rng(812).standard_normal((n, n + 10))
    return f, 1.0 / (n - 1), 2.0 / (n + 9)


def horner_poly_vec(size):
    n, degree = _pick(size, (100_000, 8), (3_000_000, 12))
    rng = _rng(813)
    coeffs = rng.standard_normal(degree + 1) / np.arange(1, degree + 2)
    return coeffs, rng.uniform(-1.5, 1.5, n)


def black_scholes_call_vec(size):
    n = _pick(size, 100_000, 2_000_000)
    rng = _rng(814)
    spot = rng.uniform(50.0, 150.0, n)
    strike = rng.uniform(60.0, 140.0, n)
    maturity = rng.uniform(0.05, 3.0, n)
    return spot, strike, maturity, 0.03, 0.25


def fput_verlet_vec(size):
    n, n_steps = _pick(size, (1_000, 50), (10_000, 150))
    x = 0.1 * np.sin(np.pi * np.arange(n) / (n - 1))
    x[0] = x[-1] = 0.0
    return x, np.zeros(n), 1.0, 0.3, 0.05, n_steps


def zscore_columns_vec(size):
    n, k = _pick(size, (1_000, 20), (200_000, 50))
    rng = _rng(816)
    return (rng.standard_normal((n, k)) * rng.uniform(0.5, 20.0, k) + rng.uniform(-100.0, 100.0, k),)
