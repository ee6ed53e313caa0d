"""Watching an installed variant: shadow verification budgeted by time, and the triggers for rollback.

A sampled call also runs the original on a copy of what the call can change and compares
everything observable. A mismatch, or an exception the original would not raise, rolls the
signature back at once; the caller gets the original's result (and, for in-place functions, the
original's effect on the arguments). A sustained slowdown measured on those sampled calls rolls
back too.

Which calls are sampled: every call of a fresh install, warm or tuned, for its first
:data:`PROBATION_CALLS` calls (probation: the variant has seen only the verification inputs);
then the sampling period doubles after each sample until it reaches the period that keeps the
shadow calls' extra cost at ``watch_fraction`` of the variant's own call time. That period is
measured, not guessed: each sample times its shadow call and the variant in it. It never falls
below ``1 / verify_rate`` (the most calls ever checked) nor rises above :data:`MAX_PERIOD` (the
least). ``verify_rate=0`` turns the watch off. The period is jittered so that inputs that recur
with a fixed stride cannot hide between samples.

The unsampled call costs what it always did: the caller (``Optimized.__call__``, or its compiled
twin) decrements the integer ``countdown`` and calls the variant while it is positive; only the
period it is reset to changes. Arguments are copied only for sampled calls and for functions
that mutate their arguments (the copy is what makes an exception from the variant recoverable).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hotpath.frozen_globals import FrozenGlobals
from hotpath.kernels.base import Candidate
from hotpath.runner.compare import Tolerance, outcome_difference
from hotpath.runner.outcome import Outcome, copy_args, exception_name, holds_mutable
from hotpath.runner.timing import restore
from hotpath.signature import Signature

#: The countdown of an install that is never sampled (verify_rate=0).
NEVER = 2**62
#: Calls of a fresh install that are all shadow-verified before sampling starts to thin out.
PROBATION_CALLS = 16
#: The floor of the watch: at least one call in this many is checked, however costly the check.
MAX_PERIOD = 100_000
#: Weight of the newest sample in the running estimates of a shadow call's cost and the
#: variant's time (one slow sample, a page fault say, moves the period only a little).
SMOOTHING = 0.25
#: Samples considered for the slowdown rule, and how many must be in before it applies.
SLOWDOWN_WINDOW = 9
#: Calls shorter than this are not timed for the slowdown rule: one sample of a few microseconds
#: is mostly timer, cache and allocator noise (a cold first call read as 0.2x in a test).
MIN_TIMED_S = 2e-5
#: Roll back when the window's median speedup over the original falls below this: the variant
#: has become measurably slower than the code it replaced. The recorded speedup is not the bar:
#: it was measured at one input size, and speedups legitimately vary with size. A variant rolled
#: back is barred for its signature, so it cannot flap back in.
SLOWDOWN_FLOOR = 0.9
#: Scalar types for which ``==`` settles agreement (the tolerance is for values that differ).
_EXACT_SCALARS = frozenset({int, float, bool, complex, np.float64, np.float32, np.int64, np.int32, np.bool_,
                            np.complex128})


def budget_period(shadow_cost_s: float, variant_s: float, fraction: float) -> int:
    """The sampling period that keeps one shadow call's extra cost at ``fraction`` of the time the
    variant takes over that many calls (at least 1; :data:`MAX_PERIOD` when nothing may be spent)."""
    if fraction <= 0:
        return MAX_PERIOD
    if math.isinf(fraction):
        return 1
    return max(1, math.ceil(shadow_cost_s / (fraction * max(variant_s, 1e-9))))


@dataclass(frozen=True)
class RollbackEvent:
    """Why a signature went back to the original, with the evidence for the audit log."""

    reason: str
    evidence: dict[str, Any]


class Install:
    """A variant in service for one signature. Mutable: it carries the sampling countdown and
    what the watch measured."""

    __slots__ = ("signature", "candidate", "speedup", "origin", "variant", "invocation_errors", "mutates",
                 "frozen", "watched", "period", "countdown", "ratios", "installed_at", "ceiling", "fraction",
                 "probation", "shadow_cost_s", "variant_s", "checked", "calls", "agreed_exceptions", "clock",
                 "interval", "_jitter")

    def __init__(self, signature: Signature, candidate: Candidate, speedup: float, origin: str,
                 variant: Callable[..., Any], invocation_errors: tuple[type[BaseException], ...],
                 mutates: bool, verify_rate: float, frozen: FrozenGlobals | None = None,
                 watch_fraction: float = 0.02) -> None:
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
        #: The shortest period after probation (``1 / verify_rate``); NEVER: not watched at all.
        self.ceiling = max(1, round(1 / verify_rate)) if verify_rate > 0 else NEVER
        self.fraction = watch_fraction
        self.probation = PROBATION_CALLS if verify_rate > 0 else 0
        self.period = 1 if verify_rate > 0 else NEVER
        self.countdown = self.period
        self.interval = self.period  # the calls from one sample to the next, jitter included
        # (original, variant) seconds of the last sampled calls long enough to time
        self.ratios: deque[tuple[float, float]] = deque(maxlen=SLOWDOWN_WINDOW)
        self.installed_at = time.time()
        self.shadow_cost_s = 0.0  # running estimate: what a shadow call costs beyond the variant
        self.variant_s = 0.0  # running estimate: the variant's own call
        self.checked = 0  # shadow-verified calls
        self.calls = 0  # calls served, counted up to the last sample (the countdown does the rest)
        self.agreed_exceptions = 0  # the variant raised, and so did the original, with the same type
        self.clock: Callable[[], float] = time.perf_counter  # a seam: tests inject timings here
        self._jitter = random.Random(0)  # reproducible

    # The caller decrements ``countdown`` inline on every call (the hot path); at zero the call
    # is shadow-verified and ``sampled`` sets the next countdown.

    def sampled(self, shadow_cost_s: float, variant_s: float) -> None:
        """Account one shadow-verified call (its cost beyond the variant's call, and the variant's
        time) and set the period until the next one."""
        self.checked += 1
        self.calls += self.interval
        if self.checked == 1:
            self.shadow_cost_s, self.variant_s = shadow_cost_s, variant_s
        else:
            self.shadow_cost_s += SMOOTHING * (shadow_cost_s - self.shadow_cost_s)
            self.variant_s += SMOOTHING * (variant_s - self.variant_s)
        if self.probation > 0:
            self.probation -= 1
            self.period = 1
        else:
            target = min(MAX_PERIOD, max(self.ceiling, budget_period(self.shadow_cost_s, self.variant_s,
                                                                     self.fraction)))
            # After probation the rate decays (doubling the period) rather than dropping at once.
            self.period = target if target <= self.period else min(target, 2 * self.period)
        # Jittered by up to a quarter either way, so a fault on every k-th input cannot stay in
        # step with the samples; the mean stays ``period``.
        spread = self.period // 4
        self.interval = self.countdown = self.period + (self._jitter.randint(-spread, spread) if spread else 0)

    @property
    def shadow_share(self) -> float:
        """The estimated fraction of this install's call time spent on shadow verification."""
        if self.period >= NEVER or self.variant_s <= 0:
            return 0.0
        return self.shadow_cost_s / (self.period * self.variant_s)

    def watch_summary(self) -> dict[str, Any]:
        """What the watch measured, for ``hotpath status`` and the audit log."""
        return {"checked": self.checked, "calls": self.calls, "period": self.period if self.period < NEVER else 0,
                "shadow_share": round(self.shadow_share, 5), "probation_left": self.probation,
                "agreed_exceptions": self.agreed_exceptions,
                "shadow_cost_us": round(self.shadow_cost_s * 1e6, 2), "variant_us": round(self.variant_s * 1e6, 3)}


