"""Are two outcomes the same as far as a user could tell?

Exactness where types are exact (integers, booleans, dtypes, shapes, exception types, and
whether a scalar is NumPy's or Python's), a
tolerance ``|a - b| <= atol + rtol * |b|`` for floating point, NaN equal to NaN at the same
place, infinities equal only with the same sign. Signed zeros compare equal: a result's sign of
zero is not something callers depend on, whereas ``1 / -0.0`` differing shows up as ``-inf``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hotpath.runner.outcome import Outcome


#: The default relative tolerance for float64 results; lower precisions get 64 ulps.
DEFAULT_RTOL = 1e-9


@dataclass(frozen=True)
class Tolerance:
    """``rtol=None`` means the default: 1e-9, or 64 ulps for dtypes less precise than that
    (float32 code compiled with float64 intermediates rounds differently, and more precisely,
    than NumPy's float32 arithmetic step by step). Under the default, an array element is also
    close when its error is small against the array's largest finite magnitude: an element that
    cancels to nearly zero carries the rounding error of the large terms it came from, in the
    original as much as in the variant."""

    rtol: float | None
    atol: float

    def rtol_for(self, dtype: np.dtype) -> float:
        if self.rtol is not None:
            return self.rtol
        return max(DEFAULT_RTOL, 64 * float(np.finfo(dtype).eps))

    def atol_for(self, expected: np.ndarray) -> float:
        if self.rtol is not None or expected.ndim == 0 or expected.size == 0:
            return self.atol
        finite = np.abs(expected[np.isfinite(expected)])
        scale = float(finite.max()) if finite.size else 0.0
        return max(self.atol, self.rtol_for(expected.dtype) * scale)


def _scalar_dtype(value: object) -> np.dtype | None:
    """The dtype a scalar behaves as, so ``np.float64(1)`` and ``1.0`` compare equal."""
    if isinstance(value, np.generic):
        return value.dtype
    if isinstance(value, bool):
        return np.dtype(bool)
    if isinstance(value, int):
        return np.dtype(np.int64) if -(2**63) <= value < 2**63 else None
    if isinstance(value, float):
        return np.dtype(np.float64)
    if isinstance(value, complex):
        return np.dtype(np.complex128)
    return None


def _show(value: object, limit: int = 80) -> str:
    """A short repr: huge integers and long reprs would drown the message (or fail to print)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"<{value.bit_length()}-bit int>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_label(value: object) -> str:
    kind = type(value)
    return f"numpy.{kind.__name__}" if isinstance(value, np.generic) else kind.__name__


def _is_scalar(value: object) -> bool:
    return isinstance(value, (np.generic, bool, int, float, complex))


def _same_special(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Where the two hold the same value exactly, NaN equal to NaN, each part of a complex alike."""
    if expected.dtype.kind == "c":
        return _same_special(expected.real, actual.real) & _same_special(expected.imag, actual.imag)
    return (expected == actual) | (np.isnan(expected) & np.isnan(actual))


def _array_difference(expected: np.ndarray, actual: np.ndarray, tol: Tolerance, where: str) -> str | None:
    if expected.dtype != actual.dtype:
        return f"{where}: dtype {actual.dtype} instead of {expected.dtype}"
    if expected.shape != actual.shape:
        return f"{where}: shape {actual.shape} instead of {expected.shape}"
    kind = expected.dtype.kind
    if kind in "fc":
        # Equal values need no tolerance; this cheap test settles the usual case (a shadow-verified
        # call compares every argument too), and NaNs fall through to the full comparison.
        if bool((actual == expected).all()):
            return None
        with np.errstate(invalid="ignore", over="ignore"):
            close = np.isclose(actual, expected, rtol=tol.rtol_for(expected.dtype), atol=tol.atol_for(expected),
                               equal_nan=True)
            # Infinities and NaNs are compared exactly, part by part for complex numbers: isclose
            # calls any complex with a NaN part "NaN", so 1+nanj would pass for 2+nanj, and
            # inf+nanj is not == itself.
            special = np.isinf(expected) | np.isinf(actual) | np.isnan(expected) | np.isnan(actual)
            close &= ~special | _same_special(expected, actual)
    elif kind in "biumMSUV":
        close = actual == expected
    else:  # object arrays: compare element by element
        for index in np.ndindex(expected.shape):
            found = difference(expected[index], actual[index], tol, f"{where}[{index}]")
            if found:
                return found
        return None
    if bool(np.all(close)):
        return None
    bad = np.argwhere(~np.asarray(close))
    index = tuple(int(i) for i in bad[0])
    return (f"{where}: {len(bad)} of {expected.size} elements differ, first at {index}: "
            f"{_show(actual[index])} instead of {_show(expected[index])}")


def difference(expected: Any, actual: Any, tol: Tolerance, where: str = "result") -> str | None:
    """A sentence describing the first difference, or ``None`` when the values agree."""
    if isinstance(expected, np.ndarray) or isinstance(actual, np.ndarray):
        if not (isinstance(expected, np.ndarray) and isinstance(actual, np.ndarray)):
            return f"{where}: {type(actual).__name__} instead of {type(expected).__name__}"
        return _array_difference(expected, actual, tol, where)
    if _is_scalar(expected) and _is_scalar(actual):
        if isinstance(expected, np.generic) != isinstance(actual, np.generic):
            # np.float64 and float hold the same value but behave differently downstream
            # (``x / 0`` gives inf for one and raises for the other): the type is part of the answer.
            return f"{where}: {_type_label(actual)} {_show(actual)} instead of {_type_label(expected)} {_show(expected)}"
        e_dtype, a_dtype = _scalar_dtype(expected), _scalar_dtype(actual)
        if e_dtype is None or a_dtype is None:  # Python ints beyond 64 bits: exact, any type
            return None if expected == actual else f"{where}: {_show(actual)} instead of {_show(expected)}"
        if e_dtype != a_dtype:
            return f"{where}: {a_dtype} {_show(actual)} instead of {e_dtype} {_show(expected)}"
        return _array_difference(np.asarray(expected), np.asarray(actual), tol, where)
    if isinstance(expected, (tuple, list)):
        if type(expected) is not type(actual):
            return f"{where}: {type(actual).__name__} instead of {type(expected).__name__}"
        if len(expected) != len(actual):
            return f"{where}: length {len(actual)} instead of {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            found = difference(e, a, tol, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or expected.keys() != actual.keys():
            return f"{where}: different keys"
        for key in expected:
            found = difference(expected[key], actual[key], tol, f"{where}[{key!r}]")
            if found:
                return found
        return None
    if expected is None or actual is None:
        return None if expected is actual else f"{where}: {_show(actual)} instead of {_show(expected)}"
    if type(expected) is not type(actual):
        return f"{where}: {type(actual).__name__} instead of {type(expected).__name__}"
    try:
        equal = bool(expected == actual)
    except Exception:
        equal = False
    return None if equal else f"{where}: {_show(actual)} instead of {_show(expected)}"


def outcome_difference(expected: Outcome, actual: Outcome, tol: Tolerance) -> str | None:
    """How ``actual`` differs from the original's ``expected`` outcome, or ``None``."""
    if expected.raised or actual.raised:
        if expected.raised != actual.raised:
            said = f"raised {actual.raised_name}" if actual.raised else "returned normally"
            wanted = f"raised {expected.raised_name}" if expected.raised else "returned normally"
            return f"{said} where the original {wanted}"
    else:
        found = difference(expected.returned, actual.returned, tol, "return value")
        if found:
            return found
        if actual.aliases and not expected.aliases:
            return (f"return value: a view of argument {actual.aliases[0]} where the original returns a new array "
                    "(the caller's later changes to that argument would show through the result)")
    for position, (e, a) in enumerate(zip(expected.args_after, actual.args_after)):
        if e is not None:
            found = difference(e, a, tol, f"argument {position} after the call")
            if found:
                return found
    return None
