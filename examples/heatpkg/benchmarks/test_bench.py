"""The group's benchmarks: what "fast" means for heatpkg (pytest-benchmark)."""

import numpy as np

from heatpkg import stats, stencil
from heatpkg.driver import simulate

N = 96


def test_diffuse(benchmark):
    u = stencil.initial_state(N)
    out = u.copy()
    benchmark(stencil.diffuse, u, out, 0.2)


def test_heat_flux(benchmark):
    u = stencil.initial_state(N)
    benchmark(stencil.heat_flux, u, 1.0 / N)


def test_radial_profile(benchmark):
    u = stencil.initial_state(N)
    result = benchmark(stats.radial_profile, u, 8)
    assert result.shape == (8,)


def test_autocorrelation(benchmark):
    t = np.arange(4000)
    series = np.sin(t / 40.0) + 0.1 * np.cos(t / 3.0)
    acf = benchmark(stats.autocorrelation, series, 40)
    assert acf[0] == 1.0


def test_simulate(benchmark):
    u, fluxes = benchmark(simulate, 48, 10)
    assert np.isfinite(u).all() and len(fluxes) == 10
