"""The benchmark corpus: registry contract, determinism, and results checked against NumPy."""
import inspect
import math
import re
import types

import numpy as np
import pytest

from bench import corpus
from bench.corpus import KERNELS

ALL_NAMES = [k.name for k in KERNELS]
OUTPUT_ARGUMENTS = {"jacobi_step_loops": 1}


def run_small(name):
    k = corpus.get(name)
    args = k.make_args("small")
    return k.fn(*args), args


def _leaves(obj):
    if isinstance(obj, tuple):
        for item in obj:
            yield from _leaves(item)
    else:
        yield obj


def _equal(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
            and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    return type(a) is type(b) and a == b


# --- registry contract ---------------------------------------------------------------

def test_registry_shape():
    assert len(set(ALL_NAMES)) == len(ALL_NAMES)
    assert len(corpus.by_style("loops")) >= 15
    assert len(corpus.by_style("vectorized")) >= 10
    assert {k.category for k in KERNELS} == set(corpus.CATEGORIES)
    for k in KERNELS:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", k.name), k.name
        assert k.fn.__name__ == k.name
        assert k.category in corpus.CATEGORIES
        assert k.style in corpus.STYLES
        assert k.description and "\n" not in k.description
        assert corpus.get(k.name) is k
    with pytest.raises(KeyError):
        corpus.get("no_such_kernel")


def test_kernel_is_frozen():
    with pytest.raises(Exception):
        KERNELS[0].name = "renamed"


@pytest.mark.parametrize("name", ALL_NAMES)
def test_source_retrievable_and_module_imports(name):
    k = corpus.get(name)
    src = inspect.getsource(k.fn)
    assert src.startswith(f"def {name}(")
    assert k.fn.__doc__, "every kernel documents what it computes"
    module = inspect.getmodule(k.fn)
    assert module.__name__.startswith("bench.corpus.")
    imported = {v.__name__ for v in vars(module).values() if isinstance(v, types.ModuleType)}
    assert imported <= {"numpy", "math"}, imported
    assert not k.fn.__closure__


def test_style_matches_source():
    for k in KERNELS:
        src = inspect.getsource(k.fn)
        if k.style == "loops":
            assert "for " in src or "while " in src, k.name


@pytest.mark.parametrize("name", ALL_NAMES)
def test_make_args_deterministic(name):
    k = corpus.get(name)
    first, second = k.make_args("small"), k.make_args("small")
    assert isinstance(first, tuple) and len(first) == len(second)
    for a, b in zip(first, second):
        assert _equal(a, b)
        if isinstance(a, np.ndarray):
            assert a is not b
    with pytest.raises(ValueError):
        k.make_args("huge")


@pytest.mark.parametrize("name", ALL_NAMES)
def test_runs_small_and_result_is_sane(name):
    k = corpus.get(name)
    args = k.make_args("small")
    pristine = k.make_args("small")
    result = k.fn(*args)
    if k.category == "inplace":
        assert result is None
        mutated = [not _equal(a, b) for a, b in zip(args, pristine)]
        assert mutated[0] and not any(mutated[1:])
        return
    assert result is not None
    for pos, (a, b) in enumerate(zip(args, pristine)):
        assert _equal(a, b) != (OUTPUT_ARGUMENTS.get(name) == pos), f"{name}: argument {pos}"
    for leaf in _leaves(result):
        if isinstance(leaf, np.ndarray):
            assert leaf.size > 0
            if leaf.dtype.kind == "f":
                assert np.isfinite(leaf).all()
        elif isinstance(leaf, (float, np.floating)):
            assert math.isfinite(leaf)


# --- results against independent NumPy references ---------------------------------

def test_reductions():
    (x,) = corpus.get("sum_of_squares_loops").make_args("small")
    assert corpus.get("sum_of_squares_loops").fn(x) == pytest.approx(np.dot(x, x), rel=1e-12)

    a, b = corpus.get("dot_product_loops").make_args("small")
    assert corpus.get("dot_product_loops").fn(a, b) == pytest.approx(a @ b, rel=1e-10)
    with pytest.raises(ValueError):
        corpus.get("dot_product_loops").fn(a, b[:-1])

    x, y = corpus.get("trapezoid_integral_loops").make_args("small")
    ref = np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2)
    assert corpus.get("trapezoid_integral_loops").fn(x, y) == pytest.approx(ref, rel=1e-10)

    (s,) = corpus.get("mean_variance_loops").make_args("small")
    mean, var = corpus.get("mean_variance_loops").fn(s)
    assert mean == pytest.approx(s.mean(), rel=1e-12)
    assert var == pytest.approx(s.var(ddof=1), rel=1e-9)

    (x,) = corpus.get("min_max_argmax_loops").make_args("small")
    assert corpus.get("min_max_argmax_loops").fn(x) == (x.min(), x.max(), int(np.argmax(x)))
    with pytest.raises(IndexError):
        corpus.get("min_max_argmax_loops").fn(np.empty(0))


