"""Module-sized ocean-model kernels: constants, NumPy-style helpers, many arrays updated in place.

Written the way a modeller writes a physics module (none copied from a public model): dozens of
module-level float constants, module-level helpers in NumPy style (an elementwise ``np.where``
limiter, a flux limiter, a tridiagonal Thomas solve along the last axis looping over levels with
slices), and a long main routine that updates several 3-D and 4-D arguments in place through
slices; plus a 48-term equation-of-state polynomial in three variables as nested NumPy expressions.

Sizes: "small" is 64k grid points (40 x 40 x 40), "bench" about 1M (100 x 100 x 100).
``python -m bench.heldout.run_ocean`` tunes them.
"""
import numpy as np

from bench.corpus import Kernel
from bench.corpus.inputs import _pick, _rng

# --- physical constants and parameters -----------------------------------------------------------
grav = 9.81
rho_0 = 1024.0
cp_0 = 3991.86795711963
kappa_min = 1.0e-6
kappa_max = 1.0e-1
visc_min = 1.0e-5
tke_min = 1.0e-6
c_k = 0.1
c_eps = 0.7
alpha_tke = 30.0
mxl_min = 1.0e-8
prandtl_max = 10.0
tke_surf_min = 1.0e-4
drag_coeff = 1.0e-3
dt_tracer = 1800.0
dt_tke = 1800.0
kappa_gm_max = 1000.0
slope_max = 1.0e-2
epsln = 1.0e-20

# --- equation of state: 48 coefficients of a polynomial in (salinity, temperature, pressure) ------
s_fac = 0.0248826675584615
s_off = 5.971840214030754e-1
v000 = 1.0769995862e-3
v001 = -6.0799143809e-5
v002 = 9.9856169219e-6
v003 = -1.1309361437e-6
v004 = 1.0531153080e-7
v010 = -1.5649734675e-5
v011 = 1.8505765429e-5
v012 = -1.1736386731e-6
v013 = -3.6527006553e-7
v014 = 3.1454099902e-7
v020 = 2.7762106484e-5
v021 = -1.1716606853e-5
v022 = 2.1305028740e-6
v023 = 2.8695905159e-7
v030 = -1.6521159259e-5
v031 = 7.9279656173e-6
v032 = -4.6132540037e-7
v040 = 6.9111322702e-6
v041 = -3.4102187482e-6
v042 = -6.3352916514e-8
v050 = -8.0539615540e-7
v051 = 5.0736766814e-7
v060 = 2.0543094268e-7
v100 = -3.1038981976e-4
v101 = 2.4262468747e-5
v102 = -5.8484432984e-7
v103 = 5.7198044542e-7
v104 = -1.2408916612e-7
v110 = 3.5009599764e-5
v111 = -9.5677088156e-6
v112 = -5.5699154557e-6
v113 = -2.7295696237e-7
v120 = -3.7435842344e-5
v121 = -2.3678308361e-7
v122 = 3.9137387080e-7
v130 = 2.4141479483e-5
v131 = -3.4558773655e-6
v132 = 7.7618888092e-9
v140 = -8.7595873154e-6
v141 = 1.2956717783e-6
v150 = -3.3052758900e-7
v200 = 6.6928067038e-4
v201 = -3.4792460974e-5
v202 = -4.8122251597e-6
v203 = 1.6746303780e-8
v210 = -4.3592678561e-5
v211 = 1.1100834765e-5
v212 = 5.4620748834e-6
v220 = 3.5907822760e-5


def specific_volume(sa, ct, p):
    """Specific volume (m^3/kg) from absolute salinity, conservative temperature and pressure (dbar),
    a 48-term polynomial in x = sqrt(s_fac * sa + s_off), y = ct / 40 and z = p / 1e4."""
    x = np.sqrt(s_fac * sa + s_off)
    y = ct * 0.025
    z = p * 1e-4
    return (v000 + x * (v100 + x * (v200 + x * (v201 * z + v202 * z * z + v203 * z * z * z)))
            + y * (v010 + x * (v110 + x * (v210 + v211 * z + v212 * z * z))
                   + y * (v020 + x * (v120 + v121 * z + v122 * z * z + x * v220)
                          + y * (v030 + x * (v130 + v131 * z + v132 * z * z)
                                 + y * (v040 + x * (v140 + v141 * z)
                                        + y * (v050 + x * v150 + v051 * z + y * v060))
                                 + z * (v031 + v032 * z))
                          + z * (v021 + v022 * z + v023 * z * z))
                   + z * (v011 + v012 * z + v013 * z * z + v014 * z * z * z)
                   + v041 * z * y * y * y + v042 * z * z * y * y * y)
            + x * z * (v101 + v102 * z + v103 * z * z + v104 * z * z * z)
            + x * y * z * (v111 + v112 * z + v113 * z * z)
            + z * (v001 + z * (v002 + z * (v003 + v004 * z))))


def in_situ_density(sa, ct, p):
    """In-situ density (kg/m^3) of sea water on a 3-D grid: one over the polynomial specific volume."""
    return 1.0 / specific_volume(sa, ct, p)


