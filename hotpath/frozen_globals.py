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
reason that says how to make it installable.

Items of a global dict read with a constant key (``PARAMS["dt"]``) are bound by value too, and
watched through the dict's contents. Values read through attributes (``P.SCALE`` of a
parameters module, ``PARAMS.dt`` of a global object, ``P.WEIGHTS``) are watched the same way: the extraction binds them by value
(``hotpath.rewriter.source``), and the check reads the attribute chain again. An array's
writeable flag is no promise: ``flags.writeable = True``, a rewrite and ``= False`` leave the
same object with the same flags and other contents, so read-only arrays are compared like the
others, except those NumPy will never make writeable again (their memory is an immutable
``bytes``, as ``np.frombuffer`` gives).

The check runs on every call, so it is built to be cheap: the names of one scope are fetched
with one ``itemgetter``, the attributes of one object with one ``attrgetter``, and the values
found are tested for identity all at once; the slower, per-global comparison that names the
change runs only when something is not identical (an equal number in a new object is no change).

``freeze`` also refuses to build under a NumPy error state variants cannot honour
(``hotpath.signature.error_state``): candidates are verified under the default state.
"""

from __future__ import annotations

import functools
import operator
import pickle
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hotpath.errors import NotRewritable
from hotpath.fastpath import identical
from hotpath.rewriter.source import FunctionSource, unwrap
from hotpath.signature import error_state

#: The largest mutable global whose contents are compared on every call (bytes).
MAX_WATCHED_BYTES = 1 << 16
_MISSING = object()
_CONTAINERS = (list, dict, set, bytearray)
#: Immutable values compared by value when they are not the same object (a property that
#: computes its number, ``SCALE = 4.0 / 2`` set again): same type and same ``repr``, so
#: ``2 != 2.0`` and ``0.0 != -0.0``.
_BY_VALUE = (bool, int, float, complex, str, bytes, np.generic)


@dataclass(frozen=True)
class _Binding:
    """One global the variant depends on: where the original looks it up, and what it found."""

    function: str  # qualified name of the function that reads it (for messages)
    name: str  # the global or closure variable the original reads
    scope: dict[str, Any] | types.CellType  # the function's globals, or its closure cell
    value: Any  # the object found there (a hotpath wrapper itself, for a decorated helper)
    contents: object  # mutable contents as they were (see _contents_of), else None
    path: str = ""  # the attributes read from it ("SCALE" for P.SCALE), if any

    @property
    def what(self) -> str:
        return f"{'attribute' if self.path else 'global'} {self.name + '.' + self.path if self.path else self.name!r}"

    def current(self) -> Any:
        """What the original reads now."""
        now = _lookup(self.scope, self.name)
        if self.path and now is not _MISSING:
            try:
                now = operator.attrgetter(self.path)(now)
            except Exception:  # deleted, or a property that now raises: the original would see that
                return _MISSING
        return now

    def change(self) -> str | None:
        now = self.current()
        if now is not self.value and not _same_value(now, self.value):
            return f"{self.what} of {self.function} was rebound"
        if self.contents is not None and _contents_of(now) != self.contents:
            return f"{self.what} of {self.function} was changed in place"
        return None


@dataclass(frozen=True)
class _Fetch:
    """Several bindings read at once: ``read()`` is the tuple of what the original sees now."""

    read: Callable[[], tuple[Any, ...]]
    expected: tuple[Any, ...]


@dataclass(frozen=True)
class FrozenGlobals:
    """Every global a function and its helpers read, as they were when the variant was built."""

    bindings: tuple[_Binding, ...]
    fetches: tuple[_Fetch, ...] = field(default=(), compare=False, repr=False)

    def changed(self) -> str | None:
        """A sentence naming the first global that differs now, or ``None`` while all hold.

        Runs before every call of a variant that has globals: one fetch and one identity test
        per scope or object read from (plus a bytes comparison for mutable values).
        """
        for fetch in self.fetches:
            try:
                found = fetch.read()
            except Exception:  # a name deleted, an attribute gone
                return self._first_change()
            if not identical(found, fetch.expected):
                return self._first_change()
        for binding in self.bindings:
            if binding.contents is not None and _contents_of(binding.value) != binding.contents:
                return binding.change()
        return None

    def _first_change(self) -> str | None:
        for binding in self.bindings:
            found = binding.change()
            if found is not None:
                return found
        return None  # only equal numbers in new objects


def freeze(fn: Callable[..., Any], fs: FunctionSource) -> FrozenGlobals | None:
    """The globals ``fn`` (extracted as ``fs``) and its helpers read, with their values now,
    for a variant about to be built.

    ``None`` when there are none to watch. Raises ``NotRewritable`` for a mutable global too
    large to compare on every call, and under a NumPy error state no variant honours.
    """
    state = error_state()
    if state is not None:
        raise NotRewritable(
            f"called under {state}: the original raises FloatingPointError (or calls your handler) where "
            "compiled code returns inf or nan, and variants are verified under NumPy's default error state, "
            "so calls under this one keep running the original")
    return watch(fn, fs)


def watch(fn: Callable[..., Any], fs: FunctionSource) -> FrozenGlobals | None:
    """The globals and attributes of globals ``fn`` (extracted as ``fs``) and its helpers read,
    with their values now; ``None`` when there are none. Raises ``NotRewritable`` for a mutable
    value too large to compare on every call."""
    bindings = []
    for function, part in _functions(unwrap(fn), fs):
        for ref in part.refs:
            if ref.kind == "module":
                continue  # imported by name in every generated module
            if ref.item_of is not None:
                continue  # an item of a global dict, which is watched itself, by contents
            name, _, path = (ref.attribute or ref.name).partition(".")
            scope = _scope(function, name)
            if path:
                binding = _Binding(part.qualname, name, scope, ref.value, None, path)
                bound = binding.current()
            else:
                bound = _lookup(scope, name)
            # The object bound now, if it is still the one extracted (a helper is extracted
            # unwrapped); otherwise the extracted one, so that the first check reports the change.
            value = bound if unwrap(bound) is unwrap(ref.value) else ref.value
            label = ref.attribute or ref.name
            bindings.append(_Binding(part.qualname, name, scope, value, _contents(part.qualname, label, value), path))
    return FrozenGlobals(tuple(bindings), _fetches(bindings)) if bindings else None


def _fetches(bindings: list[_Binding]) -> tuple[_Fetch, ...]:
    """The bindings grouped by where they are read from, each group read with one getter call:
    the names of one globals dict, the attributes of one root object, a closure cell."""
    groups: dict[tuple[int, str], list[_Binding]] = {}
    for binding in bindings:
        root = binding.name if binding.path or type(binding.scope) is not dict else ""
        groups.setdefault((id(binding.scope), root), []).append(binding)
    fetches = []
    for members in groups.values():
        first = members[0]
        # A getter of one item returns the item itself, so each asks for its items twice and
        # always returns a tuple.
        items = [b.path or b.name for b in members] * (2 if len(members) == 1 else 1)
        expected = tuple(b.value for b in members) * (2 if len(members) == 1 else 1)
        if type(first.scope) is dict and not first.path:
            read = functools.partial(operator.itemgetter(*items), first.scope)
        elif not first.path:  # a closure cell
            read = functools.partial(_cell_contents, first.scope)  # type: ignore[arg-type]
            expected = (first.value,)
        else:
            read = functools.partial(_attributes, first.scope, first.name, operator.attrgetter(*items))
        fetches.append(_Fetch(read, expected))
    return tuple(fetches)


def _cell_contents(cell: types.CellType) -> tuple[Any]:
    return (cell.cell_contents,)


def _attributes(scope: dict[str, Any] | types.CellType, name: str,
                get: Callable[[Any], tuple[Any, ...]]) -> tuple[Any, ...]:
    return get(scope[name] if type(scope) is dict else scope.cell_contents)  # type: ignore[union-attr]


def _same_value(now: Any, then: Any) -> bool:
    """Equal immutable values in different objects: the same to the original and the variant."""
    return type(now) is type(then) and isinstance(now, _BY_VALUE) and repr(now) == repr(then)


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
        if _immutable(value):
            return None  # NumPy will not let anyone write into it
        if value.nbytes > MAX_WATCHED_BYTES:
            short = name.rpartition(".")[2]
            raise NotRewritable(
                f"{function} reads the global array {name!r} ({value.nbytes / 2**10:,.0f} KiB): a variant is "
                f"built with a copy of it and would not see later changes to it, and comparing it on every "
                f"call would cost more than it saves (a read-only flag can be turned off again); pass it as "
                f"an argument, or, if it never changes, make it immutable: "
                f"{name} = np.frombuffer({short}.tobytes(), {short}.dtype).reshape({short}.shape)")
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


def _immutable(array: np.ndarray) -> bool:
    """Read-only for good: its memory is a ``bytes`` object (``np.frombuffer``), which NumPy
    refuses to make writeable; an array that owns its memory can be made writeable again."""
    base: Any = array
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return isinstance(base, bytes)


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


__all__ = ["MAX_WATCHED_BYTES", "FrozenGlobals", "freeze", "watch"]
