"""NumPy-style kernels the rewriter was never tuned against: a check that the fused rewrite generalises.

Written as lab code is written (slices, broadcasting, ufunc chains, ``np.where`` masks, reductions
with ``axis``/``keepdims``), before reading the devectorize rules; none is in
``bench/corpus/vectorized.py``. ``python -m bench.heldout.run_vectorized`` tunes them.
Each input builder takes a size ("small" or "bench", as in ``bench/corpus/inputs.py``); at bench
size one NumPy call takes roughly 20-200 ms here.
"""
import numpy as np

from bench.corpus import Kernel
from bench.corpus.inputs import _pick, _rng


def upwind_advection_vec(u0, velocity, dt, dx, n_steps):
    """``n_steps`` of first-order upwind advection u_t + c u_x = 0 (c > 0); inflow value held."""
    u = u0.copy()
    courant = velocity * dt / dx
    for _ in range(n_steps):
        u[1:] = u[1:] - courant * (u[1:] - u[:-1])
    return u


def diffusion_step_2d_vec(T, alpha, dt, dx):
    """One explicit (FTCS) step of the heat equation on a square grid; Dirichlet edges kept."""
    r = alpha * dt / dx**2
    T_new = T.copy()
    T_new[1:-1, 1:-1] = T[1:-1, 1:-1] + r * (
        T[2:, 1:-1] + T[:-2, 1:-1] + T[1:-1, 2:] + T[1:-1, :-2] - 4 * T[1:-1, 1:-1]
    )
    return T_new


def rbf_kernel_matrix_vec(X, Y, gamma):
    """Gaussian (RBF) kernel matrix K[i, j] = exp(-gamma * |x_i - y_j|^2) by broadcasting."""
    diff = X[:, np.newaxis, :] - Y[np.newaxis, :, :]
    return np.exp(-gamma * np.sum(diff**2, axis=-1))


def logistic_loss_vec(w, b, X, y):
    """Mean binary cross-entropy of a logistic-regression model, probabilities clipped away from 0/1."""
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    p = np.clip(p, 1e-12, 1.0 - 1e-12)
    return -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)).mean()


def rms_normalize_rows_vec(X, gain, eps):
    """RMSNorm: scale each row to unit root-mean-square, then by a per-feature gain."""
    rms = np.sqrt(np.mean(X**2, axis=1, keepdims=True) + eps)
    return X / rms * gain


def gradient_magnitude_vec(f, dx, dy, g_max):
    """|grad f| by central differences on the interior of a 2-D field, clipped at ``g_max``."""
    gx = (f[1:-1, 2:] - f[1:-1, :-2]) / (2.0 * dx)
    gy = (f[2:, 1:-1] - f[:-2, 1:-1]) / (2.0 * dy)
    return np.minimum(np.hypot(gx, gy), g_max)


def weighted_variance_vec(x, w):
    """Weighted mean and variance of the finite samples with positive weight (others masked out)."""
    valid = np.isfinite(x) & (w > 0)
    ww = np.where(valid, w, 0.0)
    xx = np.where(valid, x, 0.0)
    total = ww.sum()
    mean = (ww * xx).sum() / total
    var = (ww * (xx - mean) ** 2).sum() / total
    return mean, var


def rosenbrock_vec(x):
    """The N-dimensional Rosenbrock function, written as scipy.optimize.rosen is."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0, axis=0)


def kmeans_assign_vec(X, centroids):
    """Index of the nearest centroid for every sample (squared distances by the dot-product expansion)."""
    d2 = (np.sum(X ** 2, axis=1)[:, None] - 2.0 * X @ centroids.T
          + np.sum(centroids ** 2, axis=1)[None, :])
    return np.argmin(d2, axis=1)


def attention_vec(Q, K, V):
    """Scaled dot-product attention of one head: softmax(Q K^T / sqrt(d)) V."""
    scores = Q @ K.T / np.sqrt(Q.shape[1])
    scores = scores - scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights @ V


# inputs --------------------------------------------------------------------------------

def _upwind_advection(size):
    n, steps = _pick(size, (20_000, 5), (400_000, 30))
    x = np.linspace(0.0, 1.0, n)
    u0 = np.exp(-((x - 0.3) / 0.05) ** 2)
    return (u0, 1.0, 0.4 / (n - 1), 1.0 / (n - 1), steps)


def _diffusion_step_2d(size):
    n = _pick(size, 200, 3_000)
    T = _rng(901).random((n, n))
    T[0, :] = 1.0
    return (T, 1.0, 0.2 / (n - 1) ** 2, 1.0 / (n - 1))


def _rbf_kernel_matrix(size):
    n, m, d = _pick(size, (150, 120, 4), (1_000, 800, 4))
    return (_rng(902).standard_normal((n, d)), _rng(903).standard_normal((m, d)), 0.5)


def _logistic_loss(size):
    n, d = _pick(size, (5_000, 10), (2_000_000, 10))
    X = _rng(904).standard_normal((n, d))
    w = _rng(905).standard_normal(d)
    y = (X @ w + 0.5 * _rng(906).standard_normal(n) > 0).astype(np.float64)
    return (0.5 * w, 0.1, X, y)


def _rms_normalize_rows(size):
    n, d = _pick(size, (2_000, 64), (60_000, 256))
    return (3.0 * _rng(907).standard_normal((n, d)), 1.0 + 0.1 * _rng(908).standard_normal(d), 1e-6)


def _gradient_magnitude(size):
    n = _pick(size, 200, 2_000)
    y, x = np.mgrid[0:n, 0:n] / n
    f = np.sin(8 * x) * np.cos(5 * y) + 0.01 * _rng(909).standard_normal((n, n))
    return (f, 1.0 / n, 1.0 / n, 20.0)


def _weighted_variance(size):
    n = _pick(size, 50_000, 4_000_000)
    x = _rng(910).standard_normal(n)
    x[::97] = np.nan
    w = _rng(911).random(n) - 0.05
    return (x, w)


def _rosenbrock(size):
    n = _pick(size, 50_000, 4_000_000)
    return (_rng(912).uniform(-2.0, 2.0, n),)


def _kmeans_assign(size):
    n, k, d = _pick(size, (5_000, 8, 4), (200_000, 32, 8))
    return (_rng(913).standard_normal((n, d)), _rng(914).standard_normal((k, d)))


def _attention(size):
    n, d = _pick(size, (128, 16), (2_048, 64))
    return tuple(_rng(915 + i).standard_normal((n, d)) for i in range(3))


def _kernel(fn, make_args, category):
    return Kernel(fn.__name__, fn, make_args, category, "vectorized", fn.__doc__.strip().splitlines()[0])


KERNELS = (
    _kernel(upwind_advection_vec, _upwind_advection, "inplace"),
    _kernel(diffusion_step_2d_vec, _diffusion_step_2d, "stencil"),
    _kernel(rbf_kernel_matrix_vec, _rbf_kernel_matrix, "vectorized"),
    _kernel(logistic_loss_vec, _logistic_loss, "reduction"),
    _kernel(rms_normalize_rows_vec, _rms_normalize_rows, "vectorized"),
    _kernel(gradient_magnitude_vec, _gradient_magnitude, "stencil"),
    _kernel(weighted_variance_vec, _weighted_variance, "tuple"),
    _kernel(rosenbrock_vec, _rosenbrock, "reduction"),
    _kernel(kmeans_assign_vec, _kmeans_assign, "vectorized"),
    _kernel(attention_vec, _attention, "vectorized"),
)
