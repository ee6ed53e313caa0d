"""Adversarial kernels: numeric Python as scientists write it, each with realistic tuning
arguments and later arguments of the same signature that the tuner never saw.

Written independently of hotpath's input generators (issue 15 item 6, issue 25): the later
arguments stress what compiled code does differently from Python and NumPy — integers beyond
64 bits, math domain errors, summation order, NaN, negative values, out-of-range indices,
aliasing, layouts, hidden state and the branch the tuning call never took. Every factory
returns fresh objects, so a kernel that mutates its arguments can be called again on the same
values.
"""

from __future__ import annotations

import contextlib
import math
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests import adversarial_params as P

Args = tuple[Any, ...]
Factory = Callable[[], Args]

INTEGER, FLOAT, EXCEPTIONS, ALIASING = "integer", "float", "exceptions", "aliasing"
LAYOUT, HIDDEN, CONTROL, ARG_TYPES = "layout", "hidden-state", "control-flow", "argument-types"
FAMILIES = (INTEGER, FLOAT, EXCEPTIONS, ALIASING, LAYOUT, HIDDEN, CONTROL, ARG_TYPES)


@dataclass(frozen=True)
class Later:
    """One later call: a label for messages, a factory of fresh arguments, and optionally the
    state (a context manager factory) the caller is in when making it."""

    label: str
    make: Factory
    context: Callable[[], contextlib.AbstractContextManager[Any]] | None = None