def test_stencils():
    u, u_new, f, h = corpus.get("jacobi_step_loops").make_args("small")
    change = corpus.get("jacobi_step_loops").fn(u, u_new, f, h)
    ref = u.copy()
    ref[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] + h * h * f[1:-1, 1:-1])
    np.testing.assert_allclose(u_new, ref, rtol=1e-12, atol=1e-14)
    assert change == pytest.approx(np.abs(ref - u).max(), rel=1e-12)

    (sig,) = corpus.get("smooth_1d_loops").make_args("small")
    out = corpus.get("smooth_1d_loops").fn(sig)
    assert out.dtype == np.float32
    ref = np.convolve(sig.astype(np.float64), [0.25, 0.5, 0.25], mode="same")
    ref[[0, -1]] = sig[[0, -1]]
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)

    u, h = corpus.get("laplacian_3d_loops").make_args("small")
    lap = corpus.get("laplacian_3d_loops").fn(u, h)
    c = u[1:-1, 1:-1, 1:-1]
    ref = (u[:-2, 1:-1, 1:-1] + u[2:, 1:-1, 1:-1] + u[1:-1, :-2, 1:-1] + u[1:-1, 2:, 1:-1]
           + u[1:-1, 1:-1, :-2] + u[1:-1, 1:-1, 2:] - 6 * c) / h**2
    np.testing.assert_allclose(lap[1:-1, 1:-1, 1:-1], ref, rtol=1e-12, atol=1e-10)
    assert not lap[0].any() and not lap[:, :, -1].any()

    (grid,) = corpus.get("game_of_life_step_loops").make_args("small")
    new = corpus.get("game_of_life_step_loops").fn(grid)
    g = grid.astype(int)
    nbrs = sum(np.roll(np.roll(g, di, 0), dj, 1) for di in (-1, 0, 1) for dj in (-1, 0, 1)) - g
    assert new.dtype == np.bool_
    np.testing.assert_array_equal(new, (nbrs == 3) | (grid & (nbrs == 2)))


def test_loops():
    A, B = corpus.get("matmul_loops").make_args("small")
    np.testing.assert_allclose(corpus.get("matmul_loops").fn(A, B), A @ B, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError):
        corpus.get("matmul_loops").fn(A, A)

    (pts,) = corpus.get("pairwise_distances_loops").make_args("small")
    ref = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
    np.testing.assert_allclose(corpus.get("pairwise_distances_loops").fn(pts), ref, rtol=1e-12, atol=1e-12)

    sig, taps = corpus.get("convolve_1d_loops").make_args("small")
    np.testing.assert_allclose(corpus.get("convolve_1d_loops").fn(sig, taps),
                               np.convolve(sig, taps, mode="valid"), rtol=1e-10, atol=1e-12)

    re_axis, im_axis, max_iter = corpus.get("mandelbrot_loops").make_args("small")
    c = re_axis[None, :] + 1j * im_axis[:, None]
    z = np.zeros_like(c)
    counts = np.zeros(c.shape, dtype=np.int64)
    for _ in range(max_iter):
        active = np.abs(z) <= 2.0
        z[active] = z[active] ** 2 + c[active]
        counts += active
    np.testing.assert_array_equal(corpus.get("mandelbrot_loops").fn(re_axis, im_axis, max_iter), counts)

    sig, thr, min_dist = corpus.get("detect_peaks_loops").make_args("small")
    peaks = corpus.get("detect_peaks_loops").fn(sig, thr, min_dist)
    assert peaks.dtype == np.int64 and len(peaks) > 10
    assert (np.diff(peaks) > min_dist).all()
    assert (sig[peaks] > thr).all()
    assert (sig[peaks] > sig[peaks - 1]).all() and (sig[peaks] >= sig[peaks + 1]).all()

    (prices,) = corpus.get("max_drawdown_loops").make_args("small")
    running_peak = np.maximum.accumulate(prices)
    ref = np.max((running_peak - prices) / running_peak)
    assert corpus.get("max_drawdown_loops").fn(prices) == pytest.approx(ref, rel=1e-12)

    X, C = corpus.get("kmeans_assign_loops").make_args("small")
    labels, inertia = corpus.get("kmeans_assign_loops").fn(X, C)
    d2 = ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, d2.argmin(axis=1))
    assert inertia == pytest.approx(d2.min(axis=1).sum(), rel=1e-10)


