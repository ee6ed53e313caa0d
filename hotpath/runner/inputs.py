"""The inputs a candidate is verified on: the captured arguments plus generated edge cases.

Generated cases keep the captured call's signature (dtype, ndim, layout, writeability), so
they test exactly the code path that would be installed. Sizes shrink every array axis by the
same amount, which keeps additive relations between shapes (an output two shorter than its
input, a matrix and a vector of matching length) intact. Value cases start from a small size so
they cost little; they poke NaN, inf, -0.0, huge magnitudes and overflowing integers into every
array and scalar of the matching kind.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hotpath.signature import signature_of

CAPTURED = "captured"
#: A shrunk case holding more array bytes than this is shrunk along its long axes only.
SMALL_CASE_BYTES = 1 << 20
#: Axes at most this long may be a fixed dimension (coordinates, features, channels).
LONG_AXIS = 64
#: Cases that only shrink the captured arguments: every value in them is a captured one.
SHAPE_CASES = frozenset({CAPTURED, "empty", "length-1", "size-2", "size-7"})
#: The generated cases that only shrink the arrays, by the length of their shortest axis. A
#: variant may differ from the original there in ways no fix of its code removes (a Python loop
#: that never ran returns the Python float it started from, compiled code a NumPy one), so such
#: a variant can serve calls above that size only (``hotpath.runner.adapters``).
SIZE_CASES = {"empty": 0, "length-1": 1, "size-2": 2}


#: Where a value sits in a call's arguments: the argument's position, then the indices of the
#: tuple (or list) items leading to it. ``(1, 0)`` is ``mu`` in ``f(x, (mu, sigma))``.
LeafPath = tuple[int, ...]


@dataclass(frozen=True)
class Probe:
    """What a generated case changed: the values of exactly one numeric leaf of the arguments.

    A value guard is built from probes: when a candidate disagrees on some probes of a leaf and
    agrees on others, the candidate may still be installed behind a guard that sends values
    outside the range it agreed on to the original. ``low``/``high`` are the smallest and largest
    values the leaf holds in this case (NaN ignored; ``±inf`` allowed), ``nan`` whether it holds a
    NaN. A case that changes more than one leaf carries no probe. Most probes start from the
    captured arguments with every array shrunk alike (``size-7``): the other leaves then hold a
    prefix of their captured values, and only the probed leaf holds values never captured. A
    case that changes one leaf's size alone (an empty index array) carries no probe.
    """

    path: LeafPath
    low: float
    high: float
    nan: bool = False


def at(args: Sequence[Any], path: LeafPath) -> Any:
    """The value at ``path`` in ``args``."""
    value: Any = args
    for index in path:
        value = value[index]
    return value


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:  # a Python int beyond float range
        return math.inf if value > 0 else -math.inf


def probe_of(path: LeafPath, value: Any) -> Probe | None:
    """The probe for a leaf holding ``value`` (a number, an array of any ndarray type, a list of
    numbers): its smallest and largest values, NaN noted; None when it holds none."""
    if isinstance(value, np.ndarray):
        if value.size == 0 or value.dtype.kind not in "biuf":
            return None
        if value.dtype.kind == "f":
            nan = bool(np.isnan(value).any())
            rest = value[~np.isnan(value)]
            if rest.size == 0:
                return Probe(path, math.nan, math.nan, True)
            return Probe(path, float(rest.min()), float(rest.max()), nan)
        return Probe(path, _as_float(value.min().item()), _as_float(value.max().item()), False)
    items = value if type(value) is list else [value]
    if not items or not all(isinstance(v, (int, float, np.integer, np.floating)) for v in items):
        return None
    numbers = [_as_float(v) for v in items]
    nan = any(math.isnan(v) for v in numbers)
    rest = [v for v in numbers if not math.isnan(v)]  # type: ignore[assignment]
    if not rest:
        return Probe(path, math.nan, math.nan, True)
    return Probe(path, min(rest), max(rest), nan)


@dataclass(frozen=True)
class InputCase:
    """One set of positional arguments to run the original and a candidate on."""

    name: str
    args: tuple[Any, ...]
    probe: Probe | None = None  # set when the case changed one leaf's values and nothing else


def _is_data_array(value: object) -> bool:
    # Subclasses too (a memmap, a user's array type): they are varied like any array, as themselves.
    return isinstance(value, np.ndarray) and value.ndim >= 1 and value.dtype.kind in "biufc"


def _arrays(args: Sequence[object]) -> list[np.ndarray]:
    return [a for a in args if _is_data_array(a)]  # type: ignore[misc]


def _number_lists(args: Sequence[object]) -> list[list[Any]]:
    return [a for a in args if type(a) is list and a and all(type(v) in (int, float) for v in a)]


def like_layout(new: np.ndarray, template: np.ndarray) -> np.ndarray:
    """A fresh copy of ``new``'s values with ``template``'s memory layout and write flag."""
    flags = template.flags
    if flags.c_contiguous or flags.f_contiguous:
        out = np.array(new, order="C" if flags.c_contiguous else "F", copy=True)
    else:
        # A strided view, as the caller passed: the values in every other element of a buffer.
        buffer = np.empty(new.shape[:-1] + (new.shape[-1] * 2,), dtype=new.dtype)
        out = buffer[..., ::2]
        out[...] = new
    if type(template) is not np.ndarray:
        out = out.view(type(template))
    if not flags.writeable:
        out.flags.writeable = False
    return out


def _map_arrays(args: tuple[Any, ...], change: Callable[[np.ndarray], np.ndarray]) -> tuple[Any, ...]:
    # Memo by identity: an array passed twice stays one array, so aliasing is preserved.
    memo: dict[int, np.ndarray] = {}
    out = []
    for arg in args:
        if _is_data_array(arg):
            if id(arg) not in memo:
                memo[id(arg)] = like_layout(change(arg), arg)
            out.append(memo[id(arg)])
        else:
            out.append(copy.deepcopy(arg))
    return tuple(out)


def shrunk(args: tuple[Any, ...], target: int) -> tuple[Any, ...] | None:
    """``args`` with every array axis and every list of numbers shortened alike so the shortest is
    ``target`` long, or None.

    Where that leaves the arguments large, because a short axis (3 coordinates, 10 features)
    limits how far the others can shrink, only the axes longer than ``LONG_AXIS`` are shortened,
    alike, so the shortest of them is ``target`` long: a (2000000, 10) matrix and its 2000000
    labels become (7, 10) and 7 instead of (1999997, 7) and 1999997. Each generated case is a
    copy, and dozens of copies of the captured arrays did not fit in the sandbox's memory.
    """
    arrays, lists = _arrays(args), _number_lists(args)
    if not arrays and not lists:
        return None
    lengths = [n for a in arrays for n in a.shape] + [len(v) for v in lists]
    delta = min(lengths) - target
    alike = _shortened(args, lists, lambda n: n - delta) if delta > 0 else None
    if alike is not None and array_bytes(alike) <= SMALL_CASE_BYTES:
        return alike
    long = [n for n in lengths if n > max(LONG_AXIS, target)]
    if not long:
        return alike
    cut = min(long) - target
    return _shortened(args, lists, lambda n: n - cut if n > max(LONG_AXIS, target) else n)


def _shortened(args: tuple[Any, ...], lists: list[list[Any]], length: Callable[[int], int]) -> tuple[Any, ...]:
    shorter = _map_arrays(args, lambda a: a[tuple(slice(0, length(n)) for n in a.shape)])
    return tuple(list(new[:length(len(new))]) if any(old is v for v in lists) else new
                 for old, new in zip(args, shorter))


def array_bytes(args: tuple[Any, ...]) -> int:
    """The bytes the arrays in ``args`` hold (views count their own extent)."""
    return sum(a.nbytes for a in _arrays(args))


def _with_values(args: tuple[Any, ...], kinds: str, poke: Callable[[np.ndarray], None]) -> tuple[Any, ...] | None:
    if not any(a.dtype.kind in kinds and a.size for a in _arrays(args)):
        return None

    # Poke through a contiguous copy: ravel() of a strided array would be a copy, not a view.
    def contiguous_change(a: np.ndarray) -> np.ndarray:
        b = np.ascontiguousarray(np.array(a, copy=True))
        if b.dtype.kind in kinds and b.size:
            poke(b.reshape(-1))
        return b

    return _map_arrays(args, contiguous_change)


def _poke_nan(flat: np.ndarray) -> None:
    flat[0] = np.nan
    flat[flat.size // 2] = np.nan


def _poke_inf(flat: np.ndarray) -> None:
    flat[-1] = np.inf
    flat[flat.size // 2] = -np.inf


def _poke_negative_zero(flat: np.ndarray) -> None:
    flat[::2] = -0.0


def _poke_huge_float(flat: np.ndarray) -> None:
    # Squares and sums of these overflow to inf.
    flat *= np.sqrt(np.finfo(flat.dtype).max)
    flat[0] = np.finfo(flat.dtype).max / 2


def _poke_huge_int(flat: np.ndarray) -> None:
    # Any sum of four of these, or any product of two, overflows the fixed width.
    flat[:] = np.iinfo(flat.dtype).max // 3


def _poke_huge_negative_int(flat: np.ndarray) -> None:
    flat[:] = np.iinfo(flat.dtype).min // 3


def _poke_bool(flat: np.ndarray) -> None:
    flat[:] = True


def _scalars(args: tuple[Any, ...], kind: type, value: Any) -> tuple[Any, ...] | None:
    if not any(type(a) is kind for a in args):
        return None
    return tuple(value if type(a) is kind else a for a in args)


def generic_cases(args: tuple[Any, ...]) -> tuple[tuple[Any, ...], list[InputCase]]:
    """The small arguments value cases start from, and the generic edge cases of ``args``: other
    sizes (empty, 1, 2, 7) and special values (NaN, inf, -0.0, huge numbers ...) in one leaf kind
    at a time. Each keeps ``args``' signature; a value case records its changed leaf as ``probe``
    once ``hotpath.runner.probes.derive_cases`` fills it in (here ``probe`` is ``None``)."""
    signature = signature_of(args)
    candidates: list[tuple[str, tuple[Any, ...] | None]] = [
        ("empty", shrunk(args, 0)),
        ("length-1", shrunk(args, 1)),
        ("size-2", shrunk(args, 2)),
    ]
    small = shrunk(args, 7) or args
    candidates.append(("size-7", small if small is not args else None))
    values: list[tuple[str, tuple[Any, ...] | None]] = [
        ("nan", _with_values(small, "fc", _poke_nan)),
        ("inf", _with_values(small, "fc", _poke_inf)),
        ("negative-zero", _with_values(small, "fc", _poke_negative_zero)),
        ("huge-float", _with_values(small, "f", _poke_huge_float)),
        ("huge-int", _with_values(small, "iu", _poke_huge_int)),
        ("huge-negative-int", _with_values(small, "i", _poke_huge_negative_int)),
        ("all-true", _with_values(small, "b", _poke_bool)),
        ("scalar-nan", _scalars(small, float, float("nan"))),
        ("scalar-inf", _scalars(small, float, float("inf"))),
        ("scalar-negative-zero", _scalars(small, float, -0.0)),
        ("scalar-zero-int", _scalars(small, int, 0)),
        ("scalar-one-int", _scalars(small, int, 1)),
    ]
    cases = []
    for name, case_args in candidates + values:
        # A case whose signature drifted (an empty F-array reads as C, say) would test another
        # specialization than the one being installed; it is left out.
        if case_args is not None and signature_of(case_args) == signature:
            cases.append(InputCase(name, case_args))
    return small, cases


#: The generic cases that change values of one leaf kind (not sizes): each is a probe too.
VALUE_CASES = frozenset({"nan", "inf", "negative-zero", "huge-float", "huge-int", "huge-negative-int", "all-true",
                         "scalar-nan", "scalar-inf", "scalar-negative-zero", "scalar-zero-int", "scalar-one-int"})


def rule_counts(names: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """How many of the cases ``names`` each rule family made, in order of first appearance."""
    counts: dict[str, int] = {}
    for name in names:
        counts[rule_of(name)] = counts.get(rule_of(name), 0) + 1
    return tuple(counts.items())


def rule_of(name: str) -> str:
    """The rule family that made the case ``name``: ``captured``, ``generic``, ``exp-domain`` ..."""
    if name == CAPTURED:
        return CAPTURED
    return name.split("/", 1)[0] if "/" in name else "generic"
