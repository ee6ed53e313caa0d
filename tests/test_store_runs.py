"""The store's tuning run is the one record of it: every trial stored whole (``Trial.to_json``)
and read back equal, with the run's wall time; the report reads its times from there, and
nothing else writes a second record of the run's trials."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import replace

import numpy as np
import pytest

import hotpath
from hotpath.model import records
from hotpath.report import health, model
from hotpath.runner.trials import Trial
from hotpath.statedir import StateDir
from hotpath.store import queries
from hotpath.store.db import MIGRATIONS, SCHEMA_VERSION, Database


def clipped_sum(a, limit):
    total = 0.0
    for i in range(a.shape[0]):
        total += min(a[i], limit)
    return total


def _has_nan(trial: Trial) -> bool:
    # A probe of a leaf that held only NaN has NaN bounds: they travel, but NaN != NaN.
    probes = () if trial.failure is None else (
        trial.failure.failed_probes + trial.failure.passed_probes + trial.failure.captured_probes)
    return any(math.isnan(p.low) or math.isnan(p.high) for p in probes)


@pytest.fixture(scope="module")
def recorded(fast, tmp_path_factory):
    """One real tuning run recorded in a fresh state folder (the cost model on, so it writes its history)."""
    home = tmp_path_factory.mktemp("home")
    result = hotpath.tune(clipped_sum, np.random.default_rng(0).random(2000), 0.5,
                          config=replace(fast, state_dir=home, cost_model=True))
    return home, result


@pytest.mark.slow
def test_trials_read_back_from_the_store_equal_to_what_was_recorded(recorded) -> None:
    home, result = recorded
    store = queries.open_existing(home)
    (run,) = queries.runs(store)
    assert run.function.endswith(":clipped_sum") and run.signature == str(result.signature)
    assert run.duration_s is not None and 0 < run.duration_s <= result.duration_s
    assert run.baseline_s == result.baseline_s
    back = queries.run_trials(store, run.id)
    assert [t.name for t in back] == [t.name for t in result.trials] and back
    assert any(t.candidate is not None and t.timing is not None for t in back)
    for got, trial in zip(back, result.trials):
        assert json.dumps(got.to_json()) == json.dumps(trial.to_json())
        assert (got == trial and got.failure == trial.failure) or _has_nan(trial)
    # The flat rows are a view of the same records.
    assert [(r.name, r.status, r.speedup, r.compile_s) for r in queries.trials(store)] == \
        [(t.name, t.status, t.speedup, t.compile_s) for t in result.trials]


@pytest.mark.slow
def test_the_report_times_runs_from_the_store_and_no_second_record_is_written(recorded) -> None:
    home, result = recorded
    report = model.load(home)
    assert report is not None
    (run,) = report.runs
    stored = queries.runs(queries.open_existing(home))[0]
    assert run.duration_s == stored.duration_s and run.verification == stored.verification
    if report.installs:
        (cycle,) = health.compute(report).cycles
        assert cycle.timed == 1 and cycle.median_s == stored.duration_s
    assert not (StateDir(home).profiles / "tuning-runs.jsonl").exists()
    # The model's history keeps its training labels, not the trials' records.
    (history,) = records.read_runs(home)
    assert [(t["name"], t["status"], t["speedup"]) for t in history.trials] == \
        [(t.name, t.status.value, t.speedup) for t in result.trials]
    assert all(set(t) == {"backend", "name", "status", "speedup", "wall_s", "reason"} for t in history.trials)


def test_a_version_4_store_is_migrated_and_its_old_runs_read_without_records(tmp_path) -> None:
    path = tmp_path / "store.db"
    old = sqlite3.connect(path)
    for step in range(4):
        for statement in MIGRATIONS[step].split(";"):
            if statement.strip():
                old.execute(statement)
    old.execute("INSERT INTO functions (module, qualname, source_hash) VALUES ('m', 'f', 'k')")
    old.execute("INSERT INTO tuning_runs (function_id, signature, environment, created, inputs) "
                "VALUES (1, '(x)', 'e', 5.0, '[]')")
    old.execute("INSERT INTO trials (function_id, signature, environment, backend, name, status, reason, created)"
                " VALUES (1, '(x)', 'e', 'numba', 'numba-serial', 'incorrect', 'differs', 5.0)")
    old.execute("PRAGMA user_version = 4")
    old.commit()
    old.close()
    db = Database(path)
    assert db.read("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 5
    assert [tuple(r) for r in db.read("SELECT record, run_id FROM trials")] == [(None, None)]
    from hotpath.store import Store

    store = Store.at(tmp_path, read_only=True)
    (run,) = queries.runs(store)
    assert (run.function, run.duration_s, run.baseline_s) == ("m:f", None, None)
    assert queries.run_trials(store, run.id) == ()
    assert [t.status for t in queries.trials(store)] == ["incorrect"]
