"""The report's data: what was tried, what won, and the history of installs and rollbacks.

Built once from the store (``load``) and handed to the terminal table and the HTML page.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from hotpath.store import queries
from hotpath.store.audit import AuditEntry
from hotpath.store.queries import InstallRow, RunRow, TrialRow
from hotpath.store.verification import Verification


TIMELINE_ACTIONS = ("install", "warm-install", "rollback", "manual-rollback", "refusal")
#: An install's state as the report shows it on every bar and row.
LIVE, ROLLED_BACK, NOT_INSTALLED = "live", "rolled back", "not installed"
#: The store's words for an install retired by a later tuning run, and by ``hotpath rollback``.
REPLACED_REASON, MANUAL_REASON = "replaced by a new tuning run", "rolled back by hand"


@dataclass(frozen=True)
class TuningRun:
    """The trials of one tuning run of one function and signature."""

    function: str
    signature: str
    created: float
    trials: tuple[TrialRow, ...]
    duration_s: float | None  # its wall time, as the store recorded it; None for runs of an older hotpath
    verification: Verification = Verification()  # inputs by rule, coverage, the install's guards

    @property
    def winner(self) -> TrialRow | None:
        return next((t for t in self.trials if t.status == "won"), None)

    @property
    def original_s(self) -> float | None:
        return next((t.original_s for t in self.trials if t.original_s), None)


@dataclass(frozen=True)
class Report:
    state_dir: str
    runs: tuple[TuningRun, ...]
    installs: tuple[InstallRow, ...]
    events: tuple[AuditEntry, ...]

    @property
    def trials(self) -> tuple[TrialRow, ...]:
        return tuple(t for run in self.runs for t in run.trials)

    def run_of(self, install: InstallRow) -> TuningRun | None:
        """The tuning run that made ``install`` (recorded in the same transaction, at the same time)."""
        return next((r for r in self.runs if r.function == install.function and r.signature == install.signature
                     and r.created == install.created), None)

    def install_of(self, run: TuningRun, variant: str) -> InstallRow | None:
        """The install ``run`` made of ``variant``, if it installed it."""
        return next((i for i in self.installs if i.function == run.function and i.signature == run.signature
                     and i.created == run.created and i.name == variant), None)

    @staticmethod
    def install_state(install: InstallRow | None) -> str:
        """live, rolled back (by the watch), rolled back by hand, replaced (by a later run), or not installed."""
        if install is None:
            return NOT_INSTALLED
        if install.active:
            return LIVE
        reason = install.retired_reason or ""
        if reason == REPLACED_REASON:
            return "replaced"
        return "rolled back by hand" if reason == MANUAL_REASON else ROLLED_BACK


def _times_and_verification(run: RunRow | None) -> tuple[float | None, Verification]:
    # Runs recorded by an older hotpath have no row, or a row without their wall time.
    return (None, Verification()) if run is None else (run.duration_s, run.verification)


def load(state_dir: Path) -> Report | None:
    """The report for a state folder, or ``None`` when it has no store."""
    store = queries.open_existing(state_dir)
    if store is None:
        return None
    grouped: dict[tuple[str, str, float], list[TrialRow]] = defaultdict(list)
    for t in queries.trials(store):
        grouped[(t.function, t.signature, t.created)].append(t)
    recorded = {(r.function, r.signature, r.created): r for r in queries.runs(store)}
    runs = tuple(TuningRun(f, s, c, tuple(ts), *_times_and_verification(recorded.get((f, s, c))))
                 for (f, s, c), ts in grouped.items())
    events = tuple(e for e in queries.audit(store) if e.action in TIMELINE_ACTIONS)
    return Report(str(state_dir), runs, tuple(queries.installs(store)), events)
