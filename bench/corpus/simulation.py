"""Deterministic time-stepping simulations written with explicit loops."""
import math

import numpy as np


def _accelerations(pos, mass, softening):
    n = pos.shape[0]
    acc = np.zeros((n, 3))
    eps2 = softening * softening
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            dz = pos[j, 2] - pos[i, 2]
            r2 = dx * dx + dy * dy + dz * dz + eps2
            inv_r3 = mass[j] / (r2 * math.sqrt(r2))
            acc[i, 0] += dx * inv_r3
            acc[i, 1] += dy * inv_r3
            acc[i, 2] += dz * inv_r3
    return acc


def nbody_step_loops(pos, vel, mass, dt, softening):
    """One kick-drift-kick leapfrog step of a softened gravitational N-body system (G = 1).

    Returns new (positions, velocities); the inputs are left unchanged.
    """
    n = pos.shape[0]
    acc = _accelerations(pos, mass, softening)
    new_vel = np.empty_like(vel)
    new_pos = np.empty_like(pos)
    for i in range(n):
        for d in range(3):
            new_vel[i, d] = vel[i, d] + 0.5 * dt * acc[i, d]
            new_pos[i, d] = pos[i, d] + dt * new_vel[i, d]
    acc = _accelerations(new_pos, mass, softening)
    for i in range(n):
        for d in range(3):
            new_vel[i, d] += 0.5 * dt * acc[i, d]
    return new_pos, new_vel


def heat_equation_1d_loops(u0, alpha, dx, dt, n_steps):
    """Explicit FTCS time stepping of u_t = alpha * u_xx with fixed (Dirichlet) end values."""
    n = u0.shape[0]
    u = u0.copy()
    u_next = u0.copy()
    r = alpha * dt / (dx * dx)
    for _ in range(n_steps):
        for i in range(1, n - 1):
            u_next[i] = u[i] + r * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u, u_next = u_next, u
    return u


def logistic_lyapunov_loops(r_values, x0, n_transient, n_iter):
    """Lyapunov exponent of the logistic map x -> r x (1 - x) for each growth rate r."""
    lyapunov = np.empty(r_values.shape[0])
    for k in range(r_values.shape[0]):
        r = r_values[k]
        x = x0
        for _ in range(n_transient):
            x = r * x * (1.0 - x)
        total = 0.0
        for _ in range(n_iter):
            x = r * x * (1.0 - x)
            total += math.log(abs(r * (1.0 - 2.0 * x)))
        lyapunov[k] = total / n_iter
    return lyapunov
