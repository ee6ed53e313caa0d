"""Module-sized ocean-model kernels: constants, NumPy-style helpers, many arrays updated in place.

Written the way a modeller writes a physics module (none copied from a public model): dozens of
module-level float constants, module-level helpers in NumPy style (an elementwise ``np.where``
limiter, a flux limiter, a tridiagonal Thomas solve along the last axis looping over levels with
slices), and a long main routine that updates several 3-D and 4-D arguments in place through
slices; plus a 48-term equation-of-state polynomial in three variables as nested NumPy expressions,
and an isoneutral (Redi/GM) mixing tensor: neutral slopes from triads of neighbouring cells in small
``for kr in range(2)`` offset loops over shifted slices, tapered and summed into 3-D and 5-D outputs.

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

# --- isoneutral mixing: diffusivities, slope taper, linearised expansion coefficients ------------
K_iso_0 = 1000.0
K_iso_steep = 50.0
K_gm_0 = 800.0
iso_slopemax = 1.0e-3
iso_dslope = 4.0e-4
alpha_T0 = 1.67e-4
alpha_TT = 1.0e-5
alpha_TS = 1.0e-6
alpha_Tp = 1.1e-8
beta_S0 = 7.6e-4
beta_ST = -1.9e-6
beta_SS = -2.0e-7
beta_Sp = -3.0e-9
T_ref = 10.0
S_ref = 35.0

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


# --- isoneutral (Redi/GM) mixing -----------------------------------------------------------------

def get_drhodT(salt, temp, p):
    """Partial derivative of density with respect to temperature (kg/m^3/K), thermobaric and nonlinear."""
    return -rho_0 * (alpha_T0 + alpha_TT * (temp - T_ref) + alpha_TS * (salt - S_ref) + alpha_Tp * p)


def get_drhodS(salt, temp, p):
    """Partial derivative of density with respect to salinity (kg/m^3/(g/kg))."""
    return rho_0 * (beta_S0 + beta_ST * (temp - T_ref) + beta_SS * (salt - S_ref) + beta_Sp * p)


def dm_taper(sx):
    """Danabasoglu-McWilliams taper: 1 for small slopes, going to 0 beyond ``iso_slopemax``."""
    return 0.5 * (1.0 + np.tanh((-np.abs(sx) + iso_slopemax) / iso_dslope))


def isoneutral_mixing(temp, salt, K_11, K_22, K_33, Ai_ez, Ai_nz, Ai_bx, Ai_by, K_gm,
                      dxt, dxu, dyt, dyu, dzt, dzw, zt, cost, cosu, maskT, tau):
    """Isoneutral (Redi/GM) mixing: neutral slopes and the small-slope diffusion tensor, in place.

    ``temp``, ``salt`` are (nx, ny, nz, 2) with two time levels, ``tau`` the current one; level
    ``nz - 1`` is the surface. ``dxt``/``dxu`` (nx), ``dyt``/``dyu`` (ny), ``dzt``/``dzw`` (nz)
    are the grid spacings at T points and at faces, ``zt`` (nz) the (negative) depth of the T
    points, ``cost``/``cosu`` (ny) the cosine of latitude at T and at V points, ``maskT`` 1 over
    water and 0 over land. ``K_11``, ``K_22``, ``K_33`` and ``K_gm`` (nx, ny, nz) receive the
    tensor's diagonal and the GM diffusivity; ``Ai_ez``, ``Ai_nz`` (slopes seen from the east and
    north faces) and ``Ai_bx``, ``Ai_by`` (seen from the bottom faces) are (nx, ny, nz, 2, 2),
    one entry per pair of neighbouring cells used for the triad.
    """
    nx, ny, nz = maskT.shape
    T = temp[:, :, :, tau]
    S = salt[:, :, :, tau]
    p = -zt[np.newaxis, np.newaxis, :]

    # density derivatives at the T points
    drdT = maskT * get_drhodT(S, T, p)
    drdS = maskT * get_drhodS(S, T, p)

    # tracer gradients at the east (U), north (V) and top (W) faces of the T cells
    maskU = np.zeros_like(maskT)
    maskV = np.zeros_like(maskT)
    maskW = np.zeros_like(maskT)
    maskU[:-1, :, :] = maskT[1:, :, :] * maskT[:-1, :, :]
    maskV[:, :-1, :] = maskT[:, 1:, :] * maskT[:, :-1, :]
    maskW[:, :, :-1] = maskT[:, :, 1:] * maskT[:, :, :-1]
    dTdx = np.zeros_like(maskT)
    dSdx = np.zeros_like(maskT)
    dTdy = np.zeros_like(maskT)
    dSdy = np.zeros_like(maskT)
    dTdz = np.zeros_like(maskT)
    dSdz = np.zeros_like(maskT)
    dTdx[:-1, :, :] = maskU[:-1] * (T[1:, :, :] - T[:-1, :, :]) \
        / (dxu[:-1, np.newaxis, np.newaxis] * cost[np.newaxis, :, np.newaxis])
    dSdx[:-1, :, :] = maskU[:-1] * (S[1:, :, :] - S[:-1, :, :]) \
        / (dxu[:-1, np.newaxis, np.newaxis] * cost[np.newaxis, :, np.newaxis])
    dTdy[:, :-1, :] = maskV[:, :-1] * (T[:, 1:, :] - T[:, :-1, :]) / dyu[np.newaxis, :-1, np.newaxis]
    dSdy[:, :-1, :] = maskV[:, :-1] * (S[:, 1:, :] - S[:, :-1, :]) / dyu[np.newaxis, :-1, np.newaxis]
    dTdz[:, :, :-1] = maskW[:, :, :-1] * (T[:, :, 1:] - T[:, :, :-1]) / dzw[np.newaxis, np.newaxis, :-1]
    dSdz[:, :, :-1] = maskW[:, :, :-1] * (S[:, :, 1:] - S[:, :, :-1]) / dzw[np.newaxis, np.newaxis, :-1]

    # east faces: triads of the two cells either side and the W points above and below them
    sumz = np.zeros((nx - 2, ny, nz - 2))
    for kr in range(2):
        for ip in range(2):
            drodxe = drdT[1 + ip:nx - 1 + ip, :, 1:-1] * dTdx[1:-1, :, 1:-1] \
                + drdS[1 + ip:nx - 1 + ip, :, 1:-1] * dSdx[1:-1, :, 1:-1]
            drodze = drdT[1 + ip:nx - 1 + ip, :, 1:-1] * dTdz[1 + ip:nx - 1 + ip, :, kr:nz - 2 + kr] \
                + drdS[1 + ip:nx - 1 + ip, :, 1:-1] * dSdz[1 + ip:nx - 1 + ip, :, kr:nz - 2 + kr]
            sxe = -drodxe / (np.minimum(0.0, drodze) - epsln)
            taper = dm_taper(sxe)
            sumz += dzw[np.newaxis, np.newaxis, kr:nz - 2 + kr] * maskU[1:-1, :, 1:-1] \
                * np.maximum(K_iso_steep, K_iso_0 * taper)
            Ai_ez[1:-1, :, 1:-1, ip, kr] = taper * sxe * maskU[1:-1, :, 1:-1]
    K_11[1:-1, :, 1:-1] = sumz / (4.0 * dzt[np.newaxis, np.newaxis, 1:-1])

    # north faces, the same with the meridional gradients
    sumz = np.zeros((nx, ny - 2, nz - 2))
    for kr in range(2):
        for jp in range(2):
            drodyn = drdT[:, 1 + jp:ny - 1 + jp, 1:-1] * dTdy[:, 1:-1, 1:-1] \
                + drdS[:, 1 + jp:ny - 1 + jp, 1:-1] * dSdy[:, 1:-1, 1:-1]
            drodzn = drdT[:, 1 + jp:ny - 1 + jp, 1:-1] * dTdz[:, 1 + jp:ny - 1 + jp, kr:nz - 2 + kr] \
                + drdS[:, 1 + jp:ny - 1 + jp, 1:-1] * dSdz[:, 1 + jp:ny - 1 + jp, kr:nz - 2 + kr]
            syn = -drodyn / (np.minimum(0.0, drodzn) - epsln)
            taper = dm_taper(syn)
            sumz += dzw[np.newaxis, np.newaxis, kr:nz - 2 + kr] * maskV[:, 1:-1, 1:-1] \
                * np.maximum(K_iso_steep, K_iso_0 * taper)
            Ai_nz[:, 1:-1, 1:-1, jp, kr] = taper * syn * maskV[:, 1:-1, 1:-1]
    K_22[:, 1:-1, 1:-1] = sumz / (4.0 * dzt[np.newaxis, np.newaxis, 1:-1])

    # bottom faces: triads of the W point with the east-west and north-south faces next to it
    sumx = np.zeros((nx - 2, ny - 2, nz - 1))
    sumy = np.zeros((nx - 2, ny - 2, nz - 1))
    gm = np.zeros((nx - 2, ny - 2, nz - 1))
    for kr in range(2):
        drodzb = drdT[1:-1, 1:-1, kr:nz - 1 + kr] * dTdz[1:-1, 1:-1, :-1] \
            + drdS[1:-1, 1:-1, kr:nz - 1 + kr] * dSdz[1:-1, 1:-1, :-1]
        for ip in range(2):
            drodxb = drdT[1:-1, 1:-1, kr:nz - 1 + kr] * dTdx[ip:nx - 2 + ip, 1:-1, kr:nz - 1 + kr] \
                + drdS[1:-1, 1:-1, kr:nz - 1 + kr] * dSdx[ip:nx - 2 + ip, 1:-1, kr:nz - 1 + kr]
            sxb = -drodxb / (np.minimum(0.0, drodzb) - epsln)
            taper = dm_taper(sxb)
            sumx += dxu[ip:nx - 2 + ip, np.newaxis, np.newaxis] * K_iso_0 * taper * sxb * sxb \
                * maskW[1:-1, 1:-1, :-1]
            gm += 0.125 * K_gm_0 * taper * maskW[1:-1, 1:-1, :-1]
            Ai_bx[1:-1, 1:-1, :-1, ip, kr] = taper * sxb * maskW[1:-1, 1:-1, :-1]
        for jp in range(2):
            facty = cosu[jp:ny - 2 + jp] * dyu[jp:ny - 2 + jp]
            drodyb = drdT[1:-1, 1:-1, kr:nz - 1 + kr] * dTdy[1:-1, jp:ny - 2 + jp, kr:nz - 1 + kr] \
                + drdS[1:-1, 1:-1, kr:nz - 1 + kr] * dSdy[1:-1, jp:ny - 2 + jp, kr:nz - 1 + kr]
            syb = -drodyb / (np.minimum(0.0, drodzb) - epsln)
            taper = dm_taper(syb)
            sumy += facty[np.newaxis, :, np.newaxis] * K_iso_0 * taper * syb * syb \
                * maskW[1:-1, 1:-1, :-1]
            gm += 0.125 * K_gm_0 * taper * maskW[1:-1, 1:-1, :-1]
            Ai_by[1:-1, 1:-1, :-1, jp, kr] = taper * syb * maskW[1:-1, 1:-1, :-1]
    K_33[1:-1, 1:-1, :-1] = sumx / (4.0 * dxt[1:-1, np.newaxis, np.newaxis]) \
        + sumy / (4.0 * dyt[np.newaxis, 1:-1, np.newaxis] * cost[np.newaxis, 1:-1, np.newaxis])
    K_33[1:-1, 1:-1, -1] = 0.0
    K_gm[1:-1, 1:-1, :-1] = gm
    K_gm[1:-1, 1:-1, -1] = 0.0


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


def _isoneutral_args(size):
    nx, ny, nz = _grid(size)
    rng = _rng(1803)
    levels = (nx, ny, nz, 2)
    # stable stratification: warm and slightly fresh at the surface (level nz - 1), cold at depth
    profile = np.linspace(-1.0, 1.0, nz)[np.newaxis, np.newaxis, :, np.newaxis]
    front = np.linspace(-1.0, 1.0, ny)[np.newaxis, :, np.newaxis, np.newaxis]
    temp = 10.0 + 8.0 * profile + 1.5 * front * (1.0 + profile) + 0.05 * rng.standard_normal(levels)
    salt = 35.0 - 0.3 * profile + 0.2 * front + 0.01 * rng.standard_normal(levels)
    shape = (nx, ny, nz)
    K_11, K_22, K_33, K_gm = (np.zeros(shape) for _ in range(4))
    Ai_ez, Ai_nz, Ai_bx, Ai_by = (np.zeros(shape + (2, 2)) for _ in range(4))
    dxt = np.full(nx, 1.0e5)
    dxu = dxt.copy()
    dyt = np.full(ny, 1.0e5)
    dyu = dyt.copy()
    dzt = np.linspace(250.0, 10.0, nz)
    dzw = dzt.copy()
    zt = -(np.cumsum(dzt[::-1])[::-1] - 0.5 * dzt)
    lat = np.deg2rad(np.linspace(-60.0, 60.0, ny))
    cost = np.cos(lat)
    cosu = np.cos(lat + 0.5 * (lat[1] - lat[0]))
    maskT = np.ones(shape)
    maskT[: nx // 8, : ny // 8, : nz // 2] = 0.0  # a block of land
    maskT[-nx // 10:, :, : nz // 4] = 0.0  # a ridge along the eastern edge
    return (temp, salt, K_11, K_22, K_33, Ai_ez, Ai_nz, Ai_bx, Ai_by, K_gm,
            dxt, dxu, dyt, dyu, dzt, dzw, zt, cost, cosu, maskT, 0)


def _kernel(fn, make_args, category):
    return Kernel(fn.__name__, fn, make_args, category, "vectorized", fn.__doc__.strip().splitlines()[0])


KERNELS = (
    _kernel(in_situ_density, _eos_args, "vectorized"),
    _kernel(vertical_mixing_step, _mixing_args, "inplace"),
    _kernel(isoneutral_mixing, _isoneutral_args, "inplace"),
)
