import numpy as np

from heatpkg import stats, stencil
from heatpkg.driver import report, simulate


def test_radial_profile_of_a_uniform_field_is_flat():
    np.testing.assert_allclose(stats.radial_profile(np.full((9, 9), 2.0), 4), 2.0)


def test_the_hot_centre_is_hotter_than_the_rim():
    profile = stats.radial_profile(stencil.initial_state(32), 6)
    assert profile[0] == 1.0 and profile[-1] == 0.0


def test_an_experiment_loses_no_heat_in_a_few_steps():
    u, fluxes = simulate(24, 5)
    assert abs(u.sum() - stencil.initial_state(24).sum()) < 1e-9
    assert len(fluxes) == 5 and report(u, fluxes)["summary"]["max"] <= 1.0


def test_autocorrelation_of_a_period_peaks_at_the_period():
    series = np.tile([1.0, 0.0, -1.0, 0.0], 50)
    acf = stats.autocorrelation(series, 4)
    assert acf[0] == 1.0 and acf[2] < -0.9 and acf[4] > 0.9
