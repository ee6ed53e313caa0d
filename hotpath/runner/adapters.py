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

An adapted candidate is a new candidate: it is verified on every input like any other, so the
rule "never install what was not shown equal" still holds, and the adapter's cost is part of
its timing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from hotpath.kernels.base import Candidate, Failure

FINITE = "finite"
DISTINCT_ARRAYS = "distinct-arrays"
CAST_RETURN = "cast-return:"
#: Generated inputs a finite guard routes to the original.
NON_FINITE_CASES = frozenset({"nan", "inf", "huge-float", "scalar-nan", "scalar-inf"})
#: Float scalars beyond this magnitude go to the original (their square would overflow).
SCALAR_LIMIT = 1e150


def _all_finite(args: tuple[Any, ...]) -> bool:
    for arg in args:
        kind = type(arg)
        if kind is np.ndarray:
            # One BLAS pass: the sum of squares is finite only if no element is NaN or inf and
            # none is near the overflow threshold. Real data that still overflows it merely
            # takes the original, which is always right.
            if arg.dtype.kind in "fc" and arg.size and not np.isfinite(np.vdot(arg, arg)):
                return False
        elif kind is float and not abs(arg) < SCALAR_LIMIT:
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
    arrays = [a for a in args if type(a) is np.ndarray]
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


def apply(adapters: tuple[str, ...], variant: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    """``variant`` wrapped in ``adapters``, innermost first."""
    for adapter in adapters:
        if adapter == FINITE:
            variant = finite_guard(variant, original)
        elif adapter == DISTINCT_ARRAYS:
            variant = aliasing_guard(variant, original)
        elif adapter.startswith(CAST_RETURN):
            variant = return_cast(variant, adapter[len(CAST_RETURN):])
        else:
            raise ValueError(f"unknown adapter {adapter!r}")
    return variant


def refine(candidate: Candidate, failure: Failure) -> Candidate | None:
    """The candidate with one more adapter, when ``failure`` is one an adapter fixes."""
    present = candidate.adapters
    if failure.return_dtypes and not any(a.startswith(CAST_RETURN) for a in present):
        adapter, label = CAST_RETURN + failure.return_dtypes, "+cast-return"
    elif failure.case in NON_FINITE_CASES and FINITE not in present:
        adapter, label = FINITE, "+finite-guard"
    else:
        return None
    return replace(candidate, name=candidate.name + label, adapters=(*present, adapter))