# --- helpers of the mixing module ----------------------------------------------------------------

def limit_positive(x, floor):
    """``x`` where it exceeds ``floor``, else ``floor`` (kept as a ``where`` as the model writes it)."""
    return np.where(x > floor, x, floor)


def superbee(r):
    """Superbee flux limiter of the ratio of consecutive gradients."""
    return np.maximum(0.0, np.maximum(np.minimum(2.0 * r, 1.0), np.minimum(r, 2.0)))


def solve_tridiagonal(a, b, c, d):
    """Thomas algorithm along the last axis: a sub-, b main, c super-diagonal, d right-hand side."""
    n = a.shape[-1]
    cp = np.zeros_like(a)
    dp = np.zeros_like(a)
    x = np.zeros_like(a)
    cp[..., 0] = c[..., 0] / b[..., 0]
    dp[..., 0] = d[..., 0] / b[..., 0]
    for k in range(1, n):
        denom = b[..., k] - a[..., k] * cp[..., k - 1]
        cp[..., k] = c[..., k] / denom
        dp[..., k] = (d[..., k] - a[..., k] * dp[..., k - 1]) / denom
    x[..., n - 1] = dp[..., n - 1]
    for k in range(n - 2, -1, -1):
        x[..., k] = dp[..., k] - cp[..., k] * x[..., k + 1]
    return x


def vertical_mixing_step(u, v, temp, salt, tke, kappa_m, kappa_h, dzt, dzw, mask, forc_tke,
                         tau, taup1):
    """One step of a TKE closure and implicit vertical tracer diffusion, updating in place.

    ``u``, ``v``, ``temp``, ``salt`` and ``tke`` are (nx, ny, nz, 2) with two time levels; ``tau``
    is the current level and ``taup1`` the new one. ``kappa_m``, ``kappa_h`` (nx, ny, nz) receive
    the new viscosity and diffusivity; ``mask`` is 1 over water and 0 over land; ``dzt``/``dzw``
    are the cell and interface thicknesses; ``forc_tke`` the surface TKE flux (nx, ny).
    Returns the domain-mean dissipation.
    """
    nz = u.shape[2]
    # vertical shear at cell interfaces
    du = np.zeros_like(kappa_m)
    dv = np.zeros_like(kappa_m)
    du[:, :, :-1] = (u[:, :, 1:, tau] - u[:, :, :-1, tau]) / dzw[np.newaxis, np.newaxis, :-1]
    dv[:, :, :-1] = (v[:, :, 1:, tau] - v[:, :, :-1, tau]) / dzw[np.newaxis, np.newaxis, :-1]
    shear2 = du * du + dv * dv

    # buoyancy frequency from a linearised density
    rho = rho_0 * (1.0 - 2.0e-4 * (temp[:, :, :, tau] - 10.0) + 7.6e-4 * (salt[:, :, :, tau] - 35.0))
    n2 = np.zeros_like(kappa_m)
    n2[:, :, :-1] = -grav / rho_0 * (rho[:, :, 1:] - rho[:, :, :-1]) / dzw[np.newaxis, np.newaxis, :-1]
    n2 = limit_positive(n2, 1.0e-12)

    # mixing length: distance to the surface and bottom, limited by stratification
    tke_now = limit_positive(tke[:, :, :, tau], tke_min)
    depth = np.cumsum(dzt)
    mxl = np.minimum(depth[np.newaxis, np.newaxis, :], depth[-1] - depth[np.newaxis, np.newaxis, :] + dzt[-1])
    mxl = np.minimum(mxl, np.sqrt(2.0 * tke_now) / np.sqrt(n2))
    mxl = limit_positive(mxl, mxl_min)
    sqrttke = np.sqrt(tke_now)

    # viscosity and diffusivity with a Prandtl number from the Richardson number
    km = c_k * mxl * sqrttke
    km = np.minimum(kappa_max, np.maximum(visc_min, km))
    richardson = n2 / np.maximum(shear2, 1.0e-12)
    prandtl = np.minimum(prandtl_max, np.maximum(1.0, 6.6 * richardson))
    kh = np.minimum(kappa_max, np.maximum(kappa_min, km / prandtl))
    kappa_m[...] = km * mask
    kappa_h[...] = kh * mask

    # sources and sinks of TKE
    production = km * shear2 - kh * n2
    dissipation = c_eps * tke_now * sqrttke / mxl
    rhs = tke[:, :, :, tau] + dt_tke * (production - dissipation) * mask
    rhs[:, :, -1] = rhs[:, :, -1] + dt_tke * forc_tke / dzw[-1]

    # implicit vertical diffusion of TKE
    ksurf = alpha_tke * km
    a_tri = np.zeros_like(rhs)
    b_tri = np.ones_like(rhs)
    c_tri = np.zeros_like(rhs)
    a_tri[:, :, 1:] = -dt_tke * ksurf[:, :, :-1] / (dzt[np.newaxis, np.newaxis, 1:] * dzw[np.newaxis, np.newaxis, :-1])
    c_tri[:, :, :-1] = -dt_tke * ksurf[:, :, :-1] / (dzt[np.newaxis, np.newaxis, :-1] * dzw[np.newaxis, np.newaxis, :-1])
    b_tri[:, :, :] = 1.0 - a_tri - c_tri
    tke[:, :, :, taup1] = limit_positive(solve_tridiagonal(a_tri, b_tri, c_tri, rhs), tke_min) * mask

    # surface TKE floor from the wind
    tke[:, :, -1, taup1] = np.maximum(tke[:, :, -1, taup1], tke_surf_min * mask[:, :, -1])

    # implicit vertical diffusion of temperature and salinity with the new diffusivity
    a_tri[:, :, 1:] = -dt_tracer * kh[:, :, :-1] / (dzt[np.newaxis, np.newaxis, 1:] * dzw[np.newaxis, np.newaxis, :-1])
    c_tri[:, :, :-1] = -dt_tracer * kh[:, :, :-1] / (dzt[np.newaxis, np.newaxis, :-1] * dzw[np.newaxis, np.newaxis, :-1])
    c_tri[:, :, -1] = 0.0
    b_tri[:, :, :] = 1.0 - a_tri - c_tri
    temp[:, :, :, taup1] = solve_tridiagonal(a_tri, b_tri, c_tri, temp[:, :, :, tau]) * mask \
        + temp[:, :, :, tau] * (1.0 - mask)
    salt[:, :, :, taup1] = solve_tridiagonal(a_tri, b_tri, c_tri, salt[:, :, :, tau]) * mask \
        + salt[:, :, :, tau] * (1.0 - mask)

    # horizontal advection of TKE with a limited upwind scheme (zonal direction)
    flux = np.zeros_like(rhs)
    up = tke[1:-1, :, :, taup1] - tke[:-2, :, :, taup1]
    down = tke[2:, :, :, taup1] - tke[1:-1, :, :, taup1]
    ratio = up / np.where(np.abs(down) > epsln, down, epsln)
    vel = 0.5 * (u[1:-1, :, :, tau] + u[2:, :, :, tau])
    flux[1:-1] = vel * (tke[1:-1, :, :, taup1] + 0.5 * superbee(ratio) * down)
    tke[2:-1, :, :, taup1] = tke[2:-1, :, :, taup1] - 1.0e-3 * (flux[2:-1] - flux[1:-2]) * mask[2:-1]
    tke[:, :, :, taup1] = limit_positive(tke[:, :, :, taup1], 0.0)

    # bottom drag on the velocities at the deepest level
    speed = np.sqrt(u[:, :, 0, tau] ** 2 + v[:, :, 0, tau] ** 2)
    u[:, :, 0, taup1] = u[:, :, 0, tau] * (1.0 - dt_tracer * drag_coeff * speed / dzt[0])
    v[:, :, 0, taup1] = v[:, :, 0, tau] * (1.0 - dt_tracer * drag_coeff * speed / dzt[0])
    u[:, :, 1:, taup1] = u[:, :, 1:, tau]
    v[:, :, 1:, taup1] = v[:, :, 1:, tau]
    return float(np.sum(dissipation * mask) / max(float(np.sum(mask)), 1.0)) / nz


