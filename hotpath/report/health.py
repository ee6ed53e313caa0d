"""The loop's own health, from what the state folder recorded: how long synthesis takes, how
often a faulty candidate is caught before it is installed, how often installs are rolled back
and how fast, what each install was verified on, and what tuning cost the callers.

Every number comes from a record; what no record holds is named in ``not_recorded`` (and
shown as "not recorded") rather than estimated. The sources:

* the store (tuning runs with their wall time, trials, installs, the audit log), through
  ``hotpath.report.model``: a run's wall time, recorded with it and its install, dates its start;
* the watch's per-process files (``watch/``): the calls each install served.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hotpath import watch_report
from hotpath.report.model import Report
from hotpath.store.queries import InstallRow

#: Trial verdicts of a candidate that did not hold: caught before it could be installed.
CAUGHT = ("incorrect", "failed")
#: Watch checks whose rollback hands the very call that met the fault to the original.
ANSWERED_BY_ORIGINAL = ("shadow", "exception")

NOT_HOT = ("when a signature became hot is not recorded, so cycle times start when tuning started "
           "(a background job's wait in the tuner's queue is not included)")
NOT_BLOCKED = ("time callers spent blocked by tuning is not recorded (background tuning runs on its own "
               "thread while callers run the original; explicit hotpath.tune() and wait() calls block by request)")
NOT_FAULT_TIME = ("the moment a fault first occurred is not recorded: recovery is timed from the install "
                  "to the rollback, after which the original answers")


@dataclass(frozen=True)
class Cycle:
    """Synthesis cycle times (tuning start -> installed) of one function's installs."""

    function: str
    installs: int
    timed: int  # installs whose tuning start is recorded
    median_s: float | None
    p95_s: float | None


@dataclass(frozen=True)
class Recovery:
    """One automatic rollback: how long the faulty install served, and how many calls."""

    function: str
    signature: str
    variant: str
    check: str  # the watch rule that caught it: shadow, exception, slowdown
    in_service_s: float | None  # its install (or warm install) -> its rollback; None: install not found
    calls_served: int | None  # counted up to its last shadow-verified call; None: not recorded
    answered_by_original: bool  # the call that met the fault got the original's answer


@dataclass(frozen=True)
class Coverage:
    """What one install was verified on, and the guards it carries."""

    function: str
    signature: str
    variant: str
    state: str  # live, rolled back, rolled back by hand, replaced
    inputs: int | None  # None: not recorded (by an older hotpath)
    coverage_percent: float | None
    guards: tuple[str, ...] | None


@dataclass(frozen=True)
class Health:
    """The loop's health over everything the state folder recorded."""

    cycles: tuple[Cycle, ...]
    cycle_median_s: float | None
    cycle_p95_s: float | None
    caught_incorrect: int  # trials whose results differed from the original's
    caught_failed: int  # trials that crashed, hung, ran out of memory or did not build
    rolled_back: int  # installs the watch took out (faulty after all)
    manual_rollbacks: int  # by hand: not counted as faults
    self_correction: float | None  # caught / (caught + rolled back); None: nothing faulty yet
    calls_served: int | None  # by installed variants, over the watch files and rollback records
    rollbacks_per_1000_calls: float | None
    recoveries: tuple[Recovery, ...]
    recovery_median_s: float | None
    coverage: tuple[Coverage, ...]
    blocked_s: float | None  # always None: not recorded (see not_recorded)
    not_recorded: tuple[str, ...]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0 < q <= 100): a value that occurred, even for few values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100.0 * len(ordered)) - 1)]


def _cycle_s(report: Report, install: InstallRow) -> float | None:
    """Installed minus tuning start: the wall time of the run that made ``install``, which the
    store recorded in the same transaction as the install (None for a run of an older hotpath)."""
    run = report.run_of(install)
    return None if run is None else run.duration_s


def _cycles(report: Report) -> tuple[tuple[Cycle, ...], list[float]]:
    per_function: dict[str, list[float | None]] = {}
    for install in report.installs:
        per_function.setdefault(install.function, []).append(_cycle_s(report, install))
    cycles, every = [], []
    for function, values in per_function.items():
        timed = [v for v in values if v is not None]
        every += timed
        cycles.append(Cycle(function, len(values), len(timed),
                            statistics.median(timed) if timed else None, percentile(timed, 95)))
    return tuple(cycles), every


def _recoveries(report: Report) -> tuple[Recovery, ...]:
    found = []
    for index, event in enumerate(report.events):
        if event.action != "rollback":
            continue
        variant = str(event.detail.get("variant", ""))
        installed = next((e for e in reversed(report.events[:index])
                          if e.action in ("install", "warm-install") and e.function == event.function
                          and e.signature == event.signature and e.detail.get("variant") == variant), None)
        watched = event.detail.get("watch")
        calls = watched.get("calls") if isinstance(watched, dict) else None
        check = str(event.detail.get("check", ""))
        found.append(Recovery(event.function, event.signature, variant, check,
                              None if installed is None else event.created - installed.created,
                              None if calls is None else int(calls), check in ANSWERED_BY_ORIGINAL))
    return tuple(found)


