"""Running a function on one input and recording everything observable about it."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.array_utils import byte_bounds

_MUTABLE = (np.ndarray, list, dict, bytearray, set)
#: Values a call cannot change: a copy of the changeable arguments shares them.
_IMMUTABLE = (int, float, complex, bool, str, bytes, type(None), np.generic, range, frozenset)


@dataclass(frozen=True)
class Outcome:
    """What a call did: its return value or exception, and its mutable arguments afterwards."""

    returned: Any = None
    raised: str | None = None  # qualified exception type, e.g. "builtins.IndexError"
    message: str = ""
    args_after: tuple[Any, ...] = ()  # None where the argument cannot be mutated
    elapsed_s: float = 0.0
    #: Positions of the arguments whose memory the returned arrays share: a caller's later change
    #: to such an argument shows through the result, so a variant must alias exactly where the
    #: original does (returning a view of an input where the original made a new array is wrong).
    aliases: tuple[int, ...] = ()

    @property
    def raised_name(self) -> str | None:
        return None if self.raised is None else self.raised.rsplit(".", 1)[-1]


def exception_name(exc: BaseException) -> str:
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}"


def fresh_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A deep copy that keeps the aliasing among the arguments (``f(x, x)``, ``f(u[1:], u[:-1])``)."""
    return copy_args(args)


def copy_args(args: tuple[Any, ...], changeable_only: bool = False) -> tuple[Any, ...]:
    """A copy of a call's arguments that keeps their aliasing, so a call on the copy does what
    the call on the arguments does.

    An argument passed twice stays one object (``f(x, x)``); arrays whose memory overlaps
    (``f(u[1:], u[:-1])``, ``f(a, a[0])``) become views, with their shapes, strides and relative
    offsets, of one copy of the memory they span, so a write through one shows in the others as
    it does in the caller's arrays. The copies keep their class (``np.memmap``) and read-only
    flag; other arrays are copied keeping their memory order. Arrays are found inside tuples,
    lists and dicts.

    ``changeable_only`` copies only what a call could change: writable arrays (with any
    read-only view overlapping one) and the lists, dicts and sets that reach them; scalars,
    strings and other read-only arrays are shared, and tuples are rebuilt only around something
    copied. Otherwise everything is deep-copied.
    """
    memo = _overlapping_copies(args, changeable_only)
    if not changeable_only:
        return copy.deepcopy(args, memo)  # the overlapping arrays' copies are taken from the memo
    return tuple(_changeable(a, memo) for a in args)


def _changeable(value: Any, memo: dict[int, Any]) -> Any:
    if isinstance(value, _IMMUTABLE):
        return value
    key = id(value)
    if key in memo:
        return memo[key]
    copied: Any
    if isinstance(value, np.ndarray):
        copied = value.copy(order="K") if value.flags.writeable else value
    elif type(value) is tuple:
        items = tuple(_changeable(item, memo) for item in value)
        copied = value if all(a is b for a, b in zip(items, value)) else items
    elif type(value) is list:
        copied = [_changeable(item, memo) for item in value]
    elif type(value) is dict:
        copied = {k: _changeable(v, memo) for k, v in value.items()}
    else:  # anything else (a set, a bytearray, an object of the user's): a deep copy
        copied = copy.deepcopy(value)
    memo[key] = copied
    return copied


def _arrays_in(value: Any, found: dict[int, np.ndarray]) -> None:
    """Collect the arrays in ``value`` and the tuples, lists and dicts it holds, by identity."""
    if isinstance(value, np.ndarray):
        found.setdefault(id(value), value)
    elif isinstance(value, (tuple, list)) and id(value) not in found:
        found[id(value)] = value  # type: ignore[assignment]  # marks the container visited (a list may hold itself)
        for item in value:
            _arrays_in(item, found)
    elif isinstance(value, dict) and id(value) not in found:
        found[id(value)] = value  # type: ignore[assignment]
        for item in value.values():
            _arrays_in(item, found)


def _overlapping_copies(args: tuple[Any, ...], changeable_only: bool) -> dict[int, np.ndarray]:
    """Copies of the arrays in ``args`` whose memory overlaps another's, by the original's id.

    Overlap is read from the memory addresses the arrays span, not from ``.base``: views of
    one buffer reached by different routes (two ``np.frombuffer`` of one ``bytes``, slices of
    one ``np.memmap``) alias as surely as slices of one array.
    """
    found: dict[int, Any] = {}
    for arg in args:
        _arrays_in(arg, found)
    # Object arrays hold references, which cannot be copied as bytes; they are deep-copied alone.
    spans = sorted((byte_bounds(a), i, a) for i, a in enumerate(found.values())
                   if isinstance(a, np.ndarray) and a.size and not a.dtype.hasobject)
    groups: list[list[tuple[int, int, np.ndarray]]] = []
    end = -1
    for (low, high), _, array in spans:
        if low >= end:
            groups.append([])
        groups[-1].append((low, high, array))
        end = max(end, high) if low < end else high
    copies: dict[int, np.ndarray] = {}
    for group in groups:
        if len(group) < 2 or (changeable_only and not any(a.flags.writeable for _, _, a in group)):
            continue  # nothing aliased (or nothing a call can change): copied, or shared, alone
        low, high = group[0][0], max(h for _, h, _ in group)
        memory = np.array(_Memory(low, high - low, [a for _, _, a in group]), copy=True)
        for _, _, array in group:
            copies[id(array)] = _view_like(array, memory, array.__array_interface__["data"][0] - low)
    return copies


