"""Running a function on one input and recording everything observable about it."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

_MUTABLE = (np.ndarray, list, dict, bytearray, set)


@dataclass(frozen=True)
class Outcome:
    """What a call did: its return value or exception, and its mutable arguments afterwards."""

    returned: Any = None
    raised: str | None = None  # qualified exception type, e.g. "builtins.IndexError"
    message: str = ""
    args_after: tuple[Any, ...] = ()  # None where the argument cannot be mutated
    elapsed_s: float = 0.0

    @property
    def raised_name(self) -> str | None:
        return None if self.raised is None else self.raised.rsplit(".", 1)[-1]


def exception_name(exc: BaseException) -> str:
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}"


def fresh_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A deep copy that keeps identities among the arguments (``f(x, x)`` stays aliased)."""
    return copy.deepcopy(args)


def run_case(fn: Callable[..., Any], args: tuple[Any, ...]) -> Outcome:
    """Call ``fn`` on a fresh copy of ``args`` and record the outcome."""
    call_args = fresh_args(args)
    start = time.perf_counter()
    try:
        returned = fn(*call_args)
    except Exception as exc:  # the candidate must raise the same type; nothing else is needed
        elapsed = time.perf_counter() - start
        return Outcome(raised=exception_name(exc), message=str(exc)[:300],
                       args_after=mutable_view(call_args), elapsed_s=elapsed)
    elapsed = time.perf_counter() - start
    return Outcome(returned=returned, args_after=mutable_view(call_args), elapsed_s=elapsed)


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