@dataclass(frozen=True)
class Adversarial:
    """A kernel, the arguments it is tuned on, and the later calls it must answer like Python."""

    name: str
    function: Callable[..., Any]
    tune_args: Factory
    later: tuple[Later, ...]
    family: str


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def floats(n: int = 4000, seed: int = 0, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    return rng(seed).uniform(lo, hi, n)


def ints(n: int = 4000, seed: int = 0, lo: int = 0, hi: int = 256) -> np.ndarray:
    return rng(seed).integers(lo, hi, n, dtype=np.int64)


def with_values(base: np.ndarray, **where: Any) -> np.ndarray:
    """``base`` with elements set at positions ``first``, ``middle``, ``last``."""
    out = base.copy()
    spots = {"first": 0, "middle": len(out) // 2, "last": len(out) - 1}
    for spot, value in where.items():
        out[spots[spot]] = value
    return out


def cancelling(n: int = 4000) -> np.ndarray:
    """Large opposite terms spread apart, with ones between: the sum is exact only in order."""
    a = np.ones(n)
    a[1], a[n // 2 + 3], a[n // 3], a[n - 7] = 1e16, -1e16, 3e15, -3e15
    return a


# -- integer semantics ---------------------------------------------------------------------------
def int_power(base, n):
    result = 1
    for _ in range(n):
        result = result * base
    return result


def factorial(n):
    f = 1
    for i in range(2, n + 1):
        f *= i
    return f


def binomial(n, k):
    c = 1
    for i in range(1, k + 1):
        c = c * (n - k + i) // i
    return c


def modular_hash(codes):
    h = 0
    for c in codes:
        h = (h * 31 + c) % 1_000_000_007
    return h


def shifted_xor(words, s):
    acc = 0
    for w in words:
        acc ^= w << s
    return acc


def list_total(counts):
    total = 0
    for c in counts:
        total += c
    return total


def floor_and_remainder(a, d):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = a[i] // d + a[i] % d
    return out


def int_array_power(x, k):
    return x ** k


def sum_of_cubes(a):
    s = 0
    for v in a:
        s += v * v * v
    return s


def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def power_sum(a, p):
    s = 0
    for v in a:
        s += int(v) ** p
    return s


def collatz_steps(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


# -- float semantics -----------------------------------------------------------------------------
def exp_total(x):
    s = 0.0
    for v in x:
        s += math.exp(v)
    return s


def log_likelihood(p):
    ll = 0.0
    for v in p:
        ll += math.log(v)
    return ll


def sqrt_total(x):
    s = 0.0
    for v in x:
        s += math.sqrt(v)
    return s


def geometric_series(x, n):
    s = 0.0
    for k in range(n):
        s += math.pow(x, k)
    return s


def fisher_mean(r):
    z = 0.0
    for v in r:
        z += math.atanh(v)
    return math.tanh(z / len(r))


def list_roots(xs):
    out = []
    for x in xs:
        out.append(x ** 0.5)
    return out


def running_total(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
    return s


def array_total(x):
    return x.sum()


def inner(a, b):
    return np.dot(a, b)


def mean_and_variance(x):
    m = x.mean()
    v = ((x - m) ** 2).mean()
    return m, v


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def weighted_mean(x, w):
    return (x * w).sum() / w.sum()


def log_of_sum_exp_loop(x):
    s = 0.0
    for v in x:
        s += math.exp(v)
    return math.log(s)


def periodic_wrap(x, period):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] % period
    return out


# -- data-dependent exceptions -------------------------------------------------------------------
def gather(values, idx):
    out = np.empty(idx.shape[0])
    for i in range(idx.shape[0]):
        out[i] = values[idx[i]]
    return out


def histogram(data, nbins):
    counts = np.zeros(nbins, dtype=np.int64)
    for v in data:
        counts[int(v * nbins)] += 1
    return counts


def validated_norm(x):
    if x.shape[0] == 0:
        raise ValueError("empty input")
    for v in x:
        if v < 0:
            raise ValueError("negative intensity")
    return math.sqrt(np.sum(x * x))


def list_mean(xs):
    return sum(xs) / len(xs)


def truncated_total(x):
    s = 0
    for v in x:
        s += int(v)
    return s


def table_lookup(table, keys):
    total = 0.0
    for k in keys:
        total += table[k]
    return total


def ratio(a, b):
    return a / b


# -- aliasing and mutation -----------------------------------------------------------------------
def axpy(y, a, x):
    for i in range(y.shape[0]):
        y[i] += a * x[i]


def smooth(x):
    for i in range(1, x.shape[0]):
        x[i] = 0.5 * (x[i - 1] + x[i])
    return x


def doubled_into(src, dst):
    for i in range(src.shape[0]):
        dst[i] = 2.0 * src[i]
    return dst


def step_pair(pair):
    src, dst = pair
    for i in range(src.shape[0]):
        dst[i] = src[i] + 1.0
    return dst.sum()


def cumulative(x, out):
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i]
        out[i] = total
    return out


def add_row(a, v):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] += v[j]


# -- layout ---------------------------------------------------------------------------------------
def strided_dot(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


def column_means(a):
    out = np.zeros(a.shape[1])
    for j in range(a.shape[1]):
        for i in range(a.shape[0]):
            out[j] += a[i, j]
        out[j] /= a.shape[0]
    return out


def clip_high(x, hi):
    for i in range(x.shape[0]):
        if x[i] > hi:
            x[i] = hi
    return x


def row_norms(a):
    return np.sqrt((a * a).sum(axis=1))


# -- hidden state ---------------------------------------------------------------------------------
OFFSET = 1.0
SETTINGS = types.SimpleNamespace(dt=0.01)


def calibrate(x):
    return x * P.GAIN + OFFSET


def euler_step(x, v):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] + SETTINGS.dt * v[i]
    return out


def weighted_window(x):
    out = np.zeros(x.shape[0] - 2)
    for i in range(out.shape[0]):
        out[i] = P.WEIGHTS[0] * x[i] + P.WEIGHTS[1] * x[i + 1] + P.WEIGHTS[2] * x[i + 2]
    return out


def relative_change(a, b):
    return (a - b) / b


def energy(m):
    return (m * m).sum()


def peak(m):
    best = m[0]
    for v in m:
        if v > best:
            best = v
    return best


# -- control flow ---------------------------------------------------------------------------------
def signed_log_total(x):
    s = 0.0
    for v in x:
        if v < 0:
            s -= math.log(-v)
        else:
            s += math.log1p(v)
    return s


def first_crossing(x, threshold):
    for i in range(x.shape[0]):
        if x[i] > threshold:
            return i
    return -1


def logistic_settle(x0, r):
    x = x0
    steps = 0
    while steps < 10_000:
        nxt = r * x * (1.0 - x)
        if abs(nxt - x) < 1e-12:
            break
        x = nxt
        steps += 1
    return x, steps


def normalized(x, by_total):
    if by_total:
        return x / x.sum()
    return x * 2.0


def kept_total(x, skip_negative):
    s = 0.0
    for v in x:
        if ~skip_negative or v >= 0:
            s += v
    return s


def until_nan(x):
    count = 0
    s = 0.0
    for v in x:
        if v != v:
            break
        s += v
        count += 1
    return s / count


# -- argument types -------------------------------------------------------------------------------
def gaussian(x, params):
    mu, sigma = params
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def scaled_total(x, c):
    return x.sum() * c


def count_above(x, t, strict):
    n = 0
    for v in x:
        if v > t or (not strict and v == t):
            n += 1
    return n


def list_variance(xs):
    n = len(xs)
    m = 0.0
    for v in xs:
        m += v
    m /= n
    s = 0.0
    for v in xs:
        s += (v - m) ** 2
    return s / (n - 1)


def grid(shape, spacing):
    nrows, ncols = shape
    g = np.zeros((nrows, ncols))
    for i in range(nrows):
        for j in range(ncols):
            g[i, j] = (i * ncols + j) * spacing
    return g


def compound(rate, years):
    growth = rate
    for _ in range(years):
        growth = growth * 3
    return growth


# -- devectorized NumPy patterns (masks into reductions, argmax, cumsum, nonzero, diff, complex) --
def band_mean(values, lo, hi):
    in_band = (values > lo) & (values < hi)
    return values[in_band].mean()


def valid_peak(signal, valid):
    return signal[valid].max()


def selected_total(flux, quality):
    return flux[quality > 0.5].sum()


def selected_count_total(counts, keep):
    return counts[keep].sum()


def flagged_fraction(x, threshold):
    return np.count_nonzero(x > threshold) / x.size, np.any(np.isnan(x)), np.all(x >= 0.0)


def brightest(image):
    return np.argmax(image), np.argmin(image, axis=1)


def strongest_channel(power):
    return np.argmax(power * power, axis=0)


def running_balance(deposits):
    return np.cumsum(deposits * deposits)


def tail_mass(p):
    return np.cumsum(p[::-1])[::-1]


def growth_paths(returns):
    return np.cumprod(1.0 + returns, axis=1)


def log_growth(prices):
    return np.cumsum(np.log(prices[1:] / prices[:-1]))


def discount_curves(rates, times):
    return np.cumsum(np.exp(-rates[:, None] * times[None, :]), axis=1)


def horner_eval(coeffs, x):
    result = np.zeros_like(x)
    for c in coeffs:
        result = result * x + c
    return result


def euler_oscillators(x, v, stiffness, dt, steps):
    for _ in range(steps):
        a = -stiffness * x
        v = v + dt * a
        x = x + dt * v
    return x, v


def lcg_states(state, steps):
    for _ in range(steps):
        state = state * 1103515245 + 12345
    return state


def bearing_spread(dx, dy):
    theta = np.arctan2(dy, dx)
    return np.sqrt(np.mean(theta * theta))


def net_work(force, displacement):
    return np.sum(np.maximum(force, 0.0) * displacement)


def mean_wave_energy(x, k):
    phase = k * x
    return np.sum(np.sin(phase) ** 2 + 0.5 * np.cos(2.0 * phase)) / x.size


def prices(n: int = 4000, seed: int = 0) -> np.ndarray:
    return 100.0 * np.exp(np.cumsum(0.01 * floats(n, seed)))


def upward_crossings(x, level):
    return np.nonzero((x[:-1] < level) & (x[1:] >= level))[0] + 1


def active_cells(readings, threshold):
    return np.flatnonzero(readings > threshold)


def velocity(position, dt):
    return np.diff(position) / dt


def tick_changes(ticks):
    return np.diff(ticks) * 2


def power_spectrum(spectrum):
    return (spectrum * np.conj(spectrum)).real


def exceedance_rows(temperature, threshold):
    return np.mean(temperature > threshold, axis=1)


# -- later-argument helpers ------------------------------------------------------------------------
def memmap_of(values: np.ndarray) -> np.memmap:
    """A fresh file-backed copy of ``values`` (files live in the process's temporary folder)."""
    folder = Path(tempfile.mkdtemp(prefix="hotpath-adversarial-"))
    m = np.memmap(folder / "data.bin", dtype=values.dtype, mode="w+", shape=values.shape)
    m[:] = values
    m.flush()
    return m


def readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def aliased(make: Callable[[], np.ndarray], pattern: Callable[[np.ndarray], Args]) -> Factory:
    return lambda: pattern(make())


@contextlib.contextmanager
def setting(target: object, name: str, value: Any) -> Iterator[None]:
    """``target.name`` set to ``value`` for the duration, as a user changing a parameter."""
    old = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, old)


@contextlib.contextmanager
def weights(values: list[float]) -> Iterator[None]:
    """Rewrite the parameters module's weight table in place, then restore it."""
    old = P.WEIGHTS.copy()
    P.WEIGHTS[:] = values
    try:
        yield
    finally:
        P.WEIGHTS[:] = old


def quality_keeping_big_terms(n: int = 4000) -> np.ndarray:
    """A quality score that drops every third element of ``cancelling(n)`` but keeps its large
    terms: the selection's sum is exact only in NumPy's pairwise order of the compacted values."""
    q = np.where(np.arange(n) % 3 == 0, 0.0, 1.0)
    q[[1, n // 2 + 3, n // 3, n - 7]] = 1.0
    return q


def wave(n: int = 4000) -> np.ndarray:
    return np.sin(np.linspace(0.0, 60.0, n))


BIG = 2**62
L = Later

KERNELS: tuple[Adversarial, ...] = (
    # integer semantics
    Adversarial("int_power", int_power, lambda: (3, 10), (
        L("3**50", lambda: (3, 50)), L("(-7)**31", lambda: (-7, 31)), L("2**63", lambda: (2, 63)),
        L("x**0", lambda: (10, 0))), INTEGER),
    Adversarial("factorial", factorial, lambda: (10,), (
        L("21!", lambda: (21,)), L("30!", lambda: (30,)), L("0!", lambda: (0,))), INTEGER),
    Adversarial("binomial", binomial, lambda: (20, 5), (
        L("C(100,50)", lambda: (100, 50)), L("C(67,33)", lambda: (67, 33)), L("k>n", lambda: (5, 7)),
        L("negative n", lambda: (-4, 3))), INTEGER),
    Adversarial("modular_hash", modular_hash, lambda: (ints(),), (
        L("codes near 2**62", lambda: (ints(lo=BIG - 1000, hi=BIG),)),
        L("negative codes", lambda: (ints(lo=-256, hi=0),)),
        L("one huge code", lambda: (with_values(ints(), middle=2**63 - 1),))), INTEGER),
    Adversarial("shifted_xor", shifted_xor, lambda: (ints(), 3), (
        L("shift 40", lambda: (ints(lo=2**30, hi=2**31), 40)), L("shift 63", lambda: (ints(), 63)),
        L("shift 70", lambda: (ints(), 70)), L("negative shift", lambda: (ints(), -1))), INTEGER),
    Adversarial("list_total", list_total, lambda: ([int(v) for v in ints(500)],), (
        L("sum beyond 2**63", lambda: ([BIG + i for i in range(500)],)),
        L("negative", lambda: ([-BIG - i for i in range(500)],)),
        L("single", lambda: ([7],))), INTEGER),
    Adversarial("floor_and_remainder", floor_and_remainder, lambda: (ints(), 7), (
        L("negative operands", lambda: (ints(lo=-1000, hi=1000), 7)),
        L("negative divisor", lambda: (ints(lo=-1000, hi=1000), -3)),
        L("zero divisor", lambda: (ints(), 0))), INTEGER),
    Adversarial("int_array_power", int_array_power, lambda: (ints(), 2), (
        L("negative exponent", lambda: (ints(), -1)), L("wrapping exponent", lambda: (ints(), 40)),
        L("zero exponent", lambda: (ints(lo=-5, hi=5), 0))), INTEGER),
    Adversarial("sum_of_cubes", sum_of_cubes, lambda: (ints(),), (
        L("cubes overflow", lambda: (ints(lo=2**21, hi=2**22),)),
        L("negative", lambda: (ints(lo=-3000, hi=0),)),
        L("empty", lambda: (ints(0),))), INTEGER),
    Adversarial("gcd", gcd, lambda: (1071, 462), (
        L("negative", lambda: (-48, 18)), L("zero", lambda: (0, 0)), L("beyond 64 bits", lambda: (2**70, 12)),
        L("near int64 max", lambda: (2**63 - 1, BIG + 1))), INTEGER),
    Adversarial("power_sum", power_sum, lambda: (ints(), 2), (
        L("5th powers beyond 2**63", lambda: (ints(lo=10_000, hi=20_000), 5)),
        L("negative values", lambda: (ints(lo=-2**40, hi=0), 3)),
        L("large squares", lambda: (ints(lo=2**31, hi=2**32), 2))), INTEGER),
    Adversarial("collatz_steps", collatz_steps, lambda: (27,), (
        L("3n+1 overflows", lambda: (2**62 - 1,)), L("power of two", lambda: (2**40,)),
        L("big odd", lambda: (2**61 + 1,))), INTEGER),
    # float semantics
    Adversarial("exp_total", exp_total, lambda: (floats(),), (
        L("exp overflow", lambda: (with_values(floats(), middle=710.0),)),
        L("underflow", lambda: (floats(lo=-800, hi=-700),)),
        L("nan", lambda: (with_values(floats(), last=np.nan),))), FLOAT),
    Adversarial("log_likelihood", log_likelihood, lambda: (floats(lo=0.01, hi=1.0),), (
        L("log(0)", lambda: (with_values(floats(lo=0.01, hi=1.0), middle=0.0),)),
        L("log(negative)", lambda: (with_values(floats(lo=0.01, hi=1.0), last=-0.5),)),
        L("inf", lambda: (with_values(floats(lo=0.01, hi=1.0), first=np.inf),))), FLOAT),
    Adversarial("sqrt_total", sqrt_total, lambda: (floats(lo=0.0, hi=4.0),), (
        L("sqrt(-1)", lambda: (with_values(floats(lo=0.0, hi=4.0), middle=-1.0),)),
        L("sqrt(-0.0)", lambda: (with_values(floats(lo=0.0, hi=4.0), first=-0.0),)),
        L("nan", lambda: (with_values(floats(lo=0.0, hi=4.0), last=np.nan),))), FLOAT),
    Adversarial("geometric_series", geometric_series, lambda: (0.5, 40), (
        L("pow overflow", lambda: (1e200, 5)), L("negative base", lambda: (-1.5, 30)),
        L("0**0", lambda: (0.0, 3)), L("nan base", lambda: (math.nan, 3))), FLOAT),
    Adversarial("fisher_mean", fisher_mean, lambda: (floats(lo=-0.9, hi=0.9),), (
        L("atanh(1)", lambda: (with_values(floats(lo=-0.9, hi=0.9), middle=1.0),)),
        L("atanh(-1)", lambda: (with_values(floats(lo=-0.9, hi=0.9), first=-1.0),)),
        L("atanh(1.5)", lambda: (with_values(floats(lo=-0.9, hi=0.9), last=1.5),))), FLOAT),
    Adversarial("list_roots", list_roots, lambda: ([float(v) for v in floats(500, lo=0, hi=9)],), (
        L("negative floats", lambda: ([float(v) for v in floats(500, lo=-9, hi=9)],)),
        L("inf and nan", lambda: ([math.inf, math.nan, 4.0],)),
        L("-0.0", lambda: ([-0.0, 0.0],))), FLOAT),
    Adversarial("running_total", running_total, lambda: (floats(),), (
        L("cancellation", lambda: (cancelling(),)), L("nan last", lambda: (with_values(floats(), last=np.nan),)),
        L("inf - inf", lambda: (with_values(floats(), first=np.inf, last=-np.inf),))), FLOAT),
    Adversarial("array_total", array_total, lambda: (floats(),), (
        L("cancellation", lambda: (cancelling(),)), L("long ramp", lambda: (np.linspace(1e10, 1e10 + 1, 4000),)),
        L("nan middle", lambda: (with_values(floats(), middle=np.nan),))), FLOAT),
    Adversarial("inner", inner, lambda: (floats(), floats(seed=1)), (
        L("cancellation", lambda: (cancelling(), np.ones(4000))),
        L("overflowing products", lambda: (floats(lo=1e200, hi=1e201), floats(seed=1, lo=1e200, hi=1e201))),
        L("nan", lambda: (with_values(floats(), first=np.nan), floats(seed=1)))), FLOAT),
    Adversarial("mean_and_variance", mean_and_variance, lambda: (floats(),), (
        L("large offset", lambda: (1e9 + floats(),)), L("cancellation", lambda: (cancelling(),)),
        L("empty", lambda: (floats(0),))), FLOAT),
    Adversarial("softmax", softmax, lambda: (floats(),), (
        L("large logits", lambda: (floats(lo=700, hi=1000),)),
        L("-inf logit", lambda: (with_values(floats(), middle=-np.inf),)),
        L("all -inf", lambda: (np.full(4000, -np.inf),)), L("nan", lambda: (with_values(floats(), last=np.nan),))),
        FLOAT),
    Adversarial("logsumexp", logsumexp, lambda: (floats(),), (
        L("large", lambda: (floats(lo=700, hi=1000),)), L("all -inf", lambda: (np.full(4000, -np.inf),)),
        L("+inf", lambda: (with_values(floats(), first=np.inf),))), FLOAT),
    Adversarial("weighted_mean", weighted_mean, lambda: (floats(), floats(seed=1, lo=0.1, hi=1.0)), (
        L("weights sum to zero", lambda: (floats(), np.zeros(4000))),
        L("cancelling weights", lambda: (floats(), cancelling())),
        L("nan weight", lambda: (floats(), with_values(floats(seed=1, lo=0.1, hi=1.0), middle=np.nan)))), FLOAT),
    Adversarial("log_of_sum_exp_loop", log_of_sum_exp_loop, lambda: (floats(),), (
        L("exp overflow", lambda: (with_values(floats(), last=800.0),)),
        L("log(0)", lambda: (np.full(4000, -1000.0),)),
        L("underflow", lambda: (floats(lo=-740, hi=-700),))), FLOAT),
    Adversarial("periodic_wrap", periodic_wrap, lambda: (floats(lo=0, hi=20), 2 * math.pi), (
        L("negative", lambda: (floats(lo=-20, hi=0), 2 * math.pi)),
        L("zero period", lambda: (floats(), 0.0)),
        L("negative period", lambda: (floats(lo=-20, hi=20), -1.5))), FLOAT),
    # data-dependent exceptions
    Adversarial("gather", gather, lambda: (floats(100), ints(4000, hi=100)), (
        L("index past the end", lambda: (floats(100), with_values(ints(4000, hi=100), middle=100))),
        L("negative indices", lambda: (floats(100), ints(4000, lo=-100, hi=0))),
        L("index below -n", lambda: (floats(100), with_values(ints(4000, hi=100), last=-101)))), EXCEPTIONS),
    Adversarial("histogram", histogram, lambda: (floats(lo=0, hi=0.999), 10), (
        L("value 1.0", lambda: (with_values(floats(lo=0, hi=0.999), middle=1.0), 10)),
        L("negative value", lambda: (with_values(floats(lo=0, hi=0.999), first=-0.5), 10)),
        L("nan", lambda: (with_values(floats(lo=0, hi=0.999), last=np.nan), 10)),
        L("inf", lambda: (with_values(floats(lo=0, hi=0.999), last=np.inf), 10))), EXCEPTIONS),
    Adversarial("validated_norm", validated_norm, lambda: (floats(lo=0, hi=1),), (
        L("negative", lambda: (with_values(floats(lo=0, hi=1), last=-1e-3),)),
        L("empty", lambda: (floats(0),)), L("overflow", lambda: (floats(lo=1e200, hi=1e201),))), EXCEPTIONS),
    Adversarial("list_mean", list_mean, lambda: ([float(v) for v in floats(500)],), (
        L("inf", lambda: ([math.inf, 1.0],)), L("nan", lambda: ([1.0, math.nan],)),
        L("huge", lambda: ([1e308, 1e308],))), EXCEPTIONS),
    Adversarial("truncated_total", truncated_total, lambda: (floats(lo=0, hi=100),), (
        L("int(nan)", lambda: (with_values(floats(lo=0, hi=100), middle=np.nan),)),
        L("int(inf)", lambda: (with_values(floats(lo=0, hi=100), last=np.inf),)),
        L("beyond 2**63", lambda: (floats(lo=1e19, hi=1e20),)),
        L("negative", lambda: (floats(lo=-100, hi=0),))), EXCEPTIONS),
    Adversarial("table_lookup", table_lookup, lambda: (floats(64), ints(4000, hi=64)), (
        L("key past the end", lambda: (floats(64), with_values(ints(4000, hi=64), first=64))),
        L("negative keys", lambda: (floats(64), ints(4000, lo=-64, hi=0))),
        L("huge key", lambda: (floats(64), with_values(ints(4000, hi=64), last=2**40)))), EXCEPTIONS),
    Adversarial("ratio", ratio, lambda: (1.0, 3.0), (
        L("zero denominator", lambda: (1.0, 0.0)), L("0/0", lambda: (0.0, 0.0)),
        L("overflow", lambda: (1e308, 1e-10))), EXCEPTIONS),
    # aliasing and mutation
    Adversarial("axpy", axpy, lambda: (floats(), 2.0, floats(seed=1)), (
        L("y is x", aliased(floats, lambda u: (u, 2.0, u))),
        L("x is y shifted", aliased(lambda: floats(4001), lambda u: (u[1:], 2.0, u[:-1]))),
        L("nan", lambda: (with_values(floats(), first=np.nan), 2.0, floats(seed=1)))), ALIASING),
    Adversarial("smooth", smooth, lambda: (floats(),), (
        L("nan first", lambda: (with_values(floats(), first=np.nan),)),
        L("alternating", lambda: (np.tile([1e300, -1e300], 2000),)),
        L("single", lambda: (floats(1),))), ALIASING),
    Adversarial("doubled_into", doubled_into, lambda: (floats(), np.zeros(4000)), (
        L("src is dst", aliased(floats, lambda u: (u, u))),
        L("dst one ahead", aliased(lambda: floats(4001), lambda u: (u[:-1], u[1:]))),
        L("dst one behind", aliased(lambda: floats(4001), lambda u: (u[1:], u[:-1])))), ALIASING),
    Adversarial("step_pair", step_pair, lambda: ((floats(), np.zeros(4000)),), (
        L("same array", aliased(floats, lambda u: ((u, u),))),
        L("overlapping", aliased(lambda: floats(4001), lambda u: ((u[:-1], u[1:]),))),
        L("fresh", lambda: ((floats(seed=3), np.full(4000, np.nan)),))), ALIASING),
    Adversarial("cumulative", cumulative, lambda: (floats(), np.zeros(4000)), (
        L("out is x", aliased(floats, lambda u: (u, u))),
        L("out one ahead", aliased(lambda: floats(4001), lambda u: (u[:-1], u[1:]))),
        L("cancellation", lambda: (cancelling(), np.zeros(4000)))), ALIASING),
    Adversarial("add_row", add_row, lambda: (floats(4096).reshape(64, 64), floats(64, seed=1)), (
        L("row of itself", aliased(lambda: floats(4096).reshape(64, 64), lambda a: (a, a[0]))),
        L("last row of itself", aliased(lambda: floats(4096).reshape(64, 64), lambda a: (a, a[-1]))),
        L("nan", lambda: (floats(4096).reshape(64, 64), with_values(floats(64, seed=1), middle=np.nan)))),
        ALIASING),
    # layout
    Adversarial("strided_dot", strided_dot, lambda: (floats(8000)[::2], floats(8000, seed=1)[::2]), (
        L("reversed", lambda: (floats(4000)[::-1], floats(4000, seed=1)[::-1])),
        L("stride 3, same buffer", aliased(lambda: floats(12000), lambda u: (u[::3], u[1::3]))),
        L("cancellation", lambda: (np.repeat(cancelling(), 2)[::2], np.ones(8000)[::2]))), LAYOUT),
    Adversarial("column_means", column_means, lambda: (np.asfortranarray(floats(4000).reshape(80, 50)),), (
        L("transposed C", lambda: (floats(4000).reshape(50, 80).T,)),
        L("nan", lambda: (np.asfortranarray(with_values(floats(4000), middle=np.nan).reshape(80, 50)),)),
        L("sums overflow", lambda: (np.asfortranarray(floats(4000, lo=1e306, hi=1e307).reshape(80, 50)),))), LAYOUT),
    Adversarial("clip_high", clip_high, lambda: (readonly(floats(lo=0, hi=0.5)), 1.0), (
        L("read-only above", lambda: (readonly(floats(lo=0, hi=2)), 1.0)),
        L("read-only nan", lambda: (readonly(with_values(floats(lo=0, hi=0.5), first=np.nan)), 1.0)),
        L("read-only at hi", lambda: (readonly(with_values(floats(lo=0, hi=0.5), last=1.0)), 1.0))), LAYOUT),
    Adversarial("row_norms", row_norms, lambda: (floats(8000).reshape(80, 100)[:, ::2],), (
        L("overflow", lambda: (floats(8000, lo=1e200, hi=1e201).reshape(80, 100)[:, ::2],)),
        L("reversed rows", lambda: (floats(8000).reshape(80, 100)[::-1, ::2],)),
        L("nan", lambda: (with_values(floats(8000), middle=np.nan).reshape(80, 100)[:, ::2],))), LAYOUT),
    # hidden state
    Adversarial("calibrate", calibrate, lambda: (floats(),), (
        L("gain changed", lambda: (floats(),), lambda: setting(P, "GAIN", 3.0)),
        L("offset changed", lambda: (floats(),), lambda: setting(sys.modules[__name__], "OFFSET", -5.0)),
        L("unchanged", lambda: (with_values(floats(), first=np.nan),))), HIDDEN),
    Adversarial("euler_step", euler_step, lambda: (floats(), floats(seed=1)), (
        L("dt changed", lambda: (floats(), floats(seed=1)), lambda: setting(SETTINGS, "dt", 0.5)),
        L("dt negative", lambda: (floats(), floats(seed=1)), lambda: setting(SETTINGS, "dt", -0.01)),
        L("unchanged", lambda: (floats(seed=2), floats(seed=3)))), HIDDEN),
    Adversarial("weighted_window", weighted_window, lambda: (floats(),), (
        L("weights rewritten", lambda: (floats(),), lambda: weights([1.0, -2.0, 1.0])),
        L("weights nan", lambda: (floats(),), lambda: weights([0.0, math.nan, 0.0])),
        L("unchanged", lambda: (floats(seed=4),))), HIDDEN),
    Adversarial("relative_change", relative_change, lambda: (floats(lo=1, hi=2), floats(seed=1, lo=1, hi=2)), (
        L("zero under errstate raise", lambda: (floats(lo=1, hi=2), with_values(floats(seed=1, lo=1, hi=2), middle=0.0)),
          lambda: np.errstate(all="raise")),
        L("0/0 under errstate raise", lambda: (with_values(floats(lo=1, hi=2), first=0.0),
                                              with_values(floats(seed=1, lo=1, hi=2), first=0.0)),
          lambda: np.errstate(invalid="raise")),
        L("zero, default errstate", lambda: (floats(lo=1, hi=2), with_values(floats(seed=1, lo=1, hi=2), last=0.0)))),
        HIDDEN),
    Adversarial("energy", energy, lambda: (memmap_of(ints(hi=100).astype(np.int16)),), (
        L("int16 wraps", lambda: (memmap_of(ints(lo=200, hi=400).astype(np.int16)),)),
        L("negative", lambda: (memmap_of(ints(lo=-400, hi=0).astype(np.int16)),)),
        L("extremes", lambda: (memmap_of(np.full(4000, -32768, dtype=np.int16)),))), HIDDEN),
    Adversarial("peak", peak, lambda: (memmap_of(floats().astype(np.float32)),), (
        L("nan first", lambda: (memmap_of(with_values(floats(), first=np.nan).astype(np.float32)),)),
        L("nan later", lambda: (memmap_of(with_values(floats(), middle=np.nan).astype(np.float32)),)),
        L("negative", lambda: (memmap_of(floats(lo=-2, hi=-1).astype(np.float32)),))), HIDDEN),
    # control flow
    Adversarial("signed_log_total", signed_log_total, lambda: (floats(lo=0, hi=5),), (
        L("negative branch", lambda: (floats(lo=-5, hi=5),)),
        L("-0.0", lambda: (with_values(floats(lo=0, hi=5), middle=-0.0),)),
        L("log1p(-1) unreachable, -1e-320", lambda: (with_values(floats(lo=0, hi=5), last=-1e-320),))), CONTROL),
    Adversarial("first_crossing", first_crossing, lambda: (floats(), 0.999), (
        L("never crosses", lambda: (floats(), 2.0)), L("crosses at 0", lambda: (floats(), -2.0)),
        L("nan threshold", lambda: (floats(), math.nan)), L("nan data", lambda: (np.full(4000, np.nan), 0.0))),
        CONTROL),
    Adversarial("logistic_settle", logistic_settle, lambda: (0.2, 2.5), (
        L("chaotic, never settles", lambda: (0.2, 3.9)), L("diverges", lambda: (0.2, 5.0)),
        L("fixed point at start", lambda: (0.0, 2.5))), CONTROL),
    Adversarial("normalized", normalized, lambda: (floats(lo=0, hi=1), False), (
        L("flag true", lambda: (floats(lo=0, hi=1), True)),
        L("flag true, zero total", lambda: (np.zeros(4000), True)),
        L("flag true, cancelling", lambda: (cancelling(), True))), CONTROL),
    Adversarial("kept_total", kept_total, lambda: (floats(), False), (
        L("flag true", lambda: (floats(), True)), L("flag true, negative", lambda: (floats(lo=-1, hi=0), True)),
        L("nan", lambda: (with_values(floats(), first=np.nan), False))), CONTROL),
    Adversarial("until_nan", until_nan, lambda: (floats(),), (
        L("nan at 0", lambda: (with_values(floats(), first=np.nan),)),
        L("nan in the middle", lambda: (with_values(floats(), middle=np.nan),)),
        L("inf", lambda: (with_values(floats(), last=np.inf),))), CONTROL),
    # argument types
    Adversarial("gaussian", gaussian, lambda: (floats(lo=-3, hi=3), (0.0, 1.0)), (
        L("sigma zero", lambda: (floats(lo=-3, hi=3), (0.0, 0.0))),
        L("sigma negative", lambda: (floats(lo=-3, hi=3), (1.0, -2.0))),
        L("nan mu", lambda: (floats(lo=-3, hi=3), (math.nan, 1.0)))), ARG_TYPES),
    Adversarial("scaled_total", scaled_total, lambda: (floats(), np.float64(0.5)), (
        L("nan scale", lambda: (floats(), np.float64(np.nan))),
        L("huge scale", lambda: (floats(lo=1, hi=2), np.float64(1e308))),
        L("zero", lambda: (floats(), np.float64(0.0)))), ARG_TYPES),
    Adversarial("count_above", count_above, lambda: (floats(), 0.5, False), (
        L("strict", lambda: (np.round(floats(), 1), 0.5, True)),
        L("nan threshold", lambda: (floats(), math.nan, False)),
        L("ties", lambda: (np.round(floats(), 1), 0.5, False))), ARG_TYPES),
    Adversarial("list_variance", list_variance, lambda: ([float(v) for v in floats(500)],), (
        L("single element", lambda: ([1.5],)),
        L("large offset", lambda: ([1e8 + float(v) for v in floats(500)],)),
        L("nan", lambda: ([1.0, math.nan, 2.0],))), ARG_TYPES),
    Adversarial("grid", grid, lambda: ((40, 50), 0.1), (
        L("negative rows", lambda: ((-1, 50), 0.1)), L("empty", lambda: ((0, 0), 0.1)),
        L("nan spacing", lambda: ((3, 4), math.nan))), ARG_TYPES),
    Adversarial("compound", compound, lambda: (np.int64(2), 10), (
        L("int64 wraps", lambda: (np.int64(2), 45)), L("negative", lambda: (np.int64(-5), 41)),
        L("zero years", lambda: (np.int64(7), 0))), ARG_TYPES),
    # devectorized NumPy patterns: masks into reductions, argmax, cumsum, nonzero, diff, complex
    Adversarial("band_mean", band_mean, lambda: (floats(), -0.5, 0.5), (
        L("empty band: nan", lambda: (floats(), 2.0, 3.0)),
        L("cancellation in the band", lambda: (cancelling(), -2e16, 2e16)),
        L("nan bound", lambda: (floats(), math.nan, 0.5)),
        L("single element", lambda: (floats(1), -1.0, 1.0)),
        L("inf excluded by strict bounds",
          lambda: (with_values(floats(), first=np.inf, last=-np.inf), -np.inf, np.inf))),
        FLOAT),
    Adversarial("valid_peak", valid_peak, lambda: (floats(), floats(seed=1) > 0.0), (
        L("nothing valid: max raises", lambda: (floats(), np.zeros(4000, dtype=bool))),
        L("nan first, selected", lambda: (with_values(floats(), first=np.nan), np.ones(4000, dtype=bool))),
        L("nan last, selected", lambda: (with_values(floats(), last=np.nan), np.ones(4000, dtype=bool))),
        L("nan middle, not selected", lambda: (with_values(floats(), middle=np.nan),
                                               with_values(np.ones(4000, dtype=bool), middle=False))),
        L("mask too short", lambda: (floats(), np.ones(3999, dtype=bool))),
        L("-0.0 and 0.0", lambda: (with_values(np.zeros(4000), first=-0.0), np.ones(4000, dtype=bool)))), EXCEPTIONS),
    Adversarial("selected_total", selected_total, lambda: (floats(), floats(seed=1, lo=0.0, hi=1.0)), (
        L("cancellation, all selected", lambda: (cancelling(), np.ones(4000))),
        L("cancellation, every third dropped", lambda: (cancelling(), quality_keeping_big_terms())),
        L("nothing selected", lambda: (floats(), np.zeros(4000))),
        L("nan quality", lambda: (floats(), np.full(4000, np.nan))),
        L("inf and -inf selected", lambda: (with_values(floats(), first=np.inf, last=-np.inf), np.ones(4000)))), FLOAT),
    Adversarial("selected_count_total", selected_count_total,
                lambda: (ints(hi=1000).astype(np.int32), ints(seed=1) % 2 == 0), (
        L("int32 near max: the sum needs 64 bits", lambda: (ints(lo=2**31 - 1000, hi=2**31).astype(np.int32),
                                                             np.ones(4000, dtype=bool))),
        L("int32 min", lambda: (np.full(4000, -2**31, dtype=np.int32), ints(seed=1) % 2 == 0)),
        L("nothing kept", lambda: (ints(hi=1000).astype(np.int32), np.zeros(4000, dtype=bool))),
        L("empty", lambda: (ints(0).astype(np.int32), np.zeros(0, dtype=bool)))), INTEGER),
    Adversarial("flagged_fraction", flagged_fraction, lambda: (floats(), 0.5), (
        L("empty: 0/0", lambda: (floats(0), 0.5)),
        L("nan threshold", lambda: (floats(), math.nan)),
        L("nan last", lambda: (with_values(floats(lo=0.0, hi=1.0), last=np.nan), 0.5)),
        L("-0.0 is >= 0", lambda: (np.full(4000, -0.0), -1.0)),
        L("inf threshold", lambda: (with_values(floats(), middle=np.inf), np.inf))), FLOAT),
    Adversarial("brightest", brightest, lambda: (floats(4000).reshape(80, 50),), (
        L("ties: the first wins", lambda: (np.round(floats(4000), 0).reshape(80, 50),)),
        L("nan middle", lambda: (with_values(floats(4000), middle=np.nan).reshape(80, 50),)),
        L("nan last, inf first", lambda: (with_values(floats(4000), first=np.inf, last=np.nan).reshape(80, 50),)),
        L("-0.0 before 0.0", lambda: (with_values(np.zeros(4000), first=-0.0).reshape(80, 50),)),
        L("empty rows: raises", lambda: (np.zeros((3, 0)),))), EXCEPTIONS),
    Adversarial("strongest_channel", strongest_channel, lambda: (floats(8000).reshape(80, 100)[:, ::2],), (
        L("Fortran-strided view", lambda: (np.asfortranarray(floats(8000).reshape(100, 80))[::2, :],)),
        L("ties of +x and -x", lambda: (np.tile([-2.0, 2.0, 1.0, -1.0], 2000).reshape(80, 100)[:, ::2],)),
        L("nan rows", lambda: (with_values(floats(8000), first=np.nan, last=np.nan).reshape(80, 100)[::-1, ::2],)),
        L("one row with nan", lambda: (with_values(floats(100), middle=np.nan).reshape(1, 100)[:, ::2],))), LAYOUT),
    Adversarial("running_balance", running_balance, lambda: (ints(lo=-300, hi=300).astype(np.int32),), (
        L("squares wrap int32", lambda: (ints(lo=46341, hi=60000).astype(np.int32),)),
        L("running sum beyond int32", lambda: (ints(lo=40000, hi=46340).astype(np.int32),)),
        L("empty", lambda: (ints(0).astype(np.int32),)),
        L("single", lambda: (np.array([-46341], dtype=np.int32),))), INTEGER),
    Adversarial("tail_mass", tail_mass, lambda: (floats(lo=0.0, hi=1.0),), (
        L("cancellation", lambda: (cancelling(),)),
        L("nan middle", lambda: (with_values(floats(lo=0.0, hi=1.0), middle=np.nan),)),
        L("inf last, -inf first", lambda: (with_values(floats(), first=-np.inf, last=np.inf),)),
        L("single", lambda: (floats(1),)), L("empty", lambda: (floats(0),))), FLOAT),
    # running sums whose log/exp terms the fused code computes in a vectorized loop of their own
    Adversarial("log_growth", log_growth, lambda: (prices(),), (
        L("a zero price: -inf, then inf - inf", lambda: (with_values(prices(), middle=0.0),)),
        L("a negative price: nan", lambda: (with_values(prices(), first=-1.0),)),
        L("inf last", lambda: (with_values(prices(), last=np.inf),)),
        L("ratios of 1e300", lambda: (np.resize([1e-150, 1e150, 1e-150, 1.0], 4000),)),
        L("single", lambda: (prices(1),)), L("empty", lambda: (floats(0),))), FLOAT),
    Adversarial("discount_curves", discount_curves, lambda: (floats(40, lo=0.0, hi=0.1), floats(100, 1, 0.0, 30.0)), (
        L("negative rates overflow", lambda: (floats(40, lo=-50.0, hi=-20.0), floats(100, 1, 0.0, 30.0))),
        L("nan rate, inf time", lambda: (with_values(floats(40, lo=0.0, hi=0.1), middle=np.nan),
                                         with_values(floats(100, 1, 0.0, 30.0), last=np.inf))),
        L("-0.0 rates", lambda: (np.full(40, -0.0), floats(100, 1, 0.0, 30.0))),
        L("no times", lambda: (floats(40, lo=0.0, hi=0.1), floats(0)))), FLOAT),
    Adversarial("horner_eval", horner_eval, lambda: (floats(9, 1), floats()), (
        L("no coefficients: the zeros as they were", lambda: (floats(0), floats())),
        L("no points", lambda: (floats(9, 1), floats(0))),
        L("inf and nan coefficients", lambda: (with_values(floats(9, 1), first=np.inf, last=np.nan), floats())),
        L("points of 1e300: overflow to inf, then inf - inf", lambda: (floats(9, 1), floats(4000, 2, -1e300, 1e300))),
        L("one point", lambda: (floats(9, 1), floats(1)))), FLOAT),
    Adversarial("euler_oscillators", euler_oscillators,
                lambda: (floats(), floats(4000, 1), 2.0, 0.01, 20), (
        L("velocities broadcast from one", lambda: (floats(), floats(1, 1), 2.0, 0.01, 20)),
        L("lengths that do not broadcast: ValueError", lambda: (floats(), floats(3, 1), 2.0, 0.01, 20)),
        L("no steps: the arguments themselves", lambda: (floats(), floats(4000, 1), 2.0, 0.01, 0)),
        L("a step that overflows", lambda: (floats(4000, 2, -1e300, 1e300), floats(4000, 1), 1e10, 1e10, 3)),
        L("nan stiffness", lambda: (floats(), floats(4000, 1), np.nan, 0.01, 2))), FLOAT),
    Adversarial("lcg_states", lcg_states, lambda: (ints(hi=1000), 3), (
        L("states near 2**62: int64 wraps as NumPy's does", lambda: (ints(lo=2**62 - 1000, hi=2**62), 3)),
        L("many steps", lambda: (ints(hi=1000), 50)),
        L("negative states", lambda: (ints(lo=-1000, hi=0), 4))), INTEGER),
    Adversarial("growth_paths", growth_paths, lambda: (floats(4000, lo=-0.05, hi=0.05).reshape(40, 100),), (
        L("total loss then inf", lambda: (with_values(floats(4000, lo=-0.05, hi=0.05), first=-1.0, middle=np.inf)
                                          .reshape(40, 100),)),
        L("overflow", lambda: (floats(4000, lo=1e10, hi=1e11).reshape(40, 100),)),
        L("nan last", lambda: (with_values(floats(4000, lo=-0.05, hi=0.05), last=np.nan).reshape(40, 100),)),
        L("no periods", lambda: (np.zeros((40, 0)),))), FLOAT),
    Adversarial("upward_crossings", upward_crossings, lambda: (wave(), 0.0), (
        L("empty", lambda: (floats(0), 0.0)), L("single", lambda: (floats(1), 0.0)),
        L("nan level", lambda: (wave(), math.nan)),
        L("nan samples", lambda: (with_values(wave(), first=np.nan, middle=np.nan, last=np.nan), 0.0)),
        L("-0.0 meets 0.0", lambda: (np.tile([-1.0, -0.0, -1.0, 0.0], 1000), 0.0))), CONTROL),
    Adversarial("active_cells", active_cells, lambda: (floats(8000)[::2], 0.9), (
        L("reversed", lambda: (floats(4000)[::-1], 0.5)),
        L("stride 3", lambda: (floats(12000)[1::3], 0.0)),
        L("nan threshold", lambda: (floats(8000)[::2], math.nan)),
        L("nan cells", lambda: (with_values(floats(8000), first=np.nan, last=np.nan)[::2], -2.0))), LAYOUT),
    Adversarial("velocity", velocity, lambda: (np.cumsum(floats()), 0.01), (
        L("empty", lambda: (floats(0), 0.01)), L("single", lambda: (floats(1), 0.01)),
        L("dt zero", lambda: (np.cumsum(floats()), 0.0)),
        L("inf - inf", lambda: (with_values(np.cumsum(floats()), first=np.inf, middle=np.inf), 0.01)),
        L("-0.0 dt", lambda: (np.zeros(4000), -0.0))), FLOAT),
    Adversarial("tick_changes", tick_changes, lambda: (np.cumsum(ints()),), (
        L("differences wrap int64", lambda: (np.array([2**63 - 1, -2**63, 2**63 - 1, 0], dtype=np.int64),)),
        L("doubling wraps", lambda: (np.array([0, 2**62, -2**62, 0], dtype=np.int64),)),
        L("empty", lambda: (ints(0),)), L("single", lambda: (ints(1),))), INTEGER),
    Adversarial("power_spectrum", power_spectrum, lambda: (floats() + 1j * floats(seed=1),), (
        L("inf real part", lambda: (with_values(floats() + 1j * floats(seed=1), middle=complex(np.inf, 0.0)),)),
        L("inf and nan parts", lambda: (with_values(floats() + 1j * floats(seed=1), first=complex(np.inf, np.inf),
                                                    last=complex(1.0, np.nan)),)),
        L("overflow", lambda: (floats(lo=1e200, hi=1e201) + 1j * floats(seed=1, lo=1e200, hi=1e201),)),
        L("-0.0 parts", lambda: (np.full(4000, complex(-0.0, -0.0)),))), FLOAT),
    Adversarial("exceedance_rows", exceedance_rows, lambda: (floats(4000).reshape(40, 100), 0.5), (
        L("no columns: nan", lambda: (np.zeros((40, 0)), 0.5)),
        L("nan readings", lambda: (with_values(floats(4000), first=np.nan, last=np.nan).reshape(40, 100), -2.0)),
        L("nan threshold", lambda: (floats(4000).reshape(40, 100), math.nan)),
        L("inf threshold", lambda: (np.full((40, 100), np.inf), np.inf))), FLOAT),
    # Pythran's paths: binary ufuncs of two arrays, sums in NumPy's order, SIMD sin and cos.
    Adversarial("bearing_spread", bearing_spread, lambda: (floats(), floats(4000, 1)), (
        L("lengths that do not broadcast: ValueError", lambda: (floats(), floats(3999, 1))),
        L("one dy broadcast over every dx", lambda: (floats(), floats(1, 1))),
        L("no samples: nan", lambda: (floats(0), floats(0, 1))),
        L("signed zeros: arctan2's quadrants", lambda: (np.tile([0.0, -0.0], 2000), np.tile([-0.0, -0.0, 0.0, 0.0], 1000))),
        L("inf and nan", lambda: (with_values(floats(), first=np.inf, middle=np.nan, last=-np.inf),
                                  with_values(floats(4000, 1), first=np.inf, last=np.inf)))), FLOAT),
    Adversarial("net_work", net_work, lambda: (floats(), floats(4000, 1)), (
        L("cancellation: only NumPy's pairwise order gives its answer",
          lambda: (np.abs(floats()) * 10.0 ** rng(3).integers(-3, 17, 4000), floats(4000, 4) * 10.0 ** rng(5).integers(-3, 17, 4000))),
        L("lengths that do not broadcast: ValueError", lambda: (floats(), floats(4001, 1))),
        L("overflow to inf - inf", lambda: (floats(4000, 2, 1e300, 1e301), floats(4000, 1, -1e10, 1e10))),
        L("nan forces", lambda: (with_values(floats(), middle=np.nan), floats(4000, 1))),
        L("empty", lambda: (floats(0), floats(0, 1)))), FLOAT),
    Adversarial("mean_wave_energy", mean_wave_energy, lambda: (floats(4000, 0, 0.0, 100.0), 1.3), (
        L("phases near 1e6", lambda: (floats(4000, 1, 1e6, 1e6 + 100.0), 1.0)),
        L("phases of 1e22: sin's argument reduction", lambda: (floats(4000, 2, 1e21, 1e22), 1.0)),
        L("huge phases: 1e300", lambda: (floats(4000, 3, 1e299, 1e300), 1.0)),
        L("inf and nan phases", lambda: (with_values(floats(4000, 0, 0.0, 100.0), first=np.inf, last=np.nan), 1.0)),
        L("no points: 0/0", lambda: (floats(0), 1.3))), FLOAT),
)