def test_binning():
    x, lo, hi, n_bins = corpus.get("histogram_loops").make_args("small")
    counts = corpus.get("histogram_loops").fn(x, lo, hi, n_bins)
    ref, _ = np.histogram(np.clip(x, lo, np.nextafter(hi, lo)), bins=n_bins, range=(lo, hi))
    assert counts.dtype == np.int64 and counts.sum() == x.size
    np.testing.assert_array_equal(counts, ref)

    x, values, lo, hi, n_bins = corpus.get("binned_mean_loops").make_args("small")
    means = corpus.get("binned_mean_loops").fn(x, values, lo, hi, n_bins)
    sums, _ = np.histogram(x, bins=n_bins, range=(lo, hi), weights=values)
    n, _ = np.histogram(x, bins=n_bins, range=(lo, hi))
    np.testing.assert_allclose(means, sums / n, rtol=1e-10)
    sparse = corpus.get("binned_mean_loops").fn(np.array([0.5, 0.6]), np.array([1.0, 3.0]), 0.0, 10.0, 10)
    assert sparse[0] == 2.0 and np.isnan(sparse[1:]).all()


def test_inplace():
    (a,) = corpus.get("cumsum_inplace_loops").make_args("small")
    ref = np.cumsum(a)
    assert corpus.get("cumsum_inplace_loops").fn(a) is None
    np.testing.assert_allclose(a, ref, rtol=1e-12)

    image, dark, flat = corpus.get("calibrate_image_inplace_loops").make_args("small")
    ref = np.maximum((image - dark) / flat, np.float32(0))
    corpus.get("calibrate_image_inplace_loops").fn(image, dark, flat)
    assert image.dtype == np.float32
    np.testing.assert_allclose(image, ref, rtol=1e-6)
    assert (image == 0).any()


def test_integer_kernels_need_unbounded_ints():
    (tokens,) = corpus.get("polynomial_hash_loops").make_args("small")
    h = corpus.get("polynomial_hash_loops").fn(tokens)
    modulus = (1 << 61) - 1
    ref = 0
    for t in tokens.tolist():
        ref = (ref * 131 + t) % modulus
    assert type(h) is int and h == ref
    wrapped = 0
    for t in tokens.tolist():
        wrapped = ((wrapped * 131 + t + 2**63) % 2**64 - 2**63) % modulus
    assert wrapped != ref, "int64 arithmetic must give a different hash"

    counts, stamps = corpus.get("weighted_mean_timestamp_loops").make_args("small")
    mean_ns = corpus.get("weighted_mean_timestamp_loops").fn(counts, stamps)
    exact = sum(c * t for c, t in zip(counts.tolist(), stamps.tolist()))
    assert exact > 2**63
    assert type(mean_ns) is int and mean_ns == exact // sum(counts.tolist())
    assert stamps[0] <= mean_ns <= stamps[-1]
    with pytest.raises(ZeroDivisionError):
        corpus.get("weighted_mean_timestamp_loops").fn(np.zeros(3, np.int64), stamps[:3])

    (w,) = corpus.get("floyd_warshall_loops").make_args("small")
    before = w.copy()
    dist = corpus.get("floyd_warshall_loops").fn(w)
    np.testing.assert_array_equal(w, before)
    ref = w.copy()
    for k in range(len(ref)):
        ref = np.minimum(ref, ref[:, k, None] + ref[None, k, :])
    assert dist.dtype == np.int64
    np.testing.assert_array_equal(np.minimum(dist, 10**12), np.minimum(ref, 10**12))


