"""Deterministic argument builders for the kernels of :mod:`bench.corpus.patterns`.

Same contract as :mod:`bench.corpus.inputs`: ``make(size) -> tuple``, "small" for tests,
"bench" for timing, every builder seeded.
"""
import numpy as np

from .inputs import SIZES


def _pick(size, small, bench):
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {SIZES}")
    return small if size == "small" else bench


def _rng(seed):
    return np.random.default_rng(seed)


def exceedance_fraction_vec(size):
    rows, days = _pick(size, (50, 365), (2_000, 3_650))
    return 15.0 + 8.0 * _rng(401).standard_normal((rows, days)), 25.0


def count_peaks_vec(size):
    n = _pick(size, 20_000, 4_000_000)
    t = np.linspace(0.0, 200.0, n)
    return np.sin(t) + 0.3 * _rng(402).standard_normal(n), 0.5


def find_peaks_vec(size):
    n = _pick(size, 20_000, 4_000_000)
    return (np.cumsum(_rng(403).standard_normal(n)),)


def band_mean_vec(size):
    n = _pick(size, 20_000, 4_000_000)
    values = _rng(404).standard_normal(n)
    values[::97] = np.nan
    return values, -0.5, 1.5


def positive_flux_vec(size):
    n = _pick(size, 20_000, 4_000_000)
    return _rng(405).standard_normal(n), 0.01


def nearest_centroid_vec(size):
    n, k = _pick(size, (500, 8), (100_000, 16))
    rng = _rng(406)
    return rng.standard_normal((n, 3)), rng.standard_normal((k, 3))


def spectral_tail_energy_vec(size):
    n = _pick(size, 20_000, 4_000_000)
    return (np.abs(_rng(407).standard_normal(n)) / (1.0 + np.arange(n)),)


def cumulative_log_return_vec(size):
    n = _pick(size, 20_000, 4_000_000)
    return (100.0 * np.exp(np.cumsum(0.01 * _rng(408).standard_normal(n))),)


def velocity_vec(size):
    n = _pick(size, 20_000, 12_000_000)
    return np.cumsum(_rng(409).standard_normal(n)), 0.01


def field_intensity_vec(size):
    n = _pick(size, 20_000, 2_000_000)
    rng = _rng(410)
    return rng.uniform(0.0, 2.0, n), rng.uniform(-np.pi, np.pi, n)


def mandelbrot_escape_vec(size):
    side, n_iter = _pick(size, (60, 20), (400, 40))
    re, im = np.meshgrid(np.linspace(-2.0, 0.6, side), np.linspace(-1.2, 1.2, side))
    return re + 1j * im, n_iter


def logistic_nll_vec(size):
    n, d = _pick(size, (2_000, 20), (400_000, 50))
    rng = _rng(411)
    X = rng.standard_normal((n, d))
    w = 0.2 * rng.standard_normal(d)
    return X, w, np.where(rng.standard_normal(n) > 0.0, 1.0, -1.0)


def wealth_paths_vec(size):
    days, assets = _pick(size, (250, 20), (2_500, 1_000))
    return (0.01 * _rng(412).standard_normal((days, assets)),)


def dense_relu_vec(size):
    n, d, h = _pick(size, (500, 16, 32), (100_000, 32, 64))
    rng = _rng(414)
    return rng.standard_normal((n, d)), rng.standard_normal((d, h)) / np.sqrt(d), 0.1 * rng.standard_normal(h)


def mlp_forward_vec(size):
    n, d, h, k = _pick(size, (500, 16, 32, 4), (100_000, 32, 64, 8))
    rng = _rng(415)
    return (rng.standard_normal((n, d)), rng.standard_normal((d, h)) / np.sqrt(d), 0.1 * rng.standard_normal(h),
            rng.standard_normal((h, k)) / np.sqrt(h), 0.1 * rng.standard_normal(k))


def rbf_kernel_vec(size):
    n, m, d = _pick(size, (300, 200, 4), (4_000, 2_000, 8))
    rng = _rng(416)
    return rng.standard_normal((n, d)), rng.standard_normal((m, d)), 0.5


def power_iteration_vec(size):
    n, n_iter = _pick(size, (40, 20), (400, 300))
    rng = _rng(417)
    B = rng.standard_normal((n, n))
    return (B + B.T) / 2.0, rng.standard_normal(n), n_iter


def cosine_similarity_rows_vec(size):
    n, d = _pick(size, (2_000, 16), (400_000, 16))
    rng = _rng(418)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d))


def damped_oscillators_vec(size):
    n, n_steps = _pick(size, (20_000, 10), (500_000, 50))
    rng = _rng(419)
    return rng.standard_normal(n), rng.standard_normal(n), 2.0, 0.05, 0.01, n_steps


def leaky_neurons_vec(size):
    n, n_steps = _pick(size, (20_000, 10), (1_000_000, 20))
    rng = _rng(420)
    return rng.uniform(0.0, 1.0, n), rng.uniform(0.5, 1.5, n), 1.0, 0.02, 0.001, n_steps
