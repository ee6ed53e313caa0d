"""NumPy kernels of the patterns fused loops pay most on: masks feeding counts and reductions,
comparisons of shifted slices, reductions along an axis, running sums, complex fields, and
learning and linear-algebra code around BLAS products (layers, kernel matrices, power iteration).

Written as analysis and simulation code usually is: a boolean mask named and reduced, peaks
found by comparing a signal with its neighbours, ``argmin`` over broadcast distances.
"""
import numpy as np


def exceedance_fraction_vec(temperature, threshold):
    """Fraction of the days each station (row) is above a threshold."""
    hot = temperature > threshold
    return np.count_nonzero(hot, axis=1) / temperature.shape[1]


def count_peaks_vec(signal, min_height):
    """Number of local maxima of a signal that rise above ``min_height``."""
    inner = signal[1:-1]
    peaks = (inner > signal[:-2]) & (inner > signal[2:]) & (inner > min_height)
    return np.count_nonzero(peaks)


def find_peaks_vec(signal):
    """Indices of the strict local maxima of a 1-d signal."""
    return np.nonzero((signal[1:-1] > signal[:-2]) & (signal[1:-1] > signal[2:]))[0] + 1


def band_mean_vec(values, lo, hi):
    """Mean and peak of the samples inside the band (lo, hi); NaNs fail the comparison and drop out."""
    band = (values > lo) & (values < hi)
    mean = values[band].mean()
    peak = values[band].max()
    return mean, peak


def positive_flux_vec(flux, dt):
    """Energy delivered by the positive part of a flux time series (negative flux clipped)."""
    return np.where(flux > 0.0, flux * dt, 0.0).sum()


def nearest_centroid_vec(X, centroids):
    """k-means assignment step: index of the nearest centroid of every sample."""
    d2 = ((X[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1)
    return np.argmin(d2, axis=1)


def spectral_tail_energy_vec(amplitude):
    """Energy at or above each frequency bin of a spectrum (a reversed cumulative sum)."""
    return np.cumsum((amplitude ** 2)[::-1])[::-1]


def cumulative_log_return_vec(prices):
    """Cumulative log return of a price series."""
    return np.cumsum(np.log(prices[1:] / prices[:-1]))


def velocity_vec(position, dt):
    """Finite-difference velocity of a sampled trajectory."""
    return np.diff(position) / dt


def field_intensity_vec(amplitude, phase):
    """Intensity |E|^2 of a complex field with given amplitude and phase."""
    field = amplitude * np.exp(1j * phase)
    return (field * np.conj(field)).real


def mandelbrot_escape_vec(c, n_iter):
    """Escape-time counts of the Mandelbrot iteration on a grid of complex points."""
    z = np.zeros_like(c)
    counts = np.zeros(c.shape, dtype=np.int64)
    for _ in range(n_iter):
        inside = np.abs(z) <= 2.0
        z = np.where(inside, z * z + c, z)
        counts += inside
    return counts


def logistic_nll_vec(X, w, y):
    """Negative log-likelihood of a logistic regression with labels in {-1, 1} (BLAS inside)."""
    margin = y * (X @ w)
    return np.sum(np.log1p(np.exp(-margin)))


def wealth_paths_vec(returns):
    """Wealth path of every asset (column) from its daily returns, and the day each one peaked."""
    wealth = np.cumprod(1.0 + returns, axis=0)
    return wealth, np.argmax(wealth, axis=0)


# -- around BLAS products: the product stays NumPy's, the element-wise work around it fuses -------
def dense_relu_vec(X, W, b):
    """A fully connected layer with a ReLU: matrix product, bias, activation."""
    return np.maximum(X @ W + b, 0.0)


def mlp_forward_vec(X, W1, b1, W2, b2):
    """A two-layer perceptron: tanh hidden layer, linear output."""
    hidden = np.tanh(X @ W1 + b1)
    return hidden @ W2 + b2


def rbf_kernel_vec(X, Y, gamma):
    """Gaussian kernel matrix between two point sets, by the |x|^2 + |y|^2 - 2 x.y expansion."""
    sq_dist = np.sum(X * X, axis=1)[:, None] + np.sum(Y * Y, axis=1)[None, :] - 2.0 * (X @ Y.T)
    return np.exp(-gamma * np.maximum(sq_dist, 0.0))


def power_iteration_vec(A, v, n_iter):
    """The dominant eigenvalue of a symmetric matrix, by power iteration."""
    for _ in range(n_iter):
        w = A @ v
        v = w / np.sqrt(np.sum(w * w))
    return v @ (A @ v)


def cosine_similarity_rows_vec(X, Y):
    """Cosine similarity of matching rows (embeddings: short rows, many of them)."""
    dots = np.sum(X * Y, axis=1)
    return dots / (np.sqrt(np.sum(X * X, axis=1)) * np.sqrt(np.sum(Y * Y, axis=1)))


# -- loops over time steps around element-wise updates: NumPy makes a pass per step --------------
def damped_oscillators_vec(x, v, omega, damping, dt, n_steps):
    """Independent damped oscillators advanced by semi-implicit Euler steps."""
    for _ in range(n_steps):
        a = -omega * omega * x - damping * v
        v = v + dt * a
        x = x + dt * v
    return x, v


def leaky_neurons_vec(v, current, threshold, tau, dt, n_steps):
    """Leaky integrate-and-fire membrane potentials, reset to zero when they cross the threshold."""
    for _ in range(n_steps):
        v = v + dt / tau * (current - v)
        v = np.where(v >= threshold, 0.0, v)
    return v
