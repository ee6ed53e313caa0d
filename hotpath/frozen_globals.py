"""The globals a variant was built with, and whether the original would still see the same ones.

A backend builds a variant with the values of the globals the kernel reads: Numba folds a global
array into the machine code as a constant, the other backends bind a copy made when the variant
was built. The original reads its globals afresh at every call. So a variant equals the original
only while those globals are unchanged: bound to the same objects (``SCALE = 3.0`` rebinds a
name, a parameter sweep does it on every step) and, for mutable ones, holding the same contents
(``WEIGHTS[:] = new`` changes an array in place). Shadow verification would notice, but only on
a sampled call, after wrong answers.

``freeze`` records both when a function is extracted for tuning or warm-started, and the
dispatcher asks ``FrozenGlobals.changed`` before every call of such an install. A change
invalidates the install: that call and the next run the original, and tier 0 starts over with the
new values. Identity is checked for every global; contents for arrays, lists, dicts, sets and
bytearrays (bitwise for arrays, so NaN equals itself). Comparing contents costs time on every
call, so it is bounded: a function reading a larger mutable global is not installed, with a
reason that says how to make it installable. Read-only arrays that own their data cannot change
in place and are checked by identity only. Attributes of other objects are not watched (no
backend compiles code that reads them, except Cython's Python-object fallback).
"""

from __future__ import annotations

import pickle
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from hotpath.errors import NotRewritable
from hotpath.rewriter.source import FunctionSource, unwrap

#: The largest mutable global whose contents are compared on every call (bytes).
MAX_WATCHED_BYTES = 1 << 16
_MISSING = object()
_CONTAINERS = (list, dict, set, bytearray)


@dataclass(frozen=True)
class _Binding:
    """One global the variant depends on: where the original looks it up, and what it found."""

    function: str  # qualified name of the function that reads it (for messages)
    name: str
    scope: dict[str, Any] | types.CellType  # the function's globals, or its closure cell
    value: Any  # the object bound there (a hotpath wrapper itself, for a decorated helper)
    contents: object  # mutable contents as they were (see _contents_of), else None

    def change(self) -> str | None:
        now = _lookup(self.scope, self.name)
        if now is not self.value:
            return f"global {self.name!r} of {self.function} was rebound"
        if self.contents is not None and _contents_of(now) != self.contents:
            return f"global {self.name!r} of {self.function} was changed in place"
        return None


@dataclass(frozen=True)
class FrozenGlobals:
    """Every global a function and its helpers read, as they were when the variant was built."""

    bindings: tuple[_Binding, ...]

    def changed(self) -> str | None:
        """A sentence naming the first global that differs now, or ``None`` while all hold.

        Runs before every call of a variant that has globals: one lookup and one identity test
        per global (plus a bytes comparison for mutable ones).
        """
        for binding in self.bindings:
            found = binding.change()
            if found is not None:
                return found
        return None


def freeze(fn: Callable[..., Any], fs: FunctionSource) -> FrozenGlobals | None:
    """The globals ``fn`` (extracted as ``fs``) and its helpers read, with their values now.

    ``None`` when there are none to watch. Raises ``NotRewritable`` for a mutable global too
    large to compare on every call.
    """
    bindings = []
    for function, part in _functions(unwrap(fn), fs):
        for ref in part.refs:
            if ref.kind == "module":
                continue  # imported by name in every generated module
            scope = _scope(function, ref.name)
            bound = _lookup(scope, ref.name)
            # The object bound now, if it is still the one extracted (a helper is extracted
            # unwrapped); otherwise the extracted one, so that the first check reports the change.
            value = bound if unwrap(bound) is unwrap(ref.value) else ref.value
            bindings.append(_Binding(part.qualname, ref.name, scope, value, _contents(part.qualname, ref.name, value)))
    return FrozenGlobals(tuple(bindings)) if bindings else None


def _functions(fn: Callable[..., Any], fs: FunctionSource) -> Iterator[tuple[types.FunctionType, FunctionSource]]:
    """Each function object with its extracted source: ``fn``, then its helpers, each once."""
    seen: set[str] = set()
    stack: list[tuple[Any, FunctionSource]] = [(fn, fs)]
    while stack:
        function, part = stack.pop()
        if part.qualname in seen:
            continue
        seen.add(part.qualname)
        yield function, part
        helpers = {(h.module, h.qualname): h for h in part.helpers}
        for ref in part.refs:
            if ref.kind == "helper":
                helper = helpers.get((ref.value.__module__, ref.value.__qualname__))
                if helper is not None:
                    stack.append((ref.value, helper))


def _lookup(scope: dict[str, Any] | types.CellType, name: str) -> Any:
    """What the original would read for ``name`` now."""
    if type(scope) is dict:
        return scope.get(name, _MISSING)
    try:
        return scope.cell_contents  # type: ignore[union-attr]
    except ValueError:  # an empty cell: the variable was deleted
        return _MISSING


def _scope(function: types.FunctionType, name: str) -> dict[str, Any] | types.CellType:
    freevars = function.__code__.co_freevars
    if name in freevars and function.__closure__:
        return function.__closure__[freevars.index(name)]
    return function.__globals__


def _contents(function: str, name: str, value: Any) -> object:
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        if not value.flags.writeable and value.flags.owndata:
            return None  # cannot change in place
        if value.nbytes > MAX_WATCHED_BYTES:
            raise NotRewritable(
                f"{function} reads the global array {name!r} ({value.nbytes / 2**10:,.0f} KiB): a variant is "
                f"built with a copy of it and would not see later changes to it, and comparing it on every "
                f"call would cost more than it saves; pass it as an argument, or make it read-only "
                f"({name}.flags.writeable = False) if it never changes")
        return _contents_of(value)
    if isinstance(value, np.ndarray) or isinstance(value, _CONTAINERS) or _holds_mutable(value):
        try:
            pickled = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise NotRewritable(f"{function} reads the global {name!r}, whose contents cannot be recorded "
                                f"to check that they stay the same ({type(exc).__name__}: {exc})") from None
        if len(pickled) > MAX_WATCHED_BYTES:
            raise NotRewritable(
                f"{function} reads the mutable global {name!r} ({len(pickled) / 2**10:.0f} KiB pickled): a variant "
                f"is built with a copy of it and would not see later changes to it; pass it as an argument")
        return pickled
    return None


def _holds_mutable(value: Any) -> bool:
    """A tuple or frozenset with a mutable item somewhere inside."""
    if isinstance(value, (tuple, frozenset)):
        return any(isinstance(item, (np.ndarray, *_CONTAINERS)) or _holds_mutable(item) for item in value)
    return False


def _contents_of(value: Any) -> object:
    """What a mutable value holds, equal only for equal contents: an array's shape, dtype and
    raw bytes (bitwise, so NaN equals itself; ``tobytes`` was the fastest comparison measured),
    anything else pickled."""
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        return (value.shape, value.dtype, value.tobytes())
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


__all__ = ["MAX_WATCHED_BYTES", "FrozenGlobals", "freeze"]
