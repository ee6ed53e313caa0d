"""Paired, interleaved timing of a candidate against the original, and its statistics.

Each pair times the original and the candidate back to back on identical, freshly restored
arguments, alternating which goes first, so slow drifts of a shared machine hit both alike.
The speedup is the median of the per-pair ratios; its confidence interval comes from order
statistics (distribution-free: no normality assumed for timings, which are skewed). A candidate
is installed only when the interval's lower bound clears the required speedup, so one lucky
sample cannot win.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The smallest number of pairs whose [min, max] already covers the median with >= 95%.
MIN_PAIRS = 6
MAX_PAIRS = 200
#: Samples shorter than this are dominated by timer and call overhead; loop instead.
MIN_SAMPLE_S = 1e-3


@dataclass(frozen=True)
class Timing:
    """How a candidate's speed compares with the original's, from ``pairs`` paired samples."""

    original_s: float  # median seconds per call
    candidate_s: float
    speedup: float  # median of per-pair ratios original / candidate
    ci_low: float
    ci_high: float
    confidence: float
    pairs: int
    loops: int  # calls per sample
    #: Where a device variant's time goes, e.g. (("transfer_s", 0.004), ("compute_s", 0.001)):
    #: measured apart from the pairs above, for the user; the install decision is end to end.
    parts: tuple[tuple[str, float], ...] = ()
    #: Total original time over total candidate time across the pairs: where the median says
    #: how the typical call compares, this says what the calls cost together, so a variant whose
    #: rare calls take 1000x longer (a parallel loop waiting for a busy core) loses here.
    mean_speedup: float | None = None

    def holds(self, min_speedup: float) -> bool:
        """Significantly faster at the median, and faster on the mean: the install bar."""
        mean = self.speedup if self.mean_speedup is None else self.mean_speedup
        return self.ci_low > min_speedup and mean > min_speedup

    def __str__(self) -> str:
        text = f"{self.speedup:.2f}x [{self.ci_low:.2f}, {self.ci_high:.2f}]"
        if self.parts:
            text += " (" + ", ".join(f"{k.removesuffix('_s')} {v * 1e3:.3f} ms" for k, v in self.parts) + ")"
        return text


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median, from order statistics.

    With ``n`` sorted values, ``[x_(k), x_(n-k+1)]`` covers the median with probability
    ``1 - 2 * P(Binomial(n, 1/2) < k)``; the largest ``k`` that keeps that above ``confidence``
    gives the tightest such interval.
    """
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no values")
    alpha = 1.0 - confidence
    k = 0  # number of values dropped on each side
    cumulative = 0.0
    for j in range(n // 2):
        cumulative += math.comb(n, j) / 2.0**n  # P(B <= j)
        if 2 * cumulative > alpha:
            break
        k = j + 1
    if k == 0:
        return ordered[0], ordered[-1]
    return ordered[k - 1], ordered[n - k]


def restore(target: tuple[Any, ...], pristine: tuple[Any, ...]) -> tuple[Any, ...]:
    """Put ``pristine``'s values back into ``target``'s objects, in place (the caller keeps its
    references, also to arrays inside its tuples, lists and dicts); returns ``target``.

    ``pristine`` is never aliased into ``target``: it may be restored from again. Where arrays of
    ``target`` overlap, ``pristine`` must be a copy that keeps the overlap (``copy_args``): every
    view is then written from one copy of the memory, so the bytes they share get one value
    whatever the order of the writes.
    """
    for current, original in zip(target, pristine):
        _restored(current, original)
    return target


def _restored(current: Any, original: Any) -> Any:
    """``current`` with ``original``'s values, changed in place where it can be; else a copy of
    ``original`` for the container holding it to take."""
    if isinstance(current, np.ndarray):
        if current.flags.writeable and current.shape == np.shape(original):
            np.copyto(current, original)
            return current
        return current if not current.flags.writeable else copy.deepcopy(original)
    if isinstance(current, tuple):  # cannot change, but the arrays it holds can
        if isinstance(original, tuple) and len(current) == len(original):
            for item, before in zip(current, original):
                _restored(item, before)
        return current
    if isinstance(current, list) and isinstance(original, list) and len(current) == len(original):
        for i, before in enumerate(original):
            current[i] = _restored(current[i], before)
        return current
    if isinstance(current, dict) and isinstance(original, dict) and current.keys() == original.keys():
        for key, before in original.items():
            current[key] = _restored(current[key], before)
        return current
    if isinstance(current, (list, bytearray)):
        current[:] = copy.deepcopy(original)
        return current
    if isinstance(current, (dict, set)):
        current.clear()
        current.update(copy.deepcopy(original))
        return current
    return copy.deepcopy(original)  # immutable (the same object back) or not restorable in place


def measure(original: Callable[..., Any], candidate: Callable[..., Any], args: tuple[Any, ...],
            mutates: bool, budget_s: float, confidence: float = 0.95,
            sync: Callable[[], None] | None = None) -> Timing:
    """Time ``candidate`` against ``original`` on ``args`` (both already warm).

    ``sync`` waits for a device the candidate launched work on (a GPU runs asynchronously:
    without it the clock would stop before the work is done); it is called inside every
    candidate sample.
    """
    pristine = copy.deepcopy(args)
    works = {"original": copy.deepcopy(args), "candidate": copy.deepcopy(args)}
    clock = time.perf_counter

    # One call tells how many calls a sample needs to rise above timer noise.
    start = clock()
    original(*works["original"])
    single = clock() - start
    loops = 1 if mutates else max(1, math.ceil(MIN_SAMPLE_S / max(single, 1e-9)))

    def sample(fn: Callable[..., Any], which: str) -> float:
        if mutates:
            restore(works[which], pristine)
        work = works[which]
        begin = clock()
        for _ in range(loops):
            fn(*work)
        if sync is not None and fn is candidate:
            sync()
        return (clock() - begin) / loops

    originals: list[float] = []
    candidates: list[float] = []
    deadline = clock() + budget_s
    while len(originals) < MAX_PAIRS and (len(originals) < MIN_PAIRS or clock() < deadline):
        if len(originals) % 2 == 0:
            t_o = sample(original, "original")
            t_c = sample(candidate, "candidate")
        else:
            t_c = sample(candidate, "candidate")
            t_o = sample(original, "original")
        originals.append(t_o)
        candidates.append(max(t_c, 1e-12))
    ratios = [o / c for o, c in zip(originals, candidates)]
    low, high = median_interval(ratios, confidence)
    return Timing(
        original_s=float(np.median(originals)),
        candidate_s=float(np.median(candidates)),
        speedup=float(np.median(ratios)),
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        pairs=len(ratios),
        loops=loops,
        mean_speedup=sum(originals) / sum(candidates),
    )
