"""Scientific kernels in the styles of lab code the corpus does not contain (not tuned against)."""
import math
import numpy as np


def lj_energy(pos, eps, sigma):
    n = pos.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            dz = pos[i, 2] - pos[j, 2]
            r2 = dx * dx + dy * dy + dz * dz
            if r2 == 0.0:
                continue
            s6 = (sigma * sigma / r2) ** 3
            e += 4 * eps * (s6 * s6 - s6)
    return e


def bilinear(img, xs, ys):
    out = np.empty(xs.shape[0])
    h, w = img.shape
    for k in range(xs.shape[0]):
        x = min(max(xs[k], 0.0), w - 1.001)
        y = min(max(ys[k], 0.0), h - 1.001)
        i = int(y)
        j = int(x)
        fy = y - i
        fx = x - j
        out[k] = (img[i, j] * (1 - fx) * (1 - fy) + img[i, j + 1] * fx * (1 - fy)
                  + img[i + 1, j] * (1 - fx) * fy + img[i + 1, j + 1] * fx * fy)
    return out


def running_mean(x, w):
    n = x.shape[0]
    out = np.zeros(n - w + 1)
    s = 0.0
    for i in range(w):
        s += x[i]
    out[0] = s / w
    for i in range(w, n):
        s += x[i] - x[i - w]
        out[i - w + 1] = s / w
    return out


def sor(u, f, omega, iters):
    n = u.shape[0]
    h2 = 1.0 / ((n - 1) * (n - 1))
    for it in range(iters):
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                r = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - h2 * f[i, j]) - u[i, j]
                u[i, j] += omega * r
    return u


def lorenz(state, dt, steps, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    traj = np.empty((steps, 3))
    x, y, z = state[0], state[1], state[2]
    for t in range(steps):
        dx = sigma * (y - x)
        dy = x * (rho - z) - y
        dz = x * y - beta * z
        x += dt * dx
        y += dt * dy
        z += dt * dz
        traj[t, 0] = x
        traj[t, 1] = y
        traj[t, 2] = z
    return traj


def primes_below(n):
    sieve = np.ones(n, dtype=np.bool_)
    sieve[:2] = False
    out = []
    for i in range(2, n):
        if sieve[i]:
            out.append(i)
            for j in range(i * i, n, i):
                sieve[j] = False
    return out


def viterbi(obs, log_trans, log_emit, log_init):
    n_states = log_trans.shape[0]
    T = obs.shape[0]
    score = np.empty((T, n_states))
    back = np.zeros((T, n_states), dtype=np.int64)
    for s in range(n_states):
        score[0, s] = log_init[s] + log_emit[s, obs[0]]
    for t in range(1, T):
        for s in range(n_states):
            best = -np.inf
            arg = 0
            for p in range(n_states):
                v = score[t - 1, p] + log_trans[p, s]
                if v > best:
                    best = v
                    arg = p
            score[t, s] = best + log_emit[s, obs[t]]
            back[t, s] = arg
    path = np.empty(T, dtype=np.int64)
    path[T - 1] = np.argmax(score[T - 1])
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def spectral_energy(x):
    return float(np.sum(np.abs(np.fft.rfft(x)) ** 2))


def gini(values):
    v = np.sort(values)
    n = v.shape[0]
    cum = 0.0
    total = 0.0
    for i in range(n):
        cum += (i + 1) * v[i]
        total += v[i]
    return (2.0 * cum) / (n * total) - (n + 1.0) / n
