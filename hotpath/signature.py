"""What a call's arguments look like: the guard under which a variant is installed.

Two representations: ``guard_key`` is a cheap hashable tuple computed on every call, and
``Signature`` is its readable, picklable description, built once per new key. A variant is used
only for calls whose key equals the key it was verified under.

Besides the arguments, the key holds NumPy's floating-point error state when it is one a
variant cannot honour (``np.seterr(divide="raise")``, ``np.errstate(...)``: "raise", "call",
"print" or "log" for some error): the original raises ``FloatingPointError`` where compiled code
returns inf or nan. Variants are verified in a worker under NumPy's default state, so such calls
have a key no variant is installed under, and the original answers them.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

try:  # NumPy 2: the error state is a context variable holding one object per state
    from numpy._core._ufunc_config import _extobj_contextvar as ERROR_STATE_VAR  # type: ignore[attr-defined]
except ImportError:  # NumPy 1: asked for through np.geterr() on every call
    ERROR_STATE_VAR = None


def _layout(a: np.ndarray) -> str:
    # Numba's rule: C wins when an array is both (1-D, size 0 or 1), then F, else any-layout.
    flags = a.flags
    if flags.c_contiguous:
        return "C"
    if flags.f_contiguous:
        return "F"
    return "A"


#: Libraries whose array types are guarded like NumPy's (dtype, ndim, layout, device), not by
#: type alone: a CuPy kernel or a torch graph built for float32 vectors must not serve float64
#: matrices.
ARRAY_LIBRARIES = ("cupy", "torch")
#: type -> guarded by its values' description (filled lazily; the compiled fast path reads it too).
DESCRIBED: dict[type, bool] = {}


def described(kind: type) -> bool:
    """Whether values of ``kind`` are arrays of another library, keyed by more than their type."""
    known = DESCRIBED.get(kind)
    if known is None:
        root = (getattr(kind, "__module__", None) or "").partition(".")[0]
        known = DESCRIBED[kind] = root in ARRAY_LIBRARIES and hasattr(kind, "dtype") and hasattr(kind, "ndim")
    return known


def _foreign_layout(value: object) -> str:
    flags = getattr(value, "flags", None)
    if flags is not None:  # CuPy
        return "C" if flags.c_contiguous else ("F" if flags.f_contiguous else "A")
    is_contiguous = getattr(value, "is_contiguous", None)  # torch
    return "C" if is_contiguous is not None and is_contiguous() else "A"


def describe(value: object) -> tuple[object, ...]:
    """The guard key of an array of another library (see ``ARRAY_LIBRARIES``)."""
    return (type(value), str(value.dtype), value.ndim, _foreign_layout(value),  # type: ignore[attr-defined]
            str(getattr(value, "device", "")))


#: Error modes that leave a result as compiled code computes it (a warning is not a result).
_QUIET = frozenset(("ignore", "warn"))


@dataclass(frozen=True)
class ErrorState:
    """NumPy's error modes at a call where some are neither "ignore" nor "warn"."""

    modes: tuple[tuple[str, str], ...]  # (error, mode) for every error whose mode is not quiet

    def __str__(self) -> str:
        return "np.errstate(" + ", ".join(f"{error}={mode!r}" for error, mode in self.modes) + ")"


_seen: tuple[object, ErrorState | None] = (object(), None)  # the last state object and its verdict


def error_state_of(extobj: object) -> ErrorState | None:
    """The ``ErrorState`` of the current context, whose state object is ``extobj``, or ``None``
    when it is quiet; remembered for ``extobj`` (the compiled key asks this on a new object)."""
    global _seen
    loud: tuple[tuple[str, str], ...] = tuple(sorted(
        (error, mode) for error, mode in np.geterr().items() if mode not in _QUIET))  # type: ignore[misc]
    found = ErrorState(loud) if loud else None
    if extobj is not None:
        _seen = (extobj, found)  # a strong reference: the identity test below stays sound
    return found


def error_state() -> ErrorState | None:
    """NumPy's error state now, when a variant cannot honour it (see the module docstring).

    One context-variable read and an identity test in the common case: every state NumPy sets
    is a new object, and the verdict for the last one seen is kept.
    """
    if ERROR_STATE_VAR is None:
        return error_state_of(None)
    extobj = ERROR_STATE_VAR.get()
    seen = _seen
    if extobj is seen[0]:
        return seen[1]
    return error_state_of(extobj)


