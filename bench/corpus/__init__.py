"""hotpath's benchmark corpus: numeric kernels written the way scientists write them.

Each entry is a :class:`Kernel`: a plain module-level function (its source is retrievable
with ``inspect.getsource``) plus a deterministic builder of its positional arguments.
Pure-Python loop kernels (``style == "loops"``) and NumPy expression kernels
(``style == "vectorized"``) live in the category modules next to this file; argument
builders live in :mod:`bench.corpus.inputs`.

    >>> from bench import corpus
    >>> k = corpus.get("sum_of_squares_loops")
    >>> result = k.fn(*k.make_args("small"))
"""
from dataclasses import dataclass
from typing import Any, Callable

from . import binning, inplace, inputs, integer, loops, reductions, simulation, stencils, vectorized
from . import pattern_inputs, patterns

CATEGORIES = (
    "loop", "stencil", "reduction", "histogram", "vectorized",
    "inplace", "tuple", "integer", "simulation",
)
STYLES = ("loops", "vectorized")
SIZES = inputs.SIZES


@dataclass(frozen=True)
class Kernel:
    name: str
    fn: Callable[..., Any]
    make_args: Callable[[str], tuple]
    category: str
    style: str
    description: str


def _kernel(fn, make_args, category, style):
    description = (fn.__doc__ or "").strip().splitlines()[0]
    return Kernel(fn.__name__, fn, make_args, category, style, description)


