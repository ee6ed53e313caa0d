"""Paired, interleaved timing of a candidate against the original, and its statistics.

Each pair times the original and the candidate back to back on arguments of the captured
call's signature whose values are fresh for every call (``timed_run``), alternating which goes
first, so slow drifts of a shared machine hit both alike.
The speedup is the median of the per-pair ratios; its confidence interval comes from order
statistics (distribution-free: no normality assumed for timings, which are skewed). A candidate
is installed only when the interval's lower bound clears the required speedup, so one lucky
sample cannot win.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hotpath.kernels.base import expect_schema, pairs_from_json, pairs_to_json
from hotpath.runner.outcome import Outcome, aliased_arguments, fresh_args, mutable_view, rescale, scalable_arrays

#: The smallest number of pairs whose [min, max] already covers the median with >= 95%.
MIN_PAIRS = 6
MAX_PAIRS = 200
#: Samples shorter than this are dominated by timer and call overhead; loop instead.
MIN_SAMPLE_S = 1e-3
#: The ``schema`` key of ``Timing.to_json``.
TIMING_SCHEMA = "hotpath.timing/1"


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

    def to_json(self) -> dict[str, Any]:
        """Every field as plain JSON (``parts`` as ``[name, seconds]`` pairs), under ``TIMING_SCHEMA``."""
        return {"schema": TIMING_SCHEMA, "original_s": self.original_s, "candidate_s": self.candidate_s,
                "speedup": self.speedup, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "confidence": self.confidence, "pairs": self.pairs, "loops": self.loops,
                "parts": pairs_to_json(self.parts), "mean_speedup": self.mean_speedup}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Timing:
        """The timing ``to_json`` wrote; equal to the one it was written from."""
        expect_schema(data, TIMING_SCHEMA)
        mean = data.get("mean_speedup")
        return cls(float(data["original_s"]), float(data["candidate_s"]), float(data["speedup"]),
                   float(data["ci_low"]), float(data["ci_high"]), float(data["confidence"]), int(data["pairs"]),
                   int(data["loops"]), tuple((k, float(v)) for k, v in pairs_from_json(data.get("parts", ()))),
                   None if mean is None else float(mean))

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


@dataclass(frozen=True)
class TimedRun:
    """A timing and what the run saw besides: the candidate's outcomes on the checked inputs
    (scale factor, outcome), and the run's total seconds by its own clock."""

    timing: Timing
    checked: tuple[tuple[float, Outcome], ...] = ()
    wall_s: float = 0.0


def measure(original: Callable[..., Any], candidate: Callable[..., Any], args: tuple[Any, ...],
            mutates: bool, budget_s: float, confidence: float = 0.95,
            sync: Callable[[], None] | None = None) -> Timing:
    """Time ``candidate`` against ``original`` on ``args`` (both already warm); see ``timed_run``."""
    return timed_run(original, candidate, args, mutates, budget_s, confidence, sync).timing


