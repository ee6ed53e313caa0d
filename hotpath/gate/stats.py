"""The statistics behind a verdict: a location estimate and a bootstrap interval of its ratio.

Why a low quantile rather than the mean or median for times: on a shared machine interference
only ever *adds* time, and it comes in bursts (a neighbour's job takes the core for a second),
so the share of slowed samples swings from run to run. The median follows that share; a low
quantile (the gate's default is the 10th percentile) tracks the uncontended speed of the code,
which is what a code change moves. For instruction counts there is no such interference and the
median is used.

Why a two-level bootstrap: samples from one process share its memory layout, hash seed and
whatever the machine was doing during that second, so they are not independent. Resampling
whole processes first (pyperf runs; contiguous blocks of rounds for tools that keep no process
labels), then samples within them, lets the interval reflect that.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

#: Above this many samples a side is thinned (evenly, keeping time order) before resampling;
#: beyond it the interval barely narrows while the cost grows linearly.
MAX_RESAMPLED = 4000
#: How many contiguous blocks stand in for processes when a file has no process labels.
DEFAULT_BLOCKS = 10
#: Power at which the smallest detectable slowdown is quoted.
POWER = 0.95
#: Elements per bootstrap chunk, to bound memory on files with many samples.
_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class RatioEstimate:
    """current / baseline of a location estimate, with its bootstrap distribution summarised."""

    baseline: float
    current: float
    ratio: float
    ci_low: float
    ci_high: float
    se_log: float  # standard error of log(ratio) over the bootstrap replicates


def location(values: np.ndarray, quantile: float) -> float:
    """The ``quantile`` of ``values`` (0.5 = the median)."""
    return float(np.quantile(values, quantile))


def seed_for(name: str, seed: int) -> int:
    """A per-benchmark seed, so a verdict is reproducible and independent of file order."""
    return zlib.crc32(name.encode("utf-8")) ^ (seed * 0x9E3779B1 & 0xFFFFFFFF)


def ratio_interval(
    baseline: np.ndarray,
    current: np.ndarray,
    *,
    quantile: float,
    confidence: float,
    resamples: int,
    rng: np.random.Generator,
    baseline_groups: np.ndarray | None = None,
    current_groups: np.ndarray | None = None,
) -> RatioEstimate:
    """Point estimate and percentile bootstrap interval of ``q(current) / q(baseline)``."""
    base_point = location(baseline, quantile)
    cur_point = location(current, quantile)
    base_boot = bootstrap_locations(baseline, baseline_groups, quantile, resamples, rng)
    cur_boot = bootstrap_locations(current, current_groups, quantile, resamples, rng)
    log_ratios = np.log(cur_boot) - np.log(base_boot)
    alpha = 1.0 - confidence
    low, high = np.quantile(log_ratios, [alpha / 2, 1 - alpha / 2])
    return RatioEstimate(
        baseline=base_point,
        current=cur_point,
        ratio=cur_point / base_point,
        ci_low=float(math.exp(low)),
        ci_high=float(math.exp(high)),
        se_log=float(np.std(log_ratios)),
    )


def bootstrap_locations(
    values: np.ndarray,
    groups: np.ndarray | None,
    quantile: float,
    resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``resamples`` bootstrap replicates of the ``quantile`` of ``values``."""
    values = np.asarray(values, dtype=float)
    if groups is None:
        groups = contiguous_blocks(len(values))
    values, groups = _thin(values, np.asarray(groups), MAX_RESAMPLED)
    table, sizes = _group_table(values, groups)
    if len(sizes) < 3:
        # Two processes cannot stand for "the population of processes"; treat samples as one pool.
        table, sizes = values[None, :], np.array([len(values)])
    n_groups, width = table.shape
    out = np.empty(resamples)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n_groups * width))
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        if n_groups == 1:
            picked = np.zeros((count, 1), dtype=int)
        else:
            picked = rng.integers(0, n_groups, size=(count, n_groups))
        # Each picked group contributes `width` draws from its own samples; groups of unequal
        # size (rare: pyperf runs have equal counts) are thereby weighted slightly evenly.
        within = (rng.random((count, n_groups, width)) * sizes[picked][..., None]).astype(int)
        draws = table[picked[..., None], within].reshape(count, -1)
        out[start : start + count] = np.quantile(draws, quantile, axis=1)
    return out


def contiguous_blocks(n: int, blocks: int = DEFAULT_BLOCKS) -> np.ndarray:
    """Labels splitting ``n`` time-ordered samples into up to ``blocks`` runs of >= 4 samples."""
    count = max(1, min(blocks, n // 4))
    return (np.arange(n) * count) // max(n, 1)


def min_detectable(threshold: float, se_log: float, confidence: float, power: float = POWER) -> float:
    """Smallest slowdown the decision rule flags with probability ``power``, given ``se_log``.

    A slowdown d is flagged when the estimate clears the threshold *and* the interval clears 1;
    each needs the true log-ratio to sit that many standard errors above its bar.
    """
    z_power = _z(power)
    z_conf = _z(1 - (1 - confidence) / 2)
    needed = max(math.log1p(threshold) + z_power * se_log, (z_conf + z_power) * se_log)
    return math.expm1(needed)


def _z(p: float) -> float:
    """Standard normal quantile (Acklam's rational approximation; no SciPy needed)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability must be in (0, 1), got {p}")
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if p > 1 - 0.02425:
        return -_z(1 - p)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (
        ((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def _thin(values: np.ndarray, groups: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    if len(values) <= limit:
        return values, groups
    keep = np.linspace(0, len(values) - 1, limit).round().astype(int)
    return values[keep], groups[keep]


def _group_table(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Samples laid out one row per group (padded by repetition), and each group's size."""
    labels, inverse = np.unique(groups, return_inverse=True)
    sizes = np.bincount(inverse, minlength=len(labels))
    table = np.empty((len(labels), sizes.max()))
    for g in range(len(labels)):
        row = values[inverse == g]
        table[g] = np.resize(row, sizes.max())
    return table, sizes
