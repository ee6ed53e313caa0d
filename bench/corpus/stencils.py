"""Grid stencils written as explicit index loops."""
import numpy as np


def jacobi_step_loops(u, u_new, f, h):
    """One Jacobi sweep for the 2-D Poisson problem -lap(u) = f on a uniform grid.

    Writes the updated interior into ``u_new`` (boundary values are left as they are)
    and returns the largest absolute change, the usual convergence criterion.
    """
    ny, nx = u.shape
    h2 = h * h
    max_change = 0.0
    for i in range(1, ny - 1):
        for j in range(1, nx - 1):
            value = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] + h2 * f[i, j])
            change = abs(value - u[i, j])
            if change > max_change:
                max_change = change
            u_new[i, j] = value
    return max_change


def smooth_1d_loops(signal):
    """Three-point [1/4, 1/2, 1/4] smoothing of a float32 signal, end points kept."""
    n = signal.shape[0]
    smoothed = np.empty_like(signal)
    smoothed[0] = signal[0]
    smoothed[n - 1] = signal[n - 1]
    for i in range(1, n - 1):
        smoothed[i] = 0.25 * signal[i - 1] + 0.5 * signal[i] + 0.25 * signal[i + 1]
    return smoothed


def laplacian_3d_loops(u, h):
    """Seven-point Laplacian of a 3-D scalar field; zero on the boundary faces."""
    nz, ny, nx = u.shape
    lap = np.zeros_like(u)
    inv_h2 = 1.0 / (h * h)
    for k in range(1, nz - 1):
        for j in range(1, ny - 1):
            for i in range(1, nx - 1):
                lap[k, j, i] = (
                    u[k - 1, j, i] + u[k + 1, j, i]
                    + u[k, j - 1, i] + u[k, j + 1, i]
                    + u[k, j, i - 1] + u[k, j, i + 1]
                    - 6.0 * u[k, j, i]
                ) * inv_h2
    return lap


def _live_neighbours(grid, i, j):
    ny, nx = grid.shape
    count = 0
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == 0 and dj == 0:
                continue
            if grid[(i + di) % ny, (j + dj) % nx]:
                count += 1
    return count


def game_of_life_step_loops(grid):
    """One generation of Conway's Game of Life on a periodic boolean grid."""
    ny, nx = grid.shape
    new_grid = np.zeros((ny, nx), dtype=np.bool_)
    for i in range(ny):
        for j in range(nx):
            n_alive = _live_neighbours(grid, i, j)
            if grid[i, j]:
                new_grid[i, j] = n_alive == 2 or n_alive == 3
            else:
                new_grid[i, j] = n_alive == 3
    return new_grid
