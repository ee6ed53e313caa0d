"""Value guards: a variant that is right except on non-finite inputs can still serve the rest.

A compiled variant often differs from Python only where NaN or inf appear, or arise from
overflow (``int(nan)`` and ``int(inf)`` raise in Python, return garbage in Numba). Such a
candidate is retried wrapped in a guard that sends every call with a non-finite or astronomically
large float argument to the original; the wrapped variant is then
verified on every input like any other, so the rule "never install what was not shown equal"
still holds, and the guard's cost is part of its timing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from hotpath.kernels.base import Candidate, Failure

FINITE = "finite"
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

    guarded.__wrapped__ = variant  # type: ignore[attr-defined]
    return guarded


def apply(guard: str | None, variant: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    """``variant`` behind ``guard`` (``None``: unguarded)."""
    if guard is None:
        return variant
    if guard == FINITE:
        return finite_guard(variant, original)
    raise ValueError(f"unknown guard {guard!r}")


def refine(candidate: Candidate, failure: Failure) -> Candidate | None:
    """The candidate behind a finite guard, when it went wrong only on a non-finite input."""
    if candidate.guard is not None or failure.case not in NON_FINITE_CASES:
        return None
    return replace(candidate, name=f"{candidate.name}+finite-guard", guard=FINITE)