def timed_run(original: Callable[..., Any], candidate: Callable[..., Any], args: tuple[Any, ...],
              mutates: bool, budget_s: float, confidence: float = 0.95,
              sync: Callable[[], None] | None = None, clock: Callable[[], float] | None = None,
              checked_factors: Sequence[float] = (), seed: int | None = None,
              after_sample: Callable[[], None] | None = None) -> TimedRun:
    """Time ``candidate`` against ``original`` on inputs like ``args`` (both already warm).

    Every timed call gets inputs of ``args``' signature with fresh values, set outside the timed
    interval: before each sample the floating-point arrays are rewritten as ``args``' times a
    factor drawn for it (``rescale``; a mutating function's arguments are restored first), and
    before each call of a sample one element moves (``_poke``). So no two calls see the same
    content: an answer cached by the identity of an input is stale, one cached by its content
    never hits, and a call cannot tell a timed call from any other. Each call is timed on its
    own, with ``clock`` (default ``time.perf_counter``; a sandbox worker passes one bound before
    the candidate was imported), less the clock's own cost. The number of warm-up calls, of
    calls per sample and of pairs are drawn at random (from ``seed``), so a candidate cannot
    count its way to the calls that are timed.

    ``checked_factors``: for each, one candidate call at a random place among the pairs (not
    the first of its sample, so the call before it had the same arrays) gets exactly the
    captured floats times that factor, and its outcome is kept (``TimedRun.checked``) for
    the caller to compare with the original's on the same input. ``sync`` waits for a device
    the candidate launched work on (a GPU runs asynchronously: without it the clock would stop
    before the work is done); it is called inside every timed candidate call. ``after_sample``
    is called after each pair (the sandbox's check that no thread outlives a call).
    """
    draw = random.Random(seed if seed is not None else random.SystemRandom().getrandbits(64))
    clock = clock or time.perf_counter
    began = clock()
    pristine = fresh_args(args)
    works = {"original": fresh_args(args), "candidate": fresh_args(args)}
    overhead = _clock_cost(clock)

    def fresh(which: str, factor: float) -> tuple[Any, ...]:
        work = works[which]
        if mutates:
            restore(work, pristine)
        rescale(work, pristine, factor)
        return work

    def factor() -> float:
        return fresh_factor(draw)

    # A few untimed calls of each, their number drawn; the last tells how many calls a sample
    # needs to rise above timer noise.
    for _ in range(draw.randint(0, 2)):
        candidate(*fresh("candidate", factor()))
    for _ in range(draw.randint(0, 2)):
        original(*fresh("original", factor()))
    work = fresh("original", factor())
    start = clock()
    original(*work)
    single = clock() - start
    loops = 1 if mutates else max(1, math.ceil(MIN_SAMPLE_S / max(single, 1e-9)))
    loops += draw.randint(0, loops // 4)
    min_pairs = MIN_PAIRS + draw.randint(0, 3)
    # Where the checked calls go: a random pair among those the budget is expected to allow (any
    # not reached by the end is made after the last pair, just the same), and a random call of
    # its sample other than the first, so the call before it saw the same arrays.
    expected_pairs = max(min_pairs, min(MAX_PAIRS, int(budget_s / max(2 * single * loops, 1e-9))))
    pending: dict[int, tuple[int, float]] = {}
    for f in checked_factors:
        pair = draw.randrange(expected_pairs)
        while pair in pending:  # one checked call per sample
            pair += 1
        pending[pair] = (draw.randrange(1, loops) if loops > 1 else 0, f)
    checked: list[tuple[float, Outcome]] = []
    pokeable = {which: scalable_arrays(work) for which, work in works.items()}

    def sample(fn: Callable[..., Any], which: str, pair: int) -> float:
        # The sample's arrays get the captured values times a factor drawn for it (the checked
        # call's factor, in its sample), outside the timed calls; then before each call but the
        # checked one, one element is changed (``_poke``; the one changed before is put back
        # first), so no two calls see the same content and the checked call sees exactly the
        # factor's. One element, not the whole input: rewriting it all between calls would
        # leave the caches in another state than repeated calls of a real program find them.
        at, f = pending.pop(pair) if fn is candidate and pair in pending else (-1, factor())
        work = fresh(which, f)
        leaves = pokeable[which] if loops > 1 else []
        undo: tuple[np.ndarray, int, Any] | None = None
        total = 0.0
        for call in range(loops):
            if undo is not None:
                leaf, index, value = undo
                leaf.flat[index] = value
                undo = None
            if leaves and call != at:
                undo = _poke(leaves[draw.randrange(len(leaves))], draw)
            begin = clock()
            returned = fn(*work)
            if sync is not None and fn is candidate:
                sync()
            total += clock() - begin - overhead
            if call == at:
                # Kept as they are now: a later call reuses the same objects.
                checked.append((f, Outcome(returned=copy.deepcopy(returned),
                                           args_after=copy.deepcopy(mutable_view(work)),
                                           aliases=aliased_arguments(returned, work))))
        return max(total, 0.0) / loops

    originals: list[float] = []
    candidates: list[float] = []
    deadline = clock() + budget_s
    while len(originals) < MAX_PAIRS and (len(originals) < min_pairs or clock() < deadline):
        pair = len(originals)
        if pair % 2 == 0:
            t_o = sample(original, "original", pair)
            t_c = sample(candidate, "candidate", pair)
        else:
            t_c = sample(candidate, "candidate", pair)
            t_o = sample(original, "original", pair)
        originals.append(max(t_o, 1e-12))
        candidates.append(max(t_c, 1e-12))
        if after_sample is not None:
            after_sample()
    for pair in sorted(pending):
        sample(candidate, "candidate", pair)
    ratios = [o / c for o, c in zip(originals, candidates)]
    low, high = median_interval(ratios, confidence)
    timing = Timing(
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
    return TimedRun(timing, tuple(checked), clock() - began)


def fresh_factor(draw: random.Random) -> float:
    """A scale factor for fresh timed inputs: just below 1, so every float shrinks towards zero
    (and ``rescale`` clips it to the captured range of values: an index held as a float stays in
    bounds, a positive value positive, a sorted array sorted, a range guard passed) while
    differing in the last dozen bits."""
    return 1.0 - draw.uniform(2.0**-14, 2.0**-12)


def _poke(leaf: np.ndarray, draw: random.Random) -> tuple[np.ndarray, int, Any] | None:
    """Move one element of ``leaf`` to the midpoint with its neighbour in memory order (so it
    stays between values the array holds: a sorted array stays sorted); what undoes it."""
    if leaf.size < 2 or leaf.dtype.kind != "f":
        return None
    index = draw.randrange(leaf.size)
    value = leaf.flat[index]
    other = leaf.flat[index - 1 if index else 1]
    if not (math.isfinite(value) and math.isfinite(other)):
        return None
    leaf.flat[index] = (value + other) / 2
    return leaf, index, value


def _clock_cost(clock: Callable[[], float]) -> float:
    """What one reading of ``clock`` adds to an interval it ends (the median of many)."""
    gaps = []
    for _ in range(201):
        a = clock()
        gaps.append(clock() - a)
    return sorted(gaps)[len(gaps) // 2]
