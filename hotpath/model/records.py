"""Training data for the cost model: one record per candidate tried, from wherever it was measured.

Two sources, both plain JSON so any later hotpath (and any scikit-learn version) reads them:

* the default data shipped in the package (``data/corpus_trials.json``), measured on the
  project's own bench corpus by ``bench/model_trace.py`` and converted by
  ``python -m bench.run_model build-data``;
* this machine's own history: every guided tuning run appends one line to
  ``<state folder>/model/history.jsonl`` with the function's features, the model's ranking,
  why the search stopped and, per candidate, the labels the model learns from (outcome,
  speedup, cost). ``hotpath explain`` reads it too.

The record of a tuning run is the store's (every trial whole, its times, its install); the
history is the model's training set derived from the run, not a second record of it: a row
holds no more of a trial than the model learns from. It is a JSON-lines file rather than store
tables because the cost model sits below the store in the pipeline and cannot read it, and so
the model may change what it learns from without a store migration.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hotpath.model.features import FunctionFeatures
from hotpath.runner import trials as trial_statuses
from hotpath.runner.trials import Trial, TrialStatus
from hotpath.statedir import StateDir

log = logging.getLogger(__name__)

DEFAULT_DATA = Path(__file__).parent / "data" / "corpus_trials.json"
DATA_SCHEMA = "hotpath.model-data/1"
HISTORY_SCHEMA = "hotpath.model-history/1"
#: Statuses of candidates that compiled and agreed with the original on every input.
OK_STATUSES = trial_statuses.OK_STATUSES
#: Statuses of candidates that ran and were wrong or broke; "skipped" ones never ran and teach nothing.
TRIED_STATUSES = trial_statuses.TRIED_STATUSES


@dataclass(frozen=True)
class TrialRecord:
    """One candidate tried on one function at one signature, as the model learns from it."""

    group: str  # the function and signature it was tried on; cross-validation never splits a group
    features: FunctionFeatures
    backend: str
    name: str
    status: str
    speedup: float | None  # measured median speedup, for candidates that agreed
    wall_s: float  # what trying it cost: compile + verify + time, in seconds

    @property
    def ok(self) -> bool:
        """Compiled and agreed with the original on every input."""
        return self.status in OK_STATUSES

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = self.features.as_dict()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrialRecord:
        return cls(str(data["group"]), FunctionFeatures.from_dict(data["features"]), str(data["backend"]),
                   str(data["name"]), str(data["status"]),
                   None if data.get("speedup") is None else float(data["speedup"]), float(data.get("wall_s") or 0.0))


@dataclass(frozen=True)
class RunRecord:
    """One guided tuning run, as appended to the history: what was known, predicted and measured."""

    function: str  # module:qualname
    signature: str
    features: FunctionFeatures
    model: str  # which model ranked the candidates, or why none did
    ranking: tuple[dict[str, Any], ...]  # Prediction.to_json() in the order tried
    stopped: str | None  # why the search stopped before the end of the queue
    #: ``history_trial`` rows: backend, name, status, speedup, wall_s and reason. Rows an earlier
    #: hotpath wrote may also carry the rest of a ``Trial.to_json`` record; nothing reads it.
    trials: tuple[dict[str, Any], ...]
    duration_s: float
    created: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = self.features.as_dict()
        data["schema"] = HISTORY_SCHEMA
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        return cls(str(data["function"]), str(data["signature"]), FunctionFeatures.from_dict(data["features"]),
                   str(data.get("model", "")), tuple(data.get("ranking", ())), data.get("stopped"),
                   tuple(data.get("trials", ())), float(data.get("duration_s", 0.0)), float(data.get("created", 0.0)))

    def records(self) -> list[TrialRecord]:
        """The trials that ran, as training records."""
        group = f"{self.function}{self.signature}"
        return [TrialRecord(group, self.features, str(t["backend"]), str(t["name"]), str(t["status"]),
                            t.get("speedup"), float(t.get("wall_s") or 0.0))
                for t in self.trials if t.get("status") in TRIED_STATUSES]


def history_trial(trial: Trial, wall_s: float) -> dict[str, Any]:
    """``trial`` as a history row: the labels the model learns from (``status``, ``speedup``,
    ``wall_s``: what trying it cost), named by ``backend`` and ``name``, with the reason's first
    line for ``hotpath explain``. Not the trial's record: the store's tuning run holds that whole
    (``Trial.to_json``), and the model, which sits below the store, keeps only its training set."""
    return {"backend": trial.backend, "name": trial.name, "status": TrialStatus(trial.status).value,
            "speedup": trial.speedup, "wall_s": round(wall_s, 3),
            "reason": trial.reason.splitlines()[0][:300] if trial.reason else ""}


def history_path(state_dir: Path) -> Path:
    """Where this state folder's model history lives."""
    return StateDir(Path(state_dir)).model_history


def append_run(state_dir: Path, run: RunRecord) -> None:
    """Append ``run`` to the history; one ``write`` of one line, so concurrent writers interleave whole lines."""
    path = history_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(run.to_json(), default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_runs(state_dir: Path) -> list[RunRecord]:
    """Every run in the history, oldest first; unreadable lines are skipped with a log message."""
    path = history_path(state_dir)
    if not path.exists():
        return []
    runs = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            runs.append(RunRecord.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s line %d is not a history record (%s); ignored", path, number, exc)
    return runs


def read_data(path: Path = DEFAULT_DATA) -> list[TrialRecord]:
    """The records of a training-data file (the shipped default unless told otherwise)."""
    data = json.loads(Path(path).read_text())
    if data.get("schema") != DATA_SCHEMA:
        raise ValueError(f"{path}: schema {data.get('schema')!r}, expected {DATA_SCHEMA!r}")
    return [TrialRecord.from_json(r) for r in data["records"]]


def write_data(path: Path, records: Sequence[TrialRecord], provenance: dict[str, Any]) -> None:
    """Write training data as JSON (never a pickle: it must outlive library versions)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"schema": DATA_SCHEMA, "provenance": provenance,
                                      "records": [r.to_json() for r in records]}, indent=1) + "\n")


def default_data_path() -> Path:
    """The training data used by default: ``$HOTPATH_MODEL_DATA`` if set (your own), else the shipped file."""
    override = os.environ.get("HOTPATH_MODEL_DATA", "").strip()
    return Path(override) if override else DEFAULT_DATA


def training_records(state_dir: Path | None, default: bool = True) -> list[TrialRecord]:
    """The default data (if ``default``) followed by this state folder's history."""
    records: list[TrialRecord] = []
    path = default_data_path()
    if default and path.exists():
        try:
            records.extend(read_data(path))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("the cost-model data %s cannot be read: %s", path, exc)
    if state_dir is not None:
        records.extend(r for run in read_runs(state_dir) for r in run.records())
    return records


def runs_of(state_dir: Path, function: str) -> Iterable[RunRecord]:
    """History runs of ``function`` (``module:qualname``), oldest first."""
    return [run for run in read_runs(state_dir) if run.function == function]
