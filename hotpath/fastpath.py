"""Choosing between the compiled dispatch fast path and the pure-Python one.

``hotpath._fastpath`` (C, built by ``CMakeLists.txt`` through scikit-build-core) computes guard
keys and runs the common case of an ``Optimized`` call: an installed variant, an unsampled call,
a function that does not modify its arguments. ``Optimized`` derives from its ``Dispatcher``
(``Base`` here), which keeps the state that case reads in C fields. Everything else it hands to
the very Python code the pure path runs. It is optional: without the extension (a source checkout never built, an
unusual platform) or with ``HOTPATH_PURE_PYTHON=1``, hotpath runs the pure-Python path, with the
same results. ``use(False)`` / ``use(True)`` switch at run time (the tests run both).
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from hotpath import signature

try:
    import hotpath._fastpath as _fastpath
except ImportError:  # not built: the pure-Python path serves
    _fastpath = None

#: The base class of ``Optimized``: the compiled dispatcher when built, else ``object``.
Base: type = _fastpath.Dispatcher if _fastpath is not None else object
if _fastpath is not None:
    _fastpath.set_foreign(signature.DESCRIBED, signature.described, signature.describe)
    _fastpath.set_error_state(signature.ERROR_STATE_VAR, signature.error_state_of)

_classes: list[type] = []


def _identical(found: tuple[object, ...], expected: tuple[object, ...]) -> bool:
    return len(found) == len(expected) and all(map(operator.is_, found, expected))


#: ``identical(a, b)``: tuples of the same length whose items are the same objects, pairwise.
identical = _fastpath.identical if _fastpath is not None else _identical


def available() -> bool:
    """Whether the compiled extension is importable here."""
    return _fastpath is not None


def requested() -> bool:
    """The compiled path unless ``HOTPATH_PURE_PYTHON`` is set to a true value."""
    return os.environ.get("HOTPATH_PURE_PYTHON", "").strip().lower() in ("", "0", "false", "no")


def guard_key(args: Sequence[object]) -> Hashable:
    """The guard key of ``args``, compiled when available (equal to the pure-Python key)."""
    if _fastpath is not None and active():
        return _fastpath.guard_key(args)
    return signature.guard_key(args)


def attach(cls: type, install_type: type, variant_raised: Callable[..., Any]) -> None:
    """Give ``cls`` (``Optimized``, derived from ``Base``) the compiled call when available and requested.

    The pure-Python ``__call__`` stays reachable as ``cls._pure_call``; it is also what the
    compiled one falls back to for every case it does not handle itself. ``install_type`` is the
    class of the installs the C code reads; ``variant_raised(opt, key, install, args, exc)`` is
    what it calls when a variant raises (passed in: this module sits below dispatch and watch).
    """
    if "_pure_call" not in cls.__dict__:
        cls._pure_call = cls.__dict__["__call__"]  # type: ignore[attr-defined]
        _classes.append(cls)
        if _fastpath is not None:
            _fastpath.configure(cls._pure_call, variant_raised, install_type)  # type: ignore[attr-defined]
    _apply(cls, available() and requested())


def _apply(cls: type, compiled: bool) -> None:
    if compiled:
        # Without a __call__ of its own the class calls Dispatcher's, in C.
        if "__call__" in cls.__dict__:
            delattr(cls, "__call__")
        _fastpath.set_vectorcall(cls, True)
    else:
        if _fastpath is not None and issubclass(cls, _fastpath.Dispatcher):
            _fastpath.set_vectorcall(cls, False)  # before __call__ changes: 3.11 would keep it
        cls.__call__ = cls._pure_call  # type: ignore[attr-defined, method-assign]


def use(compiled: bool) -> bool:
    """Switch every attached class to the compiled (True) or pure-Python (False) path.

    Returns whether the compiled path is now in use (False when it was asked for but is not
    built). For tests and benchmarks; ``HOTPATH_PURE_PYTHON=1`` does the same from the start.
    """
    compiled = compiled and available()
    for cls in _classes:
        _apply(cls, compiled)
    return compiled


def active() -> bool:
    """Whether the compiled ``__call__`` is the one in service."""
    return bool(_classes) and _fastpath is not None and "__call__" not in _classes[0].__dict__


__all__ = ["Base", "identical", "available", "requested", "guard_key", "attach", "use", "active"]