KERNELS: tuple[Kernel, ...] = (
    # pure-Python loops
    _kernel(reductions.sum_of_squares_loops, inputs.sum_of_squares, "reduction", "loops"),
    _kernel(reductions.dot_product_loops, inputs.dot_product, "reduction", "loops"),
    _kernel(reductions.trapezoid_integral_loops, inputs.trapezoid_integral, "reduction", "loops"),
    _kernel(reductions.mean_variance_loops, inputs.mean_variance, "tuple", "loops"),
    _kernel(reductions.min_max_argmax_loops, inputs.min_max_argmax, "tuple", "loops"),
    _kernel(stencils.jacobi_step_loops, inputs.jacobi_step, "stencil", "loops"),
    _kernel(stencils.smooth_1d_loops, inputs.smooth_1d, "stencil", "loops"),
    _kernel(stencils.laplacian_3d_loops, inputs.laplacian_3d, "stencil", "loops"),
    _kernel(stencils.game_of_life_step_loops, inputs.game_of_life_step, "stencil", "loops"),
    _kernel(loops.matmul_loops, inputs.matmul, "loop", "loops"),
    _kernel(loops.pairwise_distances_loops, inputs.pairwise_distances, "loop", "loops"),
    _kernel(loops.convolve_1d_loops, inputs.convolve_1d, "loop", "loops"),
    _kernel(loops.mandelbrot_loops, inputs.mandelbrot, "loop", "loops"),
    _kernel(loops.detect_peaks_loops, inputs.detect_peaks, "loop", "loops"),
    _kernel(loops.max_drawdown_loops, inputs.max_drawdown, "loop", "loops"),
    _kernel(loops.kmeans_assign_loops, inputs.kmeans_assign, "loop", "loops"),
    _kernel(binning.histogram_loops, inputs.histogram, "histogram", "loops"),
    _kernel(binning.binned_mean_loops, inputs.binned_mean, "histogram", "loops"),
    _kernel(inplace.cumsum_inplace_loops, inputs.cumsum_inplace, "inplace", "loops"),
    _kernel(inplace.calibrate_image_inplace_loops, inputs.calibrate_image_inplace, "inplace", "loops"),
    _kernel(integer.polynomial_hash_loops, inputs.polynomial_hash, "integer", "loops"),
    _kernel(integer.weighted_mean_timestamp_loops, inputs.weighted_mean_timestamp, "integer", "loops"),
    _kernel(integer.floyd_warshall_loops, inputs.floyd_warshall, "integer", "loops"),
    _kernel(simulation.nbody_step_loops, inputs.nbody_step, "simulation", "loops"),
    _kernel(simulation.heat_equation_1d_loops, inputs.heat_equation_1d, "simulation", "loops"),
    _kernel(simulation.logistic_lyapunov_loops, inputs.logistic_lyapunov, "simulation", "loops"),
    # NumPy expression style
    _kernel(vectorized.pairwise_distances_vec, inputs.pairwise_distances_vec, "vectorized", "vectorized"),
    _kernel(vectorized.laplace_stencil_vec, inputs.laplace_stencil_vec, "stencil", "vectorized"),
    _kernel(vectorized.jacobi_relax_inplace_vec, inputs.jacobi_relax_inplace_vec, "inplace", "vectorized"),
    _kernel(vectorized.wave_packet_energy_vec, inputs.wave_packet_energy_vec, "reduction", "vectorized"),
    _kernel(vectorized.huber_loss_vec, inputs.huber_loss_vec, "vectorized", "vectorized"),
    _kernel(vectorized.display_normalize_vec, inputs.display_normalize_vec, "vectorized", "vectorized"),
    _kernel(vectorized.softmax_rows_vec, inputs.softmax_rows_vec, "vectorized", "vectorized"),
    _kernel(vectorized.logsumexp_rows_vec, inputs.logsumexp_rows_vec, "reduction", "vectorized"),
    _kernel(vectorized.normalized_cross_correlation_vec, inputs.normalized_cross_correlation_vec,
            "reduction", "vectorized"),
    _kernel(vectorized.rms_error_vec, inputs.rms_error_vec, "reduction", "vectorized"),
    _kernel(vectorized.gaussian_kde_vec, inputs.gaussian_kde_vec, "vectorized", "vectorized"),
    _kernel(vectorized.gradient_2d_vec, inputs.gradient_2d_vec, "tuple", "vectorized"),
    _kernel(vectorized.horner_poly_vec, inputs.horner_poly_vec, "vectorized", "vectorized"),
    _kernel(vectorized.black_scholes_call_vec, inputs.black_scholes_call_vec, "vectorized", "vectorized"),
    _kernel(vectorized.fput_verlet_vec, inputs.fput_verlet_vec, "simulation", "vectorized"),
    _kernel(vectorized.zscore_columns_vec, inputs.zscore_columns_vec, "vectorized", "vectorized"),
    # masks, shifted-slice comparisons, axis reductions, running sums, complex fields
    _kernel(patterns.exceedance_fraction_vec, pattern_inputs.exceedance_fraction_vec, "reduction", "vectorized"),
    _kernel(patterns.count_peaks_vec, pattern_inputs.count_peaks_vec, "reduction", "vectorized"),
    _kernel(patterns.find_peaks_vec, pattern_inputs.find_peaks_vec, "vectorized", "vectorized"),
    _kernel(patterns.band_mean_vec, pattern_inputs.band_mean_vec, "tuple", "vectorized"),
    _kernel(patterns.positive_flux_vec, pattern_inputs.positive_flux_vec, "reduction", "vectorized"),
    _kernel(patterns.nearest_centroid_vec, pattern_inputs.nearest_centroid_vec, "vectorized", "vectorized"),
    _kernel(patterns.spectral_tail_energy_vec, pattern_inputs.spectral_tail_energy_vec, "vectorized", "vectorized"),
    _kernel(patterns.cumulative_log_return_vec, pattern_inputs.cumulative_log_return_vec, "vectorized",
            "vectorized"),
    _kernel(patterns.velocity_vec, pattern_inputs.velocity_vec, "stencil", "vectorized"),
    _kernel(patterns.field_intensity_vec, pattern_inputs.field_intensity_vec, "vectorized", "vectorized"),
    _kernel(patterns.mandelbrot_escape_vec, pattern_inputs.mandelbrot_escape_vec, "simulation", "vectorized"),
    _kernel(patterns.logistic_nll_vec, pattern_inputs.logistic_nll_vec, "reduction", "vectorized"),
    _kernel(patterns.wealth_paths_vec, pattern_inputs.wealth_paths_vec, "tuple", "vectorized"),
    # around BLAS products
    _kernel(patterns.dense_relu_vec, pattern_inputs.dense_relu_vec, "vectorized", "vectorized"),
    _kernel(patterns.mlp_forward_vec, pattern_inputs.mlp_forward_vec, "vectorized", "vectorized"),
    _kernel(patterns.rbf_kernel_vec, pattern_inputs.rbf_kernel_vec, "vectorized", "vectorized"),
    _kernel(patterns.power_iteration_vec, pattern_inputs.power_iteration_vec, "simulation", "vectorized"),
    _kernel(patterns.cosine_similarity_rows_vec, pattern_inputs.cosine_similarity_rows_vec, "reduction",
            "vectorized"),
    # time loops around element-wise updates
    _kernel(patterns.damped_oscillators_vec, pattern_inputs.damped_oscillators_vec, "tuple", "vectorized"),
    _kernel(patterns.leaky_neurons_vec, pattern_inputs.leaky_neurons_vec, "simulation", "vectorized"),
)

_BY_NAME = {k.name: k for k in KERNELS}


def get(name: str) -> Kernel:
    """The kernel called ``name``; KeyError listing the known names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no corpus kernel {name!r}; known: {', '.join(sorted(_BY_NAME))}") from None


def by_style(style: str) -> tuple[Kernel, ...]:
    """All kernels of one style ("loops" or "vectorized"), in corpus order."""
    return tuple(k for k in KERNELS if k.style == style)


__all__ = ["Kernel", "KERNELS", "CATEGORIES", "STYLES", "SIZES", "get", "by_style"]