def _arg_key(value: object) -> Hashable:
    kind = type(value)
    if kind is np.ndarray or (kind not in _PLAIN and isinstance(value, np.ndarray)):
        # A subclass (np.memmap, a masked array, np.matrix, the user's own) is keyed by its type
        # as well: it is verified as itself, and an int16 memmap is not a float64 one.
        flags = value.flags  # type: ignore[attr-defined]
        layout = "C" if flags.c_contiguous else ("F" if flags.f_contiguous else "A")
        return (kind, value.dtype, value.ndim, layout, flags.writeable)  # type: ignore[attr-defined]
    if kind is tuple:
        return (kind, tuple(map(_arg_key, value)))  # type: ignore[call-overload]
    if kind is list:
        # A list's element type decides how a compiler types it; the first element stands in.
        return (kind, _arg_key(value[0]) if value else None)  # type: ignore[index]
    if kind not in _PLAIN and described(kind):
        return describe(value)
    return kind  # type: ignore[return-value]  # a class is hashable; mypy reads type.__hash__ unbound


_PLAIN = frozenset((float, int, bool, complex, str, bytes, type(None)))


def guard_key(args: Sequence[object]) -> Hashable:
    """The hashable key of positional ``args``: equal keys mean the same compiled variant applies.

    Under an error state a variant cannot honour, the ``ErrorState`` follows the arguments' keys.
    """
    key = tuple(map(_arg_key, args))
    state = error_state()
    return key if state is None else (*key, state)


@dataclass(frozen=True)
class ArgSpec:
    """One argument's type as far as the guard cares."""

    kind: str  # "array", "tuple", "list" or "object"
    type_name: str
    dtype: str | None = None
    ndim: int | None = None
    layout: str | None = None
    writeable: bool = True
    items: tuple[ArgSpec, ...] = ()

    def __str__(self) -> str:
        if self.kind == "array":
            ro = ", readonly" if not self.writeable else ""
            name = "array" if self.type_name == "numpy.ndarray" else self.type_name
            return f"{name}({self.dtype}, {self.ndim}d, {self.layout}{ro})"
        if self.kind in ("tuple", "list"):
            return f"{self.type_name}[{', '.join(map(str, self.items))}]"
        if self.dtype is not None:  # another library's array
            return f"{self.type_name}({self.dtype}, {self.ndim}d, {self.layout})"
        return self.type_name


def _type_name(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _spec(value: object) -> ArgSpec:
    kind = type(value)
    if isinstance(value, np.ndarray):
        return ArgSpec("array", _type_name(kind), str(value.dtype), value.ndim, _layout(value),
                       bool(value.flags.writeable))
    if kind is tuple:
        assert isinstance(value, tuple)
        return ArgSpec("tuple", "tuple", items=tuple(map(_spec, value)))
    if kind is list:
        assert isinstance(value, list)
        return ArgSpec("list", "list", items=(_spec(value[0]),) if value else ())
    if described(kind):
        _, dtype, ndim, layout, _device = describe(value)
        return ArgSpec("object", _type_name(kind), str(dtype), int(ndim), str(layout))  # type: ignore[call-overload]
    return ArgSpec("object", _type_name(kind))


@dataclass(frozen=True)
class Signature:
    """The readable form of a guard key, e.g. ``(array(float64, 2d, C), float)``."""

    args: tuple[ArgSpec, ...]
    error_state: ErrorState | None = None  # NumPy's, when no variant can honour it

    def __str__(self) -> str:
        under = "" if self.error_state is None else f" under {self.error_state}"
        return "(" + ", ".join(map(str, self.args)) + ")" + under

    @property
    def arrays(self) -> tuple[ArgSpec, ...]:
        return tuple(a for a in self.args if a.kind == "array")


def signature_of(args: Sequence[object]) -> Signature:
    """Describe positional ``args``; ``signature_of(a) == signature_of(b)`` iff their guard keys match."""
    return Signature(tuple(map(_spec, args)), error_state())