def _calls_served(state_dir: Path, recoveries: Sequence[Recovery]) -> int | None:
    """Calls served by installs: the watch files of recent processes, plus what each rollback's
    record says its install served (a rolled-back install leaves its process's file at the next
    rewrite; the larger count is kept where both hold it)."""
    counted = {key: int(value.get("calls", 0)) for key, value in watch_report.totals(state_dir).items()}
    recorded = bool(counted)
    for r in recoveries:
        if r.calls_served is not None:
            key = (r.function, r.signature, r.variant)
            counted[key] = max(counted.get(key, 0), r.calls_served)
            recorded = True
    return sum(counted.values()) if recorded else None


def _coverage(report: Report) -> tuple[Coverage, ...]:
    found = []
    for install in report.installs:
        run = report.run_of(install)
        verified = run.verification if run is not None else None
        inputs = sum(n for _, n in verified.inputs) if verified is not None and verified.inputs else None
        found.append(Coverage(install.function, install.signature, install.name, report.install_state(install),
                              inputs, verified.coverage_percent if verified is not None else None,
                              install.guards))
    return tuple(found)


def compute(report: Report) -> Health:
    """The health of the loop whose state folder ``report`` was loaded from."""
    state_dir = Path(report.state_dir)
    cycles, every = _cycles(report)
    trials = report.trials
    incorrect = sum(1 for t in trials if t.status == "incorrect")
    failed = sum(1 for t in trials if t.status == "failed")
    recoveries = _recoveries(report)
    rolled_back = len(recoveries)
    faulty = incorrect + failed + rolled_back
    calls = _calls_served(state_dir, recoveries)
    in_service = [r.in_service_s for r in recoveries if r.in_service_s is not None]
    notes = [NOT_HOT, NOT_BLOCKED]
    if recoveries:
        notes.append(NOT_FAULT_TIME)
    if calls is None:
        notes.append("calls served by installs are not recorded (no watch file in the state folder and no "
                     "rollback recorded them): rollbacks per 1000 calls cannot be computed")
    if report.installs and not every:
        notes.append("no install's tuning start is recorded (its runs were recorded by a hotpath that did not "
                     "keep their wall time)")
    return Health(
        cycles=cycles, cycle_median_s=statistics.median(every) if every else None,
        cycle_p95_s=percentile(every, 95),
        caught_incorrect=incorrect, caught_failed=failed, rolled_back=rolled_back,
        manual_rollbacks=sum(1 for e in report.events if e.action == "manual-rollback"),
        self_correction=(incorrect + failed) / faulty if faulty else None,
        calls_served=calls,
        rollbacks_per_1000_calls=1000.0 * rolled_back / calls if calls else None,
        recoveries=recoveries, recovery_median_s=statistics.median(in_service) if in_service else None,
        coverage=_coverage(report), blocked_s=None, not_recorded=tuple(notes))


def _seconds(value: float | None) -> str:
    if value is None:
        return "not recorded"
    return f"{value * 1e3:.0f} ms" if value < 1.0 else f"{value:.1f} s"


def summary(h: Health) -> list[tuple[str, str]]:
    """(metric, value in words) for the terminal and the page; "not recorded" where no record holds it."""
    timed = sum(c.timed for c in h.cycles)
    installs = sum(c.installs for c in h.cycles)
    rows = [("synthesis cycle (tuning start -> installed)",
             f"median {_seconds(h.cycle_median_s)}, p95 {_seconds(h.cycle_p95_s)} over {timed} of {installs} "
             f"install(s)" if timed else ("no install yet" if not installs else "not recorded"))]
    rows += [(f"  cycle of {c.function}", f"median {_seconds(c.median_s)}, p95 {_seconds(c.p95_s)} "
                                           f"({c.timed} of {c.installs} install(s) timed)") for c in h.cycles]
    caught = h.caught_incorrect + h.caught_failed
    rows.append(("self-correction (caught before install / all faulty)",
                 "no faulty candidate yet" if h.self_correction is None else
                 f"{100 * h.self_correction:.0f}% ({caught} of {caught + h.rolled_back} caught before install: "
                 f"{h.caught_incorrect} incorrect, {h.caught_failed} failed; {h.rolled_back} rolled back after)"))
    rows.append(("rollbacks per 1000 calls",
                 "not recorded" if h.rollbacks_per_1000_calls is None else
                 f"{h.rollbacks_per_1000_calls:.3g} ({h.rolled_back} automatic rollback(s) in {h.calls_served} calls "
                 f"served by installs; {h.manual_rollbacks} by hand, not counted)"))
    if h.recoveries:
        answered = sum(r.answered_by_original for r in h.recoveries)
        calls = [r.calls_served for r in h.recoveries if r.calls_served is not None]
        served = f"median {statistics.median_low(calls)} calls" if calls else "calls not recorded"
        rows.append(("recovery from a faulty install (install -> rollback)",
                     f"median {_seconds(h.recovery_median_s)} in service, {served}; {answered} of "
                     f"{len(h.recoveries)}: the call that met the fault got the original's answer"))
    else:
        rows.append(("recovery from a faulty install (install -> rollback)", "no rollback yet"))
    covered = [c for c in h.coverage if c.coverage_percent is not None]
    rows.append(("verification coverage per install",
                 f"{len(covered)} of {len(h.coverage)} install(s) recorded; lowest "
                 f"{min(c.coverage_percent for c in covered if c.coverage_percent is not None):.0f}% of lines"
                 if covered else ("no install yet" if not h.coverage else "not recorded")))
    rows.append(("time callers spent blocked by tuning", _seconds(h.blocked_s)))
    return rows
