"""The guard checks an exported patch carries: plain Python and NumPy, copied into the patch.

``hotpath export`` copies the functions of this file that a patched module needs, as text,
below that module's imports, so the patched code runs without hotpath. Each mirrors the check
hotpath makes before it calls an installed variant (``hotpath.signature`` for the signature,
``hotpath.runner.adapters`` for the finite, aliasing, size and range guards and the return
cast); ``tests/test_export.py`` holds them to the same answers. This module imports nothing but
NumPy, and nothing in hotpath imports its names: they are read as source, and copied without
their annotations.
The annotations are strings, for hotpath's type check: the copies in a patch never evaluate them.
"""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from typing import Any

#: Float scalars beyond this magnitude go to the original (as ``adapters.SCALAR_LIMIT``).
_HP_SCALAR_LIMIT = 1e150
#: Integer scalars beyond this magnitude are outside any verified range (``adapters.INT_HEADROOM``).
_HP_INT_HEADROOM = 2**31


def _hp_signature(args: "Sequence[Any]") -> str:
    """The signature text of ``args`` as hotpath writes it: ``(array(float64, 1d, C), float)``.

    Under a NumPy error state compiled code cannot honour (``np.errstate(divide="raise")``) the
    text gains ``under np.errstate(...)``: no variant was verified for it, so the original
    answers, raising FloatingPointError as it should.
    """
    def spec(value: "Any") -> str:
        kind = type(value)
        if isinstance(value, np.ndarray):
            flags = value.flags
            layout = "C" if flags.c_contiguous else ("F" if flags.f_contiguous else "A")
            name = "array" if kind is np.ndarray else f"{kind.__module__}.{kind.__qualname__}"
            readonly = "" if flags.writeable else ", readonly"
            return f"{name}({value.dtype}, {value.ndim}d, {layout}{readonly})"
        if kind is tuple:
            return "tuple[" + ", ".join(map(spec, value)) + "]"
        if kind is list:
            return "list[" + (spec(value[0]) if value else "") + "]"
        return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"

    loud = sorted((error, mode) for error, mode in np.geterr().items() if mode not in ("ignore", "warn"))
    under = " under np.errstate(" + ", ".join(f"{error}={mode!r}" for error, mode in loud) + ")" if loud else ""
    return "(" + ", ".join(map(spec, args)) + ")" + under


def _hp_all_finite(args: "Iterable[Any]") -> bool:
    """No NaN, inf or huge float anywhere in ``args`` (finite guard)."""
    for arg in args:
        if isinstance(arg, np.ndarray):
            if arg.dtype.kind in "fc" and arg.size and not np.isfinite(np.vdot(arg, arg)):
                return False
        elif isinstance(arg, (float, np.floating, complex, np.complexfloating)):
            if not float(abs(arg)) < _HP_SCALAR_LIMIT:
                return False
        elif type(arg) in (tuple, list) and not _hp_all_finite(arg):
            return False
    return True


def _hp_leaves(values: "Iterable[Any]") -> "Iterator[Any]":
    for value in values:
        if type(value) in (tuple, list):
            yield from _hp_leaves(value)
        else:
            yield value


def _hp_distinct(args: "Sequence[Any]") -> bool:
    """No two arrays in ``args`` may share memory (aliasing guard)."""
    arrays = [a for a in _hp_leaves(args) if isinstance(a, np.ndarray)]
    for i, first in enumerate(arrays):
        for second in arrays[i + 1:]:
            if np.may_share_memory(first, second):
                return False
    return True


def _hp_long_enough(args: "Sequence[Any]", minimum: int) -> bool:
    """Every array in ``args`` (and list argument) has at least ``minimum`` along each axis (size guard)."""
    lengths = [min(a.shape) for a in _hp_leaves(args) if isinstance(a, np.ndarray) and a.ndim]
    lengths += [len(a) for a in args if type(a) is list]
    return not lengths or min(lengths) >= minimum


def _hp_in_range(args: "Sequence[Any]", path: "tuple[int, ...]", low: float, high: float, nan: bool) -> bool:
    """The value at ``path`` in ``args`` lies in ``low..high`` (NaN only if ``nan``): range guard."""
    def scalar_ok(value: "Any") -> bool:
        if value != value:
            return nan
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and abs(value) > _HP_INT_HEADROOM:
            return False
        return bool(low <= value <= high)

    try:
        value = args
        for index in path:
            value = value[index]
    except (IndexError, TypeError):
        return False
    if isinstance(value, np.ndarray):
        if not value.size:
            return True
        smallest, largest = value.min(), value.max()
        if smallest != smallest or largest != largest:
            if not nan:
                return False
            smallest, largest = np.nanmin(value), np.nanmax(value)
            if smallest != smallest:
                return True
        return bool(low <= smallest and largest <= high)
    if isinstance(value, list):
        return all(scalar_ok(v) for v in value)
    return scalar_ok(value)


def _hp_cast(result: "Any", dtypes: str) -> "Any":
    """Plain Python scalars in ``result`` cast to the NumPy types the original returned."""
    def plain(value: "Any") -> bool:
        return isinstance(value, (bool, int, float, complex)) and not isinstance(value, np.generic)

    kinds = [None if d == "-" else np.dtype(d).type for d in dtypes.split(",")]
    if isinstance(result, tuple) and len(kinds) == len(result) and len(kinds) > 1:
        return tuple(v if k is None or not plain(v) else k(v) for v, k in zip(result, kinds))
    kind = kinds[0]
    return kind(result) if kind is not None and plain(result) else result
