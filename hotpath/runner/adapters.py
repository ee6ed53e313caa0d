"""Adapters: thin wrappers that let a nearly-right compiled variant be exactly right.

* ``finite`` — a value guard. A compiled variant often differs from Python only where NaN or
  inf appear, or arise from overflow (``int(nan)`` and ``int(inf)`` raise in Python, return
  garbage in Numba). Behind this guard every call with a non-finite or astronomically large
  float argument goes to the original.
* ``distinct-arrays`` — an aliasing guard for parallel variants. The analysis that allows
  ``prange`` reasons about array *names*; a caller passing the same buffer twice (``f(x, x)``)
  could make iterations race. Calls whose array arguments may share memory go to the original.
* ``cast-return:DTYPES`` — a return cast. Numba boxes a float32 scalar as a Python float; the
  original returned ``np.float32``. The cast restores the original's scalar types.
* ``min-size:N`` — a size guard. Calls where some array argument is shorter than N along an
  axis go to the original: where a variant differs only on tiny inputs (the Python float a loop
  that never ran returns, where compiled code returns a NumPy one), those calls are never the
  ones worth compiling, and the verification of every larger input still stands.
* ``range:SPEC`` — a value-range guard. A compiled variant that agrees with the original on
  some values of an argument and not on others (int64 wrap-around past 2**63, ``math.exp``
  returning inf where Python raises OverflowError, ``math.sqrt`` of a negative) serves only calls
  whose values lie in the range it was verified on; every other call goes to the original. The
  range is built from the probes the verification ran (``hotpath.runner.inputs.Probe``): it
  holds the captured values and stretches over the probes that agreed, never over one that did
  not. Scalars cost a comparison; arrays a min/max pass, which the candidate's timing includes.
* ``same-lengths:GROUPS`` — a length guard. NumPy raises ValueError where the arrays of an
  element-wise operation do not broadcast; compiled code may not check (Pythran reads past the
  shorter one and returns, parallel Numba raises an AssertionError). A variant that disagreed
  only on such calls (``broadcast/`` cases), probes and tiny inputs serves the calls whose
  array arguments that were equally long in the captured call still are; the others go to the
  original, which raises or broadcasts as NumPy does.

An adapted candidate is a new candidate: it is verified on every input like any other, so the
rule "never install what was not shown equal" still holds, and the adapter's cost is part of
its timing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hotpath.kernels.base import (CAST_RETURN, DISTINCT_ARRAYS, FINITE, MIN_SIZE, RANGE, SAME_LENGTHS, Candidate,
                                  Failure)
from hotpath.runner.inputs import LeafPath, Probe, at, probe_of
from hotpath.runner.probes import SPECIAL_NONFINITE

#: Generated inputs a finite guard routes to the original.
NON_FINITE_CASES = frozenset({"nan", "inf", "huge-float", "scalar-nan", "scalar-inf"})
#: Float scalars beyond this magnitude go to the original (their square would overflow).
SCALAR_LIMIT = 1e150


def _all_finite(args: Iterable[Any]) -> bool:
    for arg in args:
        if isinstance(arg, np.ndarray):  # subclasses too: a memmap holds NaN like any array
            # One BLAS pass: the sum of squares is finite only if no element is NaN or inf and
            # none is near the overflow threshold. Real data that still overflows it merely
            # takes the original, which is always right.
            if arg.dtype.kind in "fc" and arg.size and not np.isfinite(np.vdot(arg, arg)):
                return False
        elif isinstance(arg, (float, np.floating, complex, np.complexfloating)):  # np.float64(nan) too
            if not float(abs(arg)) < SCALAR_LIMIT:
                return False
        elif type(arg) in (tuple, list) and not _all_finite(arg):  # (mu, sigma), [x0, x1]
            return False
    return True


def finite_guard(variant: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any) -> Any:
        if _all_finite(args):
            return variant(*args)
        return original(*args)

    return guarded


def cast_value(result: Any, dtypes: str) -> Any:
    """Cast scalars in ``result`` to ``dtypes`` (comma-separated per tuple item, ``-`` skips one)."""
    kinds = [None if d == "-" else np.dtype(d).type for d in dtypes.split(",")]
    if isinstance(result, tuple) and len(kinds) == len(result) and len(kinds) > 1:
        return tuple(v if k is None or not _plain_scalar(v) else k(v) for v, k in zip(result, kinds))
    kind = kinds[0]
    return kind(result) if kind is not None and _plain_scalar(result) else result


def _distinct(args: tuple[Any, ...]) -> bool:
    arrays = [a for a in _leaves(args) if isinstance(a, np.ndarray)]  # memmaps and tuple items too
    for i, first in enumerate(arrays):
        for second in arrays[i + 1:]:
            if np.may_share_memory(first, second):  # bounds only: cheap, and never misses an overlap
                return False
    return True


def aliasing_guard(variant: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any) -> Any:
        if _distinct(args):
            return variant(*args)
        return original(*args)

    return guarded


def _shortest_axis(args: Iterable[Any]) -> int | None:
    lengths = [min(a.shape) for a in _leaves(args) if isinstance(a, np.ndarray) and a.ndim]
    lengths += [len(a) for a in args if type(a) is list]  # the size cases shorten lists of numbers too
    return min(lengths) if lengths else None


def size_guard(variant: Callable[..., Any], original: Callable[..., Any], minimum: int) -> Callable[..., Any]:
    def guarded(*args: Any) -> Any:
        shortest = _shortest_axis(args)
        if shortest is not None and shortest < minimum:
            return original(*args)
        return variant(*args)

    return guarded


def equal_length_groups(args: Sequence[Any]) -> tuple[tuple[LeafPath, ...], ...]:
    """The array leaves of ``args`` (items of tuples and lists included) grouped by the length of
    their first axis, for the groups of two or more."""
    by_length: dict[int, list[LeafPath]] = {}

    def visit(path: LeafPath, value: Any) -> None:
        if type(value) in (tuple, list):
            for index, item in enumerate(value):
                visit(path + (index,), item)
        elif isinstance(value, np.ndarray) and value.ndim:
            by_length.setdefault(value.shape[0], []).append(path)

    for index, arg in enumerate(args):
        visit((index,), arg)
    return tuple(tuple(group) for group in by_length.values() if len(group) > 1)


def lengths_spec(groups: Sequence[Sequence[LeafPath]]) -> str:
    """``groups`` as a ``SAME_LENGTHS`` adapter's text: ``0,1;2.0,3`` (paths dotted)."""
    return ";".join(",".join(".".join(map(str, path)) for path in group) for group in groups)