def changeable_copy(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A copy of what a call could change in ``args``, sharing everything else, with the
    arguments' aliasing kept (``f(x, x)``, overlapping views): see ``copy_args``."""
    return copy_args(args, changeable_only=True)


def _observe(fn: Callable[..., Any], args: tuple[Any, ...],
             clock: Callable[[], float]) -> tuple[Any, BaseException | None, float]:
    start = clock()
    try:
        returned = fn(*args)
    except Exception as exc:
        return None, exc, clock() - start
    return returned, None, clock() - start


def _outcome(returned: Any, exc: BaseException | None, after: tuple[Any, ...]) -> Outcome:
    if exc is not None:
        return Outcome(raised=exception_name(exc), message=str(exc)[:300], args_after=after)
    return Outcome(returned=returned, args_after=after)


def _shadow_difference(expected: tuple[Any, BaseException | None], actual: tuple[Any, BaseException | None],
                       shadow_args: tuple[Any, ...], args: tuple[Any, ...], tolerance: Tolerance) -> str | None:
    """How the variant's call differed from the original's, or ``None``; compares only the
    arguments the shadow call had its own copies of (the others no call could change)."""
    e_after = tuple(s if s is not a and holds_mutable(s) else None for s, a in zip(shadow_args, args))
    a_after = tuple(None if e is None else a for e, a in zip(e_after, args))
    e_returned, a_returned = expected[0], actual[0]
    if (expected[1] is None and actual[1] is None and type(e_returned) is type(a_returned)
            and type(e_returned) in _EXACT_SCALARS and e_returned == a_returned):
        e_returned = a_returned = None  # equal scalars of one type: nothing for the tolerance to judge
    return outcome_difference(_outcome(e_returned, expected[1], e_after), _outcome(a_returned, actual[1], a_after),
                              tolerance)


def _answer(returned: Any, exc: BaseException | None) -> Any:
    if exc is not None:
        raise exc
    return returned


def shadow_call(install: Install, original: Callable[..., Any], args: tuple[Any, ...], tolerance: Tolerance,
                roll_back: Callable[[RollbackEvent], None]) -> Any:
    """Run variant and original, compare, answer with the variant's result or, on a mismatch,
    the original's (after ``roll_back``); then set the period until the next sample."""
    clock = install.clock
    start = clock()
    shadow_args = changeable_copy(args)
    e_returned, e_exc, t_original = _observe(original, shadow_args, clock)
    a_returned, a_exc, t_variant = _observe(install.variant, args, clock)
    if a_exc is not None and isinstance(a_exc, install.invocation_errors):
        # The variant could not take these values (nothing ran): the original's call answers.
        restore(args, shadow_args)
        return _answer(e_returned, e_exc)
    found = _shadow_difference((e_returned, e_exc), (a_returned, a_exc), shadow_args, args, tolerance)
    if found is not None:
        restore(args, shadow_args)  # the caller's arguments as the original left them
        roll_back(RollbackEvent(f"shadow verification found a difference: {found}",
                                {"check": "shadow", "difference": found, "watch": install.watch_summary()}))
        return _answer(e_returned, e_exc)
    if t_original >= MIN_TIMED_S:
        install.ratios.append((t_original, max(t_variant, 1e-12)))
    if len(install.ratios) == SLOWDOWN_WINDOW:
        # The median and the mean, as at install: a variant whose typical call is fine but whose
        # rare calls take far longer (threads waiting for a busy core) slows the program as surely.
        median = statistics.median(o / v for o, v in install.ratios)
        mean = sum(o for o, _ in install.ratios) / sum(v for _, v in install.ratios)
        if min(median, mean) < SLOWDOWN_FLOOR:
            which, measured = ("median", median) if median <= mean else ("mean", mean)
            roll_back(RollbackEvent(
                f"sustained slowdown: {which} speedup {measured:.2f}x over the last {SLOWDOWN_WINDOW} "
                f"sampled calls, below {SLOWDOWN_FLOOR:.2f}x (recorded at tuning: {install.speedup:.2f}x)",
                {"check": "slowdown", "ratios": [o / v for o, v in install.ratios], "median": median, "mean": mean,
                 "recorded_speedup": install.speedup}))
    install.sampled(clock() - start - t_variant, t_variant)
    if e_exc is not None:
        raise e_exc  # both raised the same type: the caller sees the original's exception
    return a_returned


def protected_call(install: Install, original: Callable[..., Any], args: tuple[Any, ...],
                   roll_back: Callable[[RollbackEvent], None]) -> Any:
    """An unsampled call of a variant that modifies its arguments: a copy first, so a failure
    can be undone."""
    backup = changeable_copy(args)
    try:
        return install.variant(*args)
    except install.invocation_errors:
        return original(*args)
    except Exception as exc:
        return variant_failed(install, original, args, exc, backup, roll_back)


def variant_failed(install: Install, original: Callable[..., Any], args: tuple[Any, ...], exc: Exception,
                   backup: tuple[Any, ...] | None, roll_back: Callable[[RollbackEvent], None]) -> Any:
    """The variant raised: undo its effect on the arguments and let the original answer.

    When the original raises the same exception type on the same input (a validation
    ``ValueError``, a ``KeyError`` for a missing key), the variant did what the original does:
    the caller gets the original's exception and the variant stays (counted in
    ``agreed_exceptions``). Otherwise the variant is rolled back and barred.
    """
    if backup is not None:
        restore(args, backup)
    try:
        result = original(*args)
    except Exception as expected:
        if type(expected) is type(exc):
            install.agreed_exceptions += 1
            raise
        roll_back(RollbackEvent(
            f"the variant raised {type(exc).__name__}: {exc} where the original raised {type(expected).__name__}",
            {"check": "exception", "exception": exception_name(exc), "message": str(exc)[:300],
             "original_exception": exception_name(expected)}))
        raise  # the caller sees what Python would do
    roll_back(RollbackEvent(f"the variant raised {type(exc).__name__}: {exc}",
                            {"check": "exception", "exception": exception_name(exc), "message": str(exc)[:300]}))
    return result
