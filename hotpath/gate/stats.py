"""The statistics behind a verdict: a location estimate and a bootstrap interval of its ratio.

Why not the mean or the median for times: on a shared machine interference only ever *adds*
time. Inside a process it comes as bursts (a neighbour takes the core for a moment); across
processes as whole processes that ran slowed down (1.5-2x on the VM this was calibrated on).
How many slowed samples and processes a run gets is luck, and the median follows that luck.
The :class:`Estimator` instead takes each process's fast end and averages the cluster of
fastest processes, which is what a code change moves. Instruction counts have no such skew and
use the median.

Why resample blocks of processes rather than samples: samples from one process share its memory
layout, hash seed and the state of the machine while it ran, so they are not independent; the
spread *between* processes is the honest measure of noise. And processes measured back to back
are not independent either: the machine's state lasts a second or two, so neighbouring
processes land at similar speeds (intra-class correlation ~0.13 within a pyperf invocation of 4
processes on the calibration VM). Resampling processes one by one, the lower bound of a nominal
90 % interval lay above 1 on 14-18 % of unchanged pairs (5 % expected); resampling
non-overlapping runs of :data:`BLOCK_PROCESSES` consecutive processes (a block bootstrap,
Carlstein 1986) counts that correlation and brought it to 6 % on the calibration's development
half, though 12 % on the held-out half — which is why a verdict also needs the practical
threshold. Tools that keep no process labels (pytest-benchmark) get contiguous blocks of rounds
instead, which are already runs of consecutive samples.
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
#: Fewer groups than this and the samples are pooled instead of resampled group-wise.
MIN_GROUPS = 3
#: Consecutive processes resampled together: processes measured within a second or two of each
#: other share the machine's state (bench/gate_calibration/HISTORY.md, run 3).
BLOCK_PROCESSES = 4
#: Blocks are made smaller rather than leave fewer than this many to resample: a bootstrap
#: over a handful of units understates the spread (by (n - 1) / n in variance, and worse in
#: its tails), which with 4 blocks made an interval exclude 1 on unchanged data.
MIN_BLOCKS = 8
#: Power at which the smallest detectable slowdown is quoted.
POWER = 0.95
#: Elements per bootstrap chunk, to bound memory on files with many samples.
_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Estimator:
    """How a set of samples becomes one number: the speed of the *fast cluster*.

    Each group (process) is first summarised by its ``sample_quantile`` (its *level*), which
    ignores brief interruptions inside the process. Whole processes that ran while a neighbour
    held the core sit far above the rest (1.5-2x on a shared VM), and how many of them a run
    gets is luck; so levels more than ``cluster_width`` above the ``reference_quantile`` of
    levels (by default the fastest process) are set aside, and the estimate is the geometric
    mean of the levels that remain. Averaging the cluster, rather than taking its edge, keeps
    one lucky process from deciding the result.
    Every step is scale-equivariant: slowing the code by 10 % moves the estimate by 10 %.

    ``median=True`` is the plain median of the samples, for measurements without one-sided
    interference (instruction counts).
    """

    sample_quantile: float = 0.10
    reference_quantile: float = 0.0
    cluster_width: float = 0.30
    median: bool = False

    def label(self) -> str:
        """Short name for reports."""
        if self.median:
            return "median"
        return f"fast-cluster mean of per-process {_qname(self.sample_quantile)}"

    def of_levels(self, levels: np.ndarray) -> np.ndarray:
        """The estimate for each row of ``levels`` (one column per group; NaN pads short rows)."""
        if self.reference_quantile == 0.0:
            ref = np.nanmin(levels, axis=-1, keepdims=True)  # the default, and much faster
        else:
            ref = np.nanquantile(levels, self.reference_quantile, axis=-1, keepdims=True)
        keep = levels <= ref * (1.0 + self.cluster_width)  # NaN compares False: padding drops out
        logs = np.where(keep, np.log(np.where(keep, levels, 1.0)), 0.0)
        return np.exp(logs.sum(axis=-1) / keep.sum(axis=-1))


#: The estimator for instruction counts.
MEDIAN = Estimator(median=True)


@dataclass(frozen=True)
class RatioEstimate:
    """current / baseline of a location estimate, with its bootstrap distribution summarised."""

    baseline: float
    current: float
    ratio: float
    ci_low: float
    ci_high: float
    se_log: float  # standard error of log(ratio) over the bootstrap replicates


def location(values: np.ndarray, groups: np.ndarray | None, estimator: Estimator) -> float:
    """The estimator applied to ``values`` labelled by ``groups`` (``None``: contiguous blocks)."""
    values = np.asarray(values, dtype=float)
    if estimator.median:
        return float(np.median(values))
    groups, _ = unit_labels(len(values), groups)
    table, sizes = _layout(values, groups)
    if table is None:
        # Too few groups: every sample is its own level.
        return float(estimator.of_levels(values))
    levels = np.array([np.quantile(table[g, : sizes[g]], estimator.sample_quantile) for g in range(len(sizes))])
    return float(estimator.of_levels(levels))


def seed_for(name: str, seed: int) -> int:
    """A per-benchmark seed, so a verdict is reproducible and independent of file order."""
    return zlib.crc32(name.encode("utf-8")) ^ (seed * 0x9E3779B1 & 0xFFFFFFFF)


def ratio_interval(
    baseline: np.ndarray,
    current: np.ndarray,
    *,
    estimator: Estimator,
    confidence: float,
    resamples: int,
    rng: np.random.Generator,
    baseline_groups: np.ndarray | None = None,
    current_groups: np.ndarray | None = None,
) -> RatioEstimate:
    """Point estimate and percentile bootstrap interval of ``est(current) / est(baseline)``.

    Each side is resampled by blocks of consecutive groups (see :func:`block_size`). When both
    sides have the same number of blocks, the k-th block of each side is resampled together (a
    paired bootstrap). Groups are numbered in time order, so when base and head were measured
    interleaved the k-th blocks shared the machine's state at that moment, and pairing keeps
    that shared drift out of the interval. For sides measured independently the pairing
    changes nothing but the random draws.
    """
    base_values = np.asarray(baseline, dtype=float)
    cur_values = np.asarray(current, dtype=float)
    base_groups, base_procs = unit_labels(len(base_values), baseline_groups)
    cur_groups, cur_procs = unit_labels(len(cur_values), current_groups)
    base_point = location(base_values, base_groups, estimator)
    cur_point = location(cur_values, cur_groups, estimator)
    base_side = _Side.build(base_values, base_groups, processes=base_procs)
    cur_side = _Side.build(cur_values, cur_groups, processes=cur_procs)
    paired = (
        not estimator.median
        and base_side.table is not None
        and cur_side.table is not None
        and base_side.n_blocks == cur_side.n_blocks
    )
    log_ratios = np.empty(resamples)
    chunk = max(1, _CHUNK_ELEMENTS // max(base_side.elements, cur_side.elements))
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        picked = base_side.pick(count, rng)
        base_boot = base_side.replicates(picked, estimator, rng, count)
        cur_picked = picked if paired else cur_side.pick(count, rng)
        cur_boot = cur_side.replicates(cur_picked, estimator, rng, count)
        log_ratios[start : start + count] = np.log(cur_boot) - np.log(base_boot)
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
    estimator: Estimator,
    resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``resamples`` bootstrap replicates (over processes) of the estimator on ``values``."""
    values = np.asarray(values, dtype=float)
    labels, procs = unit_labels(len(values), groups)
    side = _Side.build(values, labels, processes=procs)
    out = np.empty(resamples)
    chunk = max(1, _CHUNK_ELEMENTS // side.elements)
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        out[start : start + count] = side.replicates(side.pick(count, rng), estimator, rng, count)
    return out


@dataclass(frozen=True)
class _Side:
    """One side's samples, laid out for resampling."""

    values: np.ndarray
    table: np.ndarray | None  # one row per group, padded by repetition; None: pooled samples
    sizes: np.ndarray
    block: int = 1  # consecutive groups resampled together

    @classmethod
    def build(cls, values: np.ndarray, groups: np.ndarray, *, processes: bool = True) -> _Side:
        """``processes``: the groups are worker processes (blocked); else already time blocks."""
        values, groups = _thin(values, groups, MAX_RESAMPLED)
        table, sizes = _layout(values, groups)
        block = block_size(len(sizes)) if processes and table is not None else 1
        return cls(values=values, table=table, sizes=sizes, block=block)

    def levels(self, estimator: Estimator) -> np.ndarray:
        """Each group's level (its ``sample_quantile``)."""
        assert self.table is not None
        return np.array([
            np.quantile(self.table[g, : self.sizes[g]], estimator.sample_quantile) for g in range(self.n_groups)
        ])

    @property
    def n_groups(self) -> int:
        return 0 if self.table is None else self.table.shape[0]

    @property
    def n_blocks(self) -> int:
        return -(-self.n_groups // self.block)

    @property
    def elements(self) -> int:
        return len(self.values) if self.table is None else self.table.size

    def pick(self, count: int, rng: np.random.Generator) -> np.ndarray | None:
        """Which blocks each replicate draws (``None`` when the samples are pooled)."""
        if self.table is None:
            return None
        return rng.integers(0, self.n_blocks, size=(count, self.n_blocks))

    def replicates(
        self, picked: np.ndarray | None, estimator: Estimator, rng: np.random.Generator, count: int
    ) -> np.ndarray:
        """``count`` bootstrap estimates; row i of ``picked`` says which blocks replicate i uses."""
        if self.table is None or estimator.median:
            n = len(self.values)
            draws = self.values[rng.integers(0, n, size=(count, n))]
            return np.median(draws, axis=1) if estimator.median else estimator.of_levels(draws)
        # Blocks of groups only, not samples within them: the spread between groups already
        # contains the noise within each, and resampling both levels would count it twice
        # (Davison & Hinkley 1997, sec. 3.8), which makes the interval needlessly wide.
        blocks = np.full((self.n_blocks * self.block,), np.nan)
        blocks[: self.n_groups] = self.levels(estimator)  # a short last block is padded with NaN
        levels = blocks.reshape(self.n_blocks, self.block)[picked]
        return estimator.of_levels(levels.reshape(count, -1))


def block_size(n_groups: int) -> int:
    """How many consecutive processes are resampled together: up to :data:`BLOCK_PROCESSES`,
    smaller when that would leave fewer than :data:`MIN_BLOCKS` blocks (32 processes: 8 blocks
    of 4; 16 processes: 8 of 2; under 16: one by one)."""
    return max(1, min(BLOCK_PROCESSES, n_groups // MIN_BLOCKS))


def process_count(groups: np.ndarray | tuple[int, ...] | None) -> int | None:
    """How many processes the labels name (``None``: no process labels)."""
    return None if groups is None else len(np.unique(np.asarray(groups)))


def unit_labels(n: int, groups: np.ndarray | tuple[int, ...] | None) -> tuple[np.ndarray, bool]:
    """The labels to resample by, and whether they are processes (then blocked in time).

    With fewer than :data:`MIN_GROUPS` processes, or no labels, the samples are split into
    contiguous blocks in time order instead, as for pytest-benchmark: the interval then shows
    drift within the process but cannot show how much another process would differ, which
    ``decision`` says in its reason.
    """
    if groups is not None and process_count(groups) >= MIN_GROUPS:  # type: ignore[operator]
        return np.asarray(groups), True
    return contiguous_blocks(n), False


def contiguous_blocks(n: int, blocks: int = DEFAULT_BLOCKS) -> np.ndarray:
    """Labels splitting ``n`` time-ordered samples into up to ``blocks`` runs of >= 4 samples."""
    count = max(1, min(blocks, n // 4))
    return (np.arange(n) * count) // max(n, 1)


def min_detectable(threshold: float, se_log: float, confidence: float, power: float = POWER) -> float:
    """Smallest slowdown the decision rule flags with probability ``power``, given ``se_log``.

    A slowdown d is flagged when the estimate clears the threshold *and* the interval's lower
    bound clears 1; each needs the true log-ratio to sit that many standard errors above its bar.
    """
    z_power = _z(power)
    z_conf = _z(1 - (1 - confidence) / 2)
    needed = max(math.log1p(threshold) + z_power * se_log, (z_conf + z_power) * se_log)
    return math.expm1(needed)


def normal_quantile(p: float) -> float:
    """The standard normal quantile at ``p`` (1.645 at 0.95)."""
    return _z(p)


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


def _qname(q: float) -> str:
    return {0.0: "min", 0.5: "median", 1.0: "max"}.get(q, f"p{round(q * 100)}")


def _thin(values: np.ndarray, groups: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    if len(values) <= limit:
        return values, groups
    keep = np.linspace(0, len(values) - 1, limit).round().astype(int)
    return values[keep], groups[keep]


def _layout(values: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray]:
    """Samples one row per group (padded by repetition) and the group sizes; ``None`` if < 3 groups."""
    groups = np.asarray(groups) if groups is not None else contiguous_blocks(len(values))
    labels, inverse = np.unique(groups, return_inverse=True)
    if len(labels) < MIN_GROUPS:
        return None, np.array([len(values)])
    sizes = np.bincount(inverse, minlength=len(labels))
    table = np.empty((len(labels), sizes.max()))
    for g in range(len(labels)):
        row = values[inverse == g]
        table[g] = np.resize(row, sizes.max())
    return table, sizes