def parse_lengths(spec: str) -> tuple[tuple[LeafPath, ...], ...]:
    return tuple(tuple(tuple(int(i) for i in path.split(".")) for path in group.split(","))
                 for group in spec.split(";") if group)


def _lengths_agree(args: Sequence[Any], groups: tuple[tuple[LeafPath, ...], ...]) -> bool:
    for group in groups:
        lengths = set()
        for path in group:
            try:
                value = at(args, path)
            except (IndexError, TypeError):
                return False
            if not isinstance(value, np.ndarray) or not value.ndim:
                return False
            lengths.add(value.shape[0])
        if len(lengths) > 1:
            return False
    return True


def lengths_guard(variant: Callable[..., Any], original: Callable[..., Any], spec: str) -> Callable[..., Any]:
    groups = parse_lengths(spec)

    def guarded(*args: Any) -> Any:
        if _lengths_agree(args, groups):
            return variant(*args)
        return original(*args)

    return guarded


def return_cast(variant: Callable[..., Any], dtypes: str) -> Callable[..., Any]:
    def cast(*args: Any) -> Any:
        return cast_value(variant(*args), dtypes)

    return cast


def _plain_scalar(value: object) -> bool:
    return isinstance(value, (bool, int, float, complex)) and not isinstance(value, np.generic)


