"""Watching an installed variant: sampled shadow verification and the triggers for rollback.

Every ``period``-th call to an installed variant (``verify_rate``) also runs the original on a
copy of the arguments and compares everything observable. A mismatch, or an exception the
original would not raise, rolls the signature back at once; the caller gets the original's
result (and, for in-place functions, the original's effect on the arguments). A sustained
slowdown measured on those sampled calls rolls back too. Arguments are copied only for sampled
calls, and for functions that mutate their arguments (the copy is what makes an exception from
the variant recoverable).
"""

from __future__ import annotations

import copy
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotpath.frozen_globals import FrozenGlobals
from hotpath.kernels.base import Candidate
from hotpath.runner.compare import Tolerance, outcome_difference
from hotpath.runner.outcome import Outcome, exception_name
from hotpath.runner.timing import restore
from hotpath.signature import Signature

#: The countdown of an install that is never sampled (verify_rate=0).
NEVER = 2**62
#: Shadow samples considered for the slowdown rule, and how many must be in before it applies.
SLOWDOWN_WINDOW = 9
#: Calls shorter than this are not timed for the slowdown rule: one sample of a few microseconds
#: is mostly timer, cache and allocator noise (a cold first call read as 0.2x in a test).
MIN_TIMED_S = 2e-5
#: Roll back when the window's median speedup over the original falls below this: the variant
#: has become measurably slower than the code it replaced. The recorded speedup is not the bar:
#: it was measured at one input size, and speedups legitimately vary with size. A variant rolled
#: back is barred for its signature, so it cannot flap back in.
SLOWDOWN_FLOOR = 0.9


@dataclass(frozen=True)
class RollbackEvent:
    """Why a signature went back to the original, with the evidence for the audit log."""

    reason: str
    evidence: dict[str, Any]


class Install:
    """A variant in service for one signature. Mutable: it carries the sampling countdown."""

    __slots__ = ("signature", "candidate", "speedup", "origin", "variant", "invocation_errors", "mutates",
                 "frozen", "watched", "period", "countdown", "ratios", "installed_at")

    def __init__(self, signature: Signature, candidate: Candidate, speedup: float, origin: str,
                 variant: Callable[..., Any], invocation_errors: tuple[type[BaseException], ...],
                 mutates: bool, verify_rate: float, frozen: FrozenGlobals | None = None) -> None:
        self.signature = signature
        self.candidate = candidate
        self.speedup = speedup
        self.origin = origin  # "tuned" or "warm" (loaded from the store)
        self.variant = variant
        self.invocation_errors = invocation_errors
        self.mutates = mutates
        self.frozen = frozen  # the globals the variant was built with, checked before each call
        # Every call goes through the dispatcher's watched path (the compiled fast path reads this).
        self.watched = mutates or frozen is not None
        self.period = max(1, round(1 / verify_rate)) if verify_rate > 0 else NEVER
        self.countdown = self.period
        self.ratios: deque[float] = deque(maxlen=SLOWDOWN_WINDOW)
        self.installed_at = time.time()

    # The caller decrements ``countdown`` inline on every call (the hot path); at zero the call
    # is shadow-verified and the countdown starts over.


def _observe(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Outcome, BaseException | None, float]:
    start = time.perf_counter()
    try:
        returned = fn(*args)
    except Exception as exc:
        elapsed = time.perf_counter() - start
        return Outcome(raised=exception_name(exc), message=str(exc), args_after=args, elapsed_s=elapsed), exc, elapsed
    elapsed = time.perf_counter() - start
    return Outcome(returned=returned, args_after=args, elapsed_s=elapsed), None, elapsed


def _answer(outcome: Outcome, exc: BaseException | None) -> Any:
    if exc is not None:
        raise exc
    return outcome.returned


def shadow_call(install: Install, original: Callable[..., Any], args: tuple[Any, ...], tolerance: Tolerance,
                roll_back: Callable[[RollbackEvent], None]) -> Any:
    """Run variant and original, compare, answer with the variant's result or, on a mismatch,
    the original's (after ``roll_back``)."""
    shadow_args = copy.deepcopy(args)
    expected, expected_exc, t_original = _observe(original, shadow_args)
    actual, actual_exc, t_variant = _observe(install.variant, args)
    found = outcome_difference(expected, actual, tolerance)
    if found is not None:
        restore(args, shadow_args)  # the caller's arguments as the original left them
        roll_back(RollbackEvent(f"shadow verification found a difference: {found}",
                                {"check": "shadow", "difference": found}))
        return _answer(expected, expected_exc)
    if t_original >= MIN_TIMED_S:
        install.ratios.append(t_original / max(t_variant, 1e-12))
    if len(install.ratios) == SLOWDOWN_WINDOW:
        measured = statistics.median(install.ratios)
        if measured < SLOWDOWN_FLOOR:
            roll_back(RollbackEvent(
                f"sustained slowdown: median speedup {measured:.2f}x over the last {SLOWDOWN_WINDOW} "
                f"sampled calls, below {SLOWDOWN_FLOOR:.2f}x (recorded at tuning: {install.speedup:.2f}x)",
                {"check": "slowdown", "ratios": list(install.ratios), "recorded_speedup": install.speedup}))
    return _answer(actual, actual_exc)


def protected_call(install: Install, original: Callable[..., Any], args: tuple[Any, ...],
                   roll_back: Callable[[RollbackEvent], None]) -> Any:
    """An unsampled call of a variant that modifies its arguments: a copy first, so a failure
    can be undone."""
    backup = copy.deepcopy(args)
    try:
        return install.variant(*args)
    except install.invocation_errors:
        return original(*args)
    except Exception as exc:
        return variant_failed(install, original, args, exc, backup, roll_back)


def variant_failed(install: Install, original: Callable[..., Any], args: tuple[Any, ...], exc: Exception,
                   backup: tuple[Any, ...] | None, roll_back: Callable[[RollbackEvent], None]) -> Any:
    """The variant raised: roll back, undo its effect on the arguments, let the original answer."""
    if backup is not None:
        restore(args, backup)
    roll_back(RollbackEvent(f"the variant raised {type(exc).__name__}: {exc}",
                            {"check": "exception", "exception": exception_name(exc), "message": str(exc)[:300]}))
    return original(*args)  # raises, if the original raises too: the caller sees what Python would do
