import numpy as np

from heatpkg import stencil


def test_diffuse_keeps_the_edges_and_smooths_the_interior():
    u = stencil.initial_state(16)
    out = u.copy()
    stencil.diffuse(u, out, 0.2)
    assert np.array_equal(out[0], u[0]) and np.array_equal(out[:, -1], u[:, -1])
    assert out.max() <= 1.0 and out[4, 4] < 1.0


def test_diffuse_matches_the_vectorised_formula():
    rng = np.random.default_rng(0)
    u = rng.random((12, 9))
    out = u.copy()
    stencil.diffuse(u, out, 0.1)
    lap = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4 * u[1:-1, 1:-1]
    np.testing.assert_allclose(out[1:-1, 1:-1], u[1:-1, 1:-1] + 0.1 * lap)


def test_a_uniform_field_has_no_flux():
    assert stencil.heat_flux(np.full((10, 10), 3.0), 0.1) == 0.0
