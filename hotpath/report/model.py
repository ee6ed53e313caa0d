"""The report's data: what was tried, what won, and the history of installs and rollbacks.

Built once from the store (``load``) and handed to the terminal table and the HTML page.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from hotpath.store import queries
from hotpath.store.audit import AuditEntry
from hotpath.store.queries import InstallRow, TrialRow
from hotpath.store.verification import Verification
from hotpath.statedir import StateDir


TIMELINE_ACTIONS = ("install", "warm-install", "rollback", "manual-rollback", "refusal")


@dataclass(frozen=True)
class TuningRun:
    """The trials of one tuning run of one function and signature."""

    function: str
    signature: str
    created: float
    trials: tuple[TrialRow, ...]
    duration_s: float | None  # known for runs made by `hotpath optimize`
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


def _durations(state_dir: Path) -> list[dict[str, object]]:
    path = StateDir(Path(state_dir)).tuning_runs
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found


def _duration_for(logged: list[dict[str, object]], function: str, signature: str, created: float) -> float | None:
    best = None
    for entry in logged:
        if entry.get("function") == function and entry.get("signature") == signature:
            gap = abs(float(entry.get("finished", 0.0)) - created)  # type: ignore[arg-type]
            if gap < 10.0 and (best is None or gap < best[0]):
                best = (gap, float(entry.get("duration_s", 0.0)))  # type: ignore[arg-type]
    return None if best is None else best[1]


def load(state_dir: Path) -> Report | None:
    """The report for a state folder, or ``None`` when it has no store."""
    store = queries.open_existing(state_dir)
    if store is None:
        return None
    grouped: dict[tuple[str, str, float], list[TrialRow]] = defaultdict(list)
    for t in queries.trials(store):
        grouped[(t.function, t.signature, t.created)].append(t)
    logged = _durations(Path(state_dir))
    verified = queries.verifications(store)
    runs = tuple(TuningRun(f, s, c, tuple(ts), _duration_for(logged, f, s, c), verified.get((f, s, c), Verification()))
                 for (f, s, c), ts in grouped.items())
    events = tuple(e for e in queries.audit(store) if e.action in TIMELINE_ACTIONS)
    return Report(str(state_dir), runs, tuple(queries.installs(store)), events)