def test_simulations():
    pos, vel, mass, dt, eps = corpus.get("nbody_step_loops").make_args("small")
    new_pos, new_vel = corpus.get("nbody_step_loops").fn(pos, vel, mass, dt, eps)

    def acc(p):
        d = p[None, :, :] - p[:, None, :]
        r2 = (d**2).sum(-1) + eps**2
        np.fill_diagonal(r2, np.inf)
        return (d * (mass[None, :] / r2**1.5)[:, :, None]).sum(1)

    v_half = vel + 0.5 * dt * acc(pos)
    ref_pos = pos + dt * v_half
    np.testing.assert_allclose(new_pos, ref_pos, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(new_vel, v_half + 0.5 * dt * acc(ref_pos), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose((mass[:, None] * new_vel).sum(0), (mass[:, None] * vel).sum(0), atol=1e-13)

    u0, alpha, dx, dt, n_steps = corpus.get("heat_equation_1d_loops").make_args("small")
    u = corpus.get("heat_equation_1d_loops").fn(u0, alpha, dx, dt, n_steps)
    ref = u0.copy()
    for _ in range(n_steps):
        ref[1:-1] = ref[1:-1] + alpha * dt / dx**2 * (ref[:-2] - 2 * ref[1:-1] + ref[2:])
    np.testing.assert_allclose(u, ref, rtol=1e-12, atol=1e-14)

    r, x0, n_transient, n_iter = corpus.get("logistic_lyapunov_loops").make_args("small")
    lyap = corpus.get("logistic_lyapunov_loops").fn(r, x0, n_transient, n_iter)
    x = np.full_like(r, x0)
    for _ in range(n_transient):
        x = r * x * (1 - x)
    total = np.zeros_like(r)
    for _ in range(n_iter):
        x = r * x * (1 - x)
        total += np.log(np.abs(r * (1 - 2 * x)))
    np.testing.assert_allclose(lyap, total / n_iter, rtol=1e-9, atol=1e-12)
    assert (lyap[r < 2.9] < 0).all() and lyap[-1] > 0.5


def test_vectorized_against_references():
    (X,) = corpus.get("pairwise_distances_vec").make_args("small")
    D = corpus.get("pairwise_distances_vec").fn(X)
    i, j = 3, 17
    assert D[i, j] == pytest.approx(math.dist(X[i], X[j]), rel=1e-12)
    np.testing.assert_allclose(D, D.T)
    assert not np.diag(D).any()

    (u,) = corpus.get("laplace_stencil_vec").make_args("small")
    out = corpus.get("laplace_stencil_vec").fn(u)
    assert out[5, 7] == pytest.approx(0.25 * (u[4, 7] + u[6, 7] + u[5, 6] + u[5, 8]))
    np.testing.assert_array_equal(out[0], u[0])

    u, sweeps = corpus.get("jacobi_relax_inplace_vec").make_args("small")
    ref = u.copy()
    for _ in range(sweeps):
        ref = corpus.get("laplace_stencil_vec").fn(ref)
    corpus.get("jacobi_relax_inplace_vec").fn(u, sweeps)
    np.testing.assert_array_equal(u, ref)

    (x,) = corpus.get("wave_packet_energy_vec").make_args("small")
    ref = math.fsum(math.exp(-v * v) * math.sin(3 * v) + 0.5 * math.cos(v) ** 2 for v in x[:2000].tolist())
    assert corpus.get("wave_packet_energy_vec").fn(x[:2000]) == pytest.approx(ref, rel=1e-12)

    r, delta = corpus.get("huber_loss_vec").make_args("small")
    ref = np.mean([0.5 * v * v if abs(v) <= delta else delta * (abs(v) - delta / 2) for v in r[:1000].tolist()])
    assert corpus.get("huber_loss_vec").fn(r[:1000], delta) == pytest.approx(ref, rel=1e-12)

    image, lo, hi, gamma = corpus.get("display_normalize_vec").make_args("small")
    out = corpus.get("display_normalize_vec").fn(image, lo, hi, gamma)
    np.testing.assert_allclose(out, ((np.clip(image, lo, hi) - lo) / (hi - lo)) ** (1 / gamma), rtol=1e-12)
    assert out.min() == 0.0 and out.max() == 1.0

    (logits,) = corpus.get("softmax_rows_vec").make_args("small")
    p = corpus.get("softmax_rows_vec").fn(logits)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.log(p[:, 0] / p[:, 1]), logits[:, 0] - logits[:, 1], rtol=1e-9, atol=1e-9)

    (a,) = corpus.get("logsumexp_rows_vec").make_args("small")
    lse = corpus.get("logsumexp_rows_vec").fn(a)
    assert np.isfinite(lse).all() and (lse >= a.max(axis=1)).all()
    np.testing.assert_allclose(corpus.get("logsumexp_rows_vec").fn(a / 50), np.log(np.exp(a / 50).sum(1)), rtol=1e-12)

    a, b = corpus.get("normalized_cross_correlation_vec").make_args("small")
    assert corpus.get("normalized_cross_correlation_vec").fn(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], rel=1e-10)

    pred, obs = corpus.get("rms_error_vec").make_args("small")
    rms = corpus.get("rms_error_vec").fn(pred, obs)
    assert rms.dtype == np.float32
    ref = math.sqrt(np.mean((pred.astype(np.float64) - obs.astype(np.float64)) ** 2))
    assert rms == pytest.approx(ref, rel=1e-4)

    samples, grid, bw = corpus.get("gaussian_kde_vec").make_args("small")
    dens = corpus.get("gaussian_kde_vec").fn(samples, grid, bw)
    assert np.sum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid)) == pytest.approx(1.0, abs=1e-3)
    g = grid[40]
    ref = sum(math.exp(-0.5 * ((g - s) / bw) ** 2) for s in samples.tolist()) / (len(samples) * bw * math.sqrt(2 * math.pi))
    assert dens[40] == pytest.approx(ref, rel=1e-10)

    f, dy, dx = corpus.get("gradient_2d_vec").make_args("small")
    gy, gx = corpus.get("gradient_2d_vec").fn(f, dy, dx)
    ref_y, ref_x = np.gradient(f, dy, dx)
    np.testing.assert_allclose(gy, ref_y, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gx, ref_x, rtol=1e-10, atol=1e-10)

    coeffs, x = corpus.get("horner_poly_vec").make_args("small")
    np.testing.assert_allclose(corpus.get("horner_poly_vec").fn(coeffs, x), np.polyval(coeffs, x), rtol=1e-12, atol=1e-12)

    spot, strike, T, rate, vol = corpus.get("black_scholes_call_vec").make_args("small")
    price = corpus.get("black_scholes_call_vec").fn(spot, strike, T, rate, vol)

    def phi(v):
        return 0.5 * (1 + math.erf(v / math.sqrt(2)))

    for i in range(0, len(spot), len(spot) // 50):
        d1 = (math.log(spot[i] / strike[i]) + (rate + vol**2 / 2) * T[i]) / (vol * math.sqrt(T[i]))
        d2 = d1 - vol * math.sqrt(T[i])
        ref = spot[i] * phi(d1) - strike[i] * math.exp(-rate * T[i]) * phi(d2)
        assert price[i] == pytest.approx(ref, abs=3e-5)
    assert (price >= np.maximum(spot - strike * np.exp(-rate * T), 0) - 1e-5).all()

    x, v, mass, beta, dt, n_steps = corpus.get("fput_verlet_vec").make_args("small")

    def energy(x, v):
        d = np.diff(x)
        return 0.5 * mass * np.sum(v**2) + np.sum(0.5 * d**2 + 0.25 * beta * d**4)

    x1, v1 = corpus.get("fput_verlet_vec").fn(x, v, mass, beta, dt, n_steps)
    assert x1[0] == x1[-1] == 0.0 and not np.array_equal(x1, x)
    assert energy(x1, v1) == pytest.approx(energy(x, v), rel=1e-4)

    (X,) = corpus.get("zscore_columns_vec").make_args("small")
    Z = corpus.get("zscore_columns_vec").fn(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-12)


def test_time_loops_against_element_by_element_references():
    x, v, omega, damping, dt, n_steps = corpus.get("damped_oscillators_vec").make_args("small")
    got_x, got_v = corpus.get("damped_oscillators_vec").fn(x, v, omega, damping, dt, n_steps)
    for i in (0, 7, len(x) - 1):
        xi, vi = float(x[i]), float(v[i])
        for _ in range(n_steps):
            vi += dt * (-omega * omega * xi - damping * vi)
            xi += dt * vi
        assert got_x[i] == pytest.approx(xi, rel=1e-12) and got_v[i] == pytest.approx(vi, rel=1e-12)

    v, current, threshold, tau, dt, n_steps = corpus.get("leaky_neurons_vec").make_args("small")
    out = corpus.get("leaky_neurons_vec").fn(v, current, threshold, tau, dt, n_steps)
    assert ((out >= 0.0) & (out < threshold)).all()
    for i in (0, 11, len(v) - 1):
        vi = float(v[i])
        for _ in range(n_steps):
            vi = vi + dt / tau * (float(current[i]) - vi)
            vi = 0.0 if vi >= threshold else vi
        assert out[i] == pytest.approx(vi, rel=1e-12, abs=1e-15)