def return_dtypes(expected: object) -> str | None:
    """What a cast adapter would need to reproduce ``expected``'s scalar types, if anything."""
    items = expected if isinstance(expected, tuple) else (expected,)
    dtypes = [str(v.dtype) if isinstance(v, np.generic) else "-" for v in items]
    return None if all(d == "-" for d in dtypes) else ",".join(dtypes)


def _leaves(values: Iterable[Any]) -> Iterable[Any]:
    for value in values:
        if type(value) in (tuple, list):
            yield from _leaves(value)
        else:
            yield value


# --- value ranges ------------------------------------------------------------------------


#: A range guard admits integer scalars up to this magnitude at most: the probes vary one
#: argument at a time, and a sum or product of a few values this size still fits in 64 bits,
#: where two values that each passed near 2**62 could overflow together.
INT_HEADROOM = 2**31


def _combines(value: Any) -> bool:
    """Whether values of this leaf overflow together rather than one by one: integers that a sum
    accumulates in another width compiled (NumPy's int16 wraps, Numba's sum is int64) or
    without bound (a list of Python ints). A range on single values cannot guard them."""
    if isinstance(value, list):
        return any(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return isinstance(value, np.ndarray) and value.dtype.kind in "iu" and (value.dtype.itemsize < 8
                                                                          or value.dtype.kind == "u")


def value_probe(args: Sequence[Any], path: LeafPath) -> Probe | None:
    """The range of values at ``path`` in ``args`` as a probe; None where it holds no numbers, or
    numbers no range guard can cover (see ``_combines``)."""
    value = at(args, path)
    return None if _combines(value) else probe_of(path, value)


@dataclass(frozen=True)
class LeafRange:
    """The values one argument leaf may hold for the guarded variant to serve the call."""

    path: LeafPath
    low: float
    high: float
    nan: bool  # whether NaN was verified (a variant that mishandles NaN gets False)

    def admits(self, args: Sequence[Any]) -> bool:
        try:
            value = at(args, self.path)
        except (IndexError, TypeError):  # a shorter list than the one verified: not this range's call
            return False
        if isinstance(value, np.ndarray):
            if not value.size:
                return True
            low, high = value.min(), value.max()
            if low != low or high != high:  # NaN somewhere
                if not self.nan:
                    return False
                low, high = np.nanmin(value), np.nanmax(value)
                if low != low:  # all NaN
                    return True
            return bool(self.low <= low and high <= self.high)
        if isinstance(value, list):
            return all(self._admits_scalar(v) for v in value)
        return self._admits_scalar(value)

    def _admits_scalar(self, value: Any) -> bool:
        if value != value:
            return self.nan
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and abs(value) > INT_HEADROOM:
            return False
        # Python ints compare exactly with floats, however large.
        return bool(self.low <= value <= self.high)


def verified_range(captured: Probe, failed: Sequence[Probe], passed: Sequence[Probe]) -> LeafRange | None:
    """The widest range around the captured values that every failing probe of this leaf lies
    outside, stretched only as far as probes that agreed reach; None when a failing probe
    overlaps the captured values themselves (no range can separate them)."""
    nan_ok = not any(p.nan for p in failed)
    low, high = captured.low, captured.high
    if captured.nan and not nan_ok:
        return None
    if not low <= high:  # the captured leaf held no numbers (only NaN): nothing to centre a range on
        return None
    blocking = [p for p in failed if p.low <= p.high and not p.nan]
    if any(p.low <= high and low <= p.high for p in blocking):
        return None
    above = min((p.low for p in blocking if p.low > high), default=math.inf)
    below = max((p.high for p in blocking if p.high < low), default=-math.inf)
    # Strict: values beyond the farthest agreeing probe were never tried, so they are not admitted
    # even on a side where nothing failed.
    for probe in passed:
        if probe.low <= probe.high and below < probe.low and probe.high < above:
            low, high = min(low, probe.low), max(high, probe.high)
    return LeafRange(captured.path, low, high, nan_ok)


def range_spec(ranges: Sequence[LeafRange]) -> str:
    return json.dumps([[list(r.path), r.low, r.high, r.nan] for r in ranges])


def parse_ranges(spec: str) -> tuple[LeafRange, ...]:
    return tuple(LeafRange(tuple(path), float(low), float(high), bool(nan)) for path, low, high, nan in json.loads(spec))


def shift_count_guard(positions: Sequence[int]) -> str:
    """The range adapter that keeps the arguments at ``positions`` (shift counts) in 0..63, the
    counts compiled code defines."""
    return RANGE + range_spec([LeafRange((position,), 0, 63, False) for position in positions])


def range_guard(variant: Callable[..., Any], original: Callable[..., Any], spec: str) -> Callable[..., Any]:
    ranges = parse_ranges(spec)

    def guarded(*args: Any) -> Any:
        for allowed in ranges:
            if not allowed.admits(args):
                return original(*args)
        return variant(*args)

    return guarded


def _range_refinement(failure: Failure) -> str | None:
    """The range-guard adapter that would route every failing probe to the original, if any."""
    if not failure.failed_probes:
        return None
    captured = {p.path: p for p in failure.captured_probes}
    ranges = []
    for path in sorted({p.path for p in failure.failed_probes}):
        if path not in captured:
            return None
        allowed = verified_range(captured[path], [p for p in failure.failed_probes if p.path == path],
                                 [p for p in failure.passed_probes if p.path == path])
        if allowed is None:
            return None
        ranges.append(allowed)
    return RANGE + range_spec(ranges)


def apply(adapters: tuple[str, ...], variant: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    """``variant`` wrapped in ``adapters``, innermost first."""
    for adapter in adapters:
        if adapter == FINITE:
            variant = finite_guard(variant, original)
        elif adapter == DISTINCT_ARRAYS:
            variant = aliasing_guard(variant, original)
        elif adapter.startswith(CAST_RETURN):
            variant = return_cast(variant, adapter[len(CAST_RETURN):])
        elif adapter.startswith(RANGE):
            variant = range_guard(variant, original, adapter[len(RANGE):])
        elif adapter.startswith(MIN_SIZE):
            variant = size_guard(variant, original, int(adapter[len(MIN_SIZE):]))
        elif adapter.startswith(SAME_LENGTHS):
            variant = lengths_guard(variant, original, adapter[len(SAME_LENGTHS):])
        else:
            raise ValueError(f"unknown adapter {adapter!r}")
    return variant


def refine(candidate: Candidate, failure: Failure) -> Candidate | None:
    """The candidate with the adapters that would fix ``failure``, or None when none would.

    One refinement carries every adapter the failure calls for (a cast and the guards), since
    the worker verified past the inputs that only a cast or a guard would fix.
    """
    present = candidate.adapters
    added: list[str] = []
    if failure.return_dtypes and not _has(present, CAST_RETURN):
        added.append(CAST_RETURN + failure.return_dtypes)
    non_finite = failure.case in NON_FINITE_CASES or (failure.case or "").startswith(SPECIAL_NONFINITE)
    if non_finite and FINITE not in present:
        added.append(FINITE)
    if (guard := _range_refinement(failure)) and guard not in present:
        added.append(guard)
    if failure.below_size is not None and not _has(present, MIN_SIZE):
        added.append(f"{MIN_SIZE}{failure.below_size}")
    if failure.equal_lengths and not _has(present, SAME_LENGTHS):
        added.append(SAME_LENGTHS + lengths_spec(failure.equal_lengths))
    if not added:
        return None
    return _with(candidate, added)


def _label(adapter: str) -> str:
    """What ``adapter`` adds to a candidate's name."""
    for prefix, label in ((CAST_RETURN, "+cast-return"), (FINITE, "+finite-guard"), (RANGE, "+range-guard"),
                          (MIN_SIZE, "+min-size"), (DISTINCT_ARRAYS, "+distinct-arrays"),
                          (SAME_LENGTHS, "+same-lengths")):
        if adapter.startswith(prefix):
            return label
    return "+" + adapter


def _with(candidate: Candidate, added: list[str]) -> Candidate:
    return replace(candidate, name=candidate.name + "".join(_label(a) for a in added),
                   adapters=(*candidate.adapters, *added))


def added_by(before: Candidate, after: Candidate) -> tuple[str, ...]:
    """The adapters ``after`` (a refinement of ``before``) carries that ``before`` did not."""
    return tuple(a for a in after.adapters if a not in before.adapters)


def with_learned(candidate: Candidate, learned: tuple[str, ...]) -> Candidate:
    """``candidate`` with the adapters a sibling's refinement needed, of kinds it has none of.

    What they route away is the function's behaviour or the backend's, not one variant's: a
    range guard's values (``range(-2**64)``, products past int64) fail in every compiled
    backend, a Numba variant returns a Python float wherever its sibling did. Given up front,
    they spare the trial each candidate would spend finding them again.
    """
    present = {_label(a) for a in candidate.adapters}
    added = [a for a in learned if _label(a) not in present]
    return _with(candidate, added) if added else candidate


def _has(adapters: tuple[str, ...], prefix: str) -> bool:
    return any(a.startswith(prefix) for a in adapters)


def describe(adapter: str) -> str:
    """``adapter`` in a few words, for summaries, ``hotpath explain`` and the report."""
    if adapter == FINITE:
        return "finite-value guard: calls with NaN, inf or huge floats go to the original"
    if adapter == DISTINCT_ARRAYS:
        return "aliasing guard: calls whose arrays share memory go to the original"
    if adapter.startswith(CAST_RETURN):
        kinds = [f"numpy.{d}" for d in adapter[len(CAST_RETURN):].split(",") if d != "-"]
        return f"casts the result to {', '.join(kinds)}"
    if adapter.startswith(MIN_SIZE):
        minimum = int(adapter[len(MIN_SIZE):])
        shorter = "empty arrays" if minimum == 1 else f"arrays shorter than {minimum}"
        return f"size guard: {shorter} go to the original"
    if adapter.startswith(SAME_LENGTHS):
        groups = [" and ".join(_argument(path) for path in group)
                  for group in parse_lengths(adapter[len(SAME_LENGTHS):])]
        where = f"{groups[0]} differ in length" + "".join(f", or {group} do," for group in groups[1:])
        return f"length guard: calls where {where} go to the original"
    if adapter.startswith(RANGE):
        parts = []
        for r in parse_ranges(adapter[len(RANGE):]):
            parts.append(f"{_argument(r.path)}: {_number(r.low)}..{_number(r.high)}" + ("" if r.nan else ", no NaN"))
        return "range guard on " + "; ".join(parts)
    return adapter


def _argument(path: LeafPath) -> str:
    """``argument 2, item 1`` for the leaf at ``(1, 0)``."""
    return f"argument {path[0] + 1}" + "".join(f", item {i + 1}" for i in path[1:])


def _number(value: float) -> str:
    """A range bound as people write it: ``2**31`` rather than 2147483648.0."""
    if math.isinf(value) or value != value:
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1024 and magnitude == int(magnitude) and int(magnitude) & (int(magnitude) - 1) == 0:
        return f"{'-' if value < 0 else ''}2**{int(magnitude).bit_length() - 1}"
    return f"{value:g}" if magnitude != int(magnitude) or magnitude >= 1e15 else str(int(value))
