"""What the parent sends to a sandbox worker and what comes back: plain frozen records."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hotpath.kernels.base import Candidate, Failure
from hotpath.runner.compare import Tolerance
from hotpath.runner.explore import LineCoverage
from hotpath.runner.inputs import InputCase
from hotpath.runner.outcome import Outcome
from hotpath.runner.timing import Timing, fresh_factor


@dataclass(frozen=True)
class ReferenceTask:
    """Run the original on every case once: the answers every candidate must reproduce."""

    original: Callable[..., Any]
    cases: tuple[InputCase, ...]
    edge_case_limit_s: float  # an edge case the original cannot finish in this time is dropped
    helpers: tuple[str, ...] = ()  # qualnames of the user helpers whose lines count as covered
    params: tuple[str, ...] = ()  # the parameter names, to name the inputs the search finds
    search_s: float = 0.0  # time for the coverage-guided search for more inputs; 0: none
    #: Scale factors of the captured arguments' floats for the inputs that timed calls are
    #: checked on (``hotpath.runner.outcome.scaled_args``): drawn afresh for each tuning run, so
    #: no candidate can know them in advance.
    timed_factors: tuple[float, ...] = field(default_factory=lambda: _factors(2))


def _factors(count: int) -> tuple[float, ...]:
    draw = random.SystemRandom()
    return tuple(fresh_factor(draw) for _ in range(count))


@dataclass(frozen=True)
class ReferenceReport:
    outcomes: dict[str, Outcome]  # case name -> outcome, for the cases kept
    dropped: tuple[str, ...]  # "nan: the original ran longer than 2.0 s", ...
    captured_s: float  # the original's time on the captured arguments
    deterministic: bool  # two runs on the captured arguments agreed
    mutates: bool  # the original changed an argument in place
    found: tuple[InputCase, ...] = ()  # inputs the search added; their outcomes are in ``outcomes``
    coverage: LineCoverage | None = None  # lines of the original (and helpers) the inputs ran
    #: The original's outcome on the captured arguments scaled by each of the task's
    #: ``timed_factors``: what a candidate's timed calls on those inputs must give.
    timed: tuple[tuple[float, Outcome], ...] = ()


@dataclass(frozen=True)
class CandidateTask:
    """Compile one candidate, run it on every case, then time it: what the candidate's worker
    gets. It holds no expected outcome: the worker sends the candidate's outcomes back and the
    parent compares them (``Check``), out of the candidate's reach."""

    original: Callable[..., Any]
    candidate: Candidate
    cases: tuple[InputCase, ...]  # captured first
    limits_s: dict[str, float]  # case name -> how long the candidate may take on it
    mutates: bool
    timing_budget_s: float
    # False on a worker of another hardware class: its timings would not hold for the target,
    # so it verifies only and the timing is redone where the winner will run.
    time_it: bool = True
    #: Scale factors of the timed inputs whose outputs the worker sends back for checking.
    timed_factors: tuple[float, ...] = ()


@dataclass(frozen=True)
class Check:
    """What the parent holds to judge a candidate's worker: the original's outcomes."""

    expected: dict[str, Outcome]
    tolerance: Tolerance
    timed: tuple[tuple[float, Outcome], ...] = ()  # ReferenceReport.timed


@dataclass(frozen=True)
class CandidateReport:
    compile_s: float | None
    failure: Failure | None  # None: agreed on every case
    cases_checked: int
    timing: Timing | None
