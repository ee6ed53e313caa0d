"""Kernels that read module globals, for tests/test_frozen_globals.py (which restores them)."""

import numpy as np

SCALE = 2.0
WEIGHTS = np.linspace(0.5, 1.5, 64)
BIG = np.ones(1 << 14)  # 128 KiB: above what is compared on every call
PARAMS = {"damping": 0.98, "dt": 0.01, "label": "run 1"}  # a parameter dict, as scripts keep them


def scaled_sum(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * SCALE
    return s


def damped_step(v, f):
    out = np.empty_like(v)
    for i in range(v.shape[0]):
        out[i] = v[i] * PARAMS["damping"] + f[i] * PARAMS["dt"]
    return out


def weighted_sum(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * WEIGHTS[i % 64]
    return s


def helper_scale(x):
    return 2.0 * x


def other_scale(x):
    return 3.0 * x


def through_helper(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += helper_scale(a[i])
    return s


def reads_big(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * BIG[i]
    return s


def pure(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s


def closure_pair():
    """A kernel reading a closure variable, and a function that rebinds that variable."""
    factor = 2.0

    def scaled(a):
        s = 0.0
        for i in range(a.shape[0]):
            s += a[i] * factor
        return s

    def rebind(value):
        nonlocal factor
        factor = value

    return scaled, rebind