# --- inputs ------------------------------------------------------------------------------------

def _grid(size):
    return _pick(size, (40, 40, 40), (100, 100, 100))


def _eos_args(size):
    shape = _grid(size)
    rng = _rng(1801)
    sa = 35.0 + 2.0 * rng.standard_normal(shape)
    ct = 12.0 + 6.0 * rng.standard_normal(shape)
    p = np.broadcast_to(np.linspace(0.0, 5000.0, shape[2]), shape).copy()
    return (sa, ct, p)


def _mixing_args(size):
    nx, ny, nz = _grid(size)
    rng = _rng(1802)
    levels = (nx, ny, nz, 2)
    u = 0.1 * rng.standard_normal(levels)
    v = 0.1 * rng.standard_normal(levels)
    temp = 10.0 + np.linspace(-8.0, 8.0, nz)[np.newaxis, np.newaxis, :, np.newaxis] + rng.standard_normal(levels)
    salt = 35.0 + 0.3 * rng.standard_normal(levels)
    tke = 1.0e-4 * rng.random(levels)
    kappa_m = np.zeros((nx, ny, nz))
    kappa_h = np.zeros((nx, ny, nz))
    dzt = np.linspace(50.0, 10.0, nz)
    dzw = dzt.copy()
    mask = np.ones((nx, ny, nz))
    mask[: nx // 8, : ny // 8, : nz // 2] = 0.0  # a block of land
    forc_tke = 1.0e-4 * rng.random((nx, ny))
    return (u, v, temp, salt, tke, kappa_m, kappa_h, dzt, dzw, mask, forc_tke, 0, 1)


def _kernel(fn, make_args, category):
    return Kernel(fn.__name__, fn, make_args, category, "vectorized", fn.__doc__.strip().splitlines()[0])


KERNELS = (
    _kernel(in_situ_density, _eos_args, "vectorized"),
    _kernel(vertical_mixing_step, _mixing_args, "inplace"),
)
