"""Kernels that depend on state besides their arguments, for tests/test_hidden_state.py.

Written as scientists write them: a parameters module imported as ``P``, a global settings
object, a read-only lookup table, a call counter, a clock, the global random generator.
"""

import logging
import time
from types import SimpleNamespace

import numpy as np

from tests import hidden_params as P

PARAMS = SimpleNamespace(dt=0.1, grid=SimpleNamespace(h=0.5))
TABLE = np.linspace(0.0, 1.0, 16)
TABLE.flags.writeable = False
CALLS = {"n": 0}
HISTORY = []
log = logging.getLogger(__name__)


def module_scaled(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * P.SCALE
    return s


def module_weighted(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * P.WEIGHTS[i % P.WEIGHTS.shape[0]]
    return s


def object_step(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * PARAMS.dt + PARAMS.grid.h
    return s


def table_lookup(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * TABLE[i % 16]
    return s


def ratio_sum(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] / b[i]
    return s


def int_sum(a):
    s = a[0] * 0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s


def counted(a):
    CALLS["n"] += 1
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s


def recorded(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    HISTORY.append(s)
    return s


def timed(a):
    start = time.perf_counter()
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s, time.perf_counter() - start


def jittered(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * (1.0 + 1e-3 * np.random.random())
    return s


def logged(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    log.debug("sum %s", s)
    return s


def printed(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    print("sum", s)
    return s


def sets_parameter(a):
    P.SCALE = float(a[0])
    return a[0]


def through_counted(a):
    return counted(a) * 2.0