class _Memory:
    """Bytes ``[address, address + size)`` inside ``owners``' memory, for NumPy to read through
    the array interface (``owners`` keeps that memory alive while it is read)."""

    def __init__(self, address: int, size: int, owners: list[np.ndarray]) -> None:
        self.owners = owners
        self.__array_interface__ = {"data": (address, True), "shape": (size,), "typestr": "|u1", "version": 3}


def _view_like(array: np.ndarray, memory: np.ndarray, offset: int) -> np.ndarray:
    """A view of ``memory`` laid out as ``array`` is in its own, ``offset`` bytes in."""
    view = np.ndarray(array.shape, array.dtype, buffer=memory, offset=offset, strides=array.strides)
    if type(array) is not np.ndarray:
        # The subclass is kept where its state is the buffer alone (np.memmap's file fields
        # describe the caller's file, which the copy is not); any other is copied by itself.
        if not isinstance(array, np.memmap) and getattr(array, "__dict__", None):
            return copy.deepcopy(array)
        view = view.view(type(array))
    if not array.flags.writeable:
        view.flags.writeable = False
    return view


def run_case(fn: Callable[..., Any], args: tuple[Any, ...],
             clock: Callable[[], float] = time.perf_counter) -> Outcome:
    """Call ``fn`` on a fresh copy of ``args`` and record the outcome.

    ``clock`` is the time source (a sandbox worker passes one bound before any candidate was
    imported, so a candidate that patches ``time.perf_counter`` cannot change what it reads).
    """
    call_args = fresh_args(args)
    start = clock()
    try:
        returned = fn(*call_args)
    except Exception as exc:  # the candidate must raise the same type; nothing else is needed
        elapsed = clock() - start
        return Outcome(raised=exception_name(exc), message=str(exc)[:300],
                       args_after=mutable_view(call_args), elapsed_s=elapsed)
    elapsed = clock() - start
    return Outcome(returned=returned, args_after=mutable_view(call_args), elapsed_s=elapsed,
                   aliases=aliased_arguments(returned, call_args))


def aliased_arguments(returned: Any, args: tuple[Any, ...]) -> tuple[int, ...]:
    """Positions of the arguments whose arrays share memory with an array ``returned`` holds
    (itself, or an item of a returned tuple or list)."""
    results: dict[int, Any] = {}
    _arrays_in(returned, results)
    returned_arrays = [a for a in results.values() if isinstance(a, np.ndarray) and a.size]
    if not returned_arrays:
        return ()
    found = []
    for position, arg in enumerate(args):
        inside: dict[int, Any] = {}
        _arrays_in(arg, inside)
        arrays = [a for a in inside.values() if isinstance(a, np.ndarray) and a.size]
        # Bounds only: exact overlap of strided views can be costly to decide, and two arrays
        # whose spans interleave are as much a view of one buffer as two that overlap.
        if any(np.may_share_memory(r, a) for r in returned_arrays for a in arrays):
            found.append(position)
    return tuple(found)


def scaled_args(args: tuple[Any, ...], factor: float) -> tuple[Any, ...]:
    """A fresh copy of ``args`` whose floating-point arrays are multiplied by ``factor``.

    Inputs of the captured call's exact signature (dtypes, shapes, layout, aliasing) with
    values no earlier call saw: timed calls run on them, so an answer cached by the identity or
    the content of an input is stale there. Only arrays owning their memory are scaled (a view
    into another argument would be scaled twice), and integers stay as they are (they may be
    indices or bounds). ``rescale`` does the same in place.
    """
    copied = fresh_args(args)
    rescale(copied, copied, factor)
    return copied


def rescale(target: tuple[Any, ...], source: tuple[Any, ...], factor: float) -> None:
    """Write ``source``'s scalable arrays times ``factor`` into ``target``'s matching arrays
    (``target`` a copy of ``source`` with the same structure; it may be ``source`` itself), each
    real float array kept within its own range of values in ``source``."""
    found_target: dict[int, Any] = {}
    found_source: dict[int, Any] = {}
    for t, s in zip(target, source):
        _arrays_in(t, found_target)
        _arrays_in(s, found_source)
    for t, s in zip(found_target.values(), found_source.values()):
        if _scalable(t) and isinstance(s, np.ndarray) and t.shape == s.shape:
            # Scaling towards zero moves the smallest positive (largest negative) value past the
            # captured range, where a range guard sends the call to the original and the timing
            # would be the original's: the scaled values are kept inside it (bounds read before
            # scaling, since ``target`` may be ``source``).
            bounds = (np.nanmin(s), np.nanmax(s)) if s.dtype.kind == "f" and s.size and not np.isnan(s).all() else None
            np.multiply(s, factor, out=t)
            if bounds is not None:
                np.clip(t, *bounds, out=t)


def scalable_arrays(args: tuple[Any, ...]) -> list[np.ndarray]:
    """The arrays of ``args`` that ``rescale`` rewrites (non-empty ones)."""
    found: dict[int, Any] = {}
    for arg in args:
        _arrays_in(arg, found)
    return [a for a in found.values() if _scalable(a) and a.size]


def _scalable(value: Any) -> bool:
    return (isinstance(value, np.ndarray) and value.dtype.kind in "fc" and value.base is None
            and value.flags.writeable)


def holds_mutable(value: Any) -> bool:
    """Whether a call could change ``value`` in place: it is mutable, or a tuple reaching one.

    A tuple cannot change, but the arrays it holds can: ``f((src, dst))`` writes into ``dst``
    (lists and dicts are mutable themselves, and the comparison recurses into their items).
    """
    if isinstance(value, _MUTABLE):
        return True
    return isinstance(value, tuple) and any(holds_mutable(item) for item in value)


def mutable_view(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``args`` with ``None`` for each argument no call can change: what is compared after a call."""
    return tuple(a if holds_mutable(a) else None for a in args)
