"""Stage records as JSON: candidates, skips, failures, timings and trials round-trip exactly
through ``json``; the bench harness's rows are views of ``Trial.to_json``, the cost model's
history rows keep only the labels it learns from (old history lines still load)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

import hotpath
from bench import harness
from hotpath.kernels import Candidate, Failure, Skipped
from hotpath.model import records
from hotpath.model.features import FunctionFeatures
from hotpath.rewriter.proposers import propose_all
from hotpath.rewriter.source import extract
from hotpath.runner.inputs import Probe
from hotpath.runner.timing import Timing
from hotpath.runner.trials import TRIAL_SCHEMA, Trial, TrialStatus
from hotpath.signature import signature_of


def clipped_sum(a, limit):
    total = 0.0
    for i in range(a.shape[0]):
        total += min(a[i], limit)
    return total


def _through_json(data: dict) -> dict:
    return json.loads(json.dumps(data))


def _has_nan(trial: Trial) -> bool:
    # A probe of a leaf that held only NaN has NaN bounds: they travel, but NaN != NaN.
    probes = () if trial.failure is None else (
        trial.failure.failed_probes + trial.failure.passed_probes + trial.failure.captured_probes)
    return any(math.isnan(p.low) or math.isnan(p.high) for p in probes)


@pytest.fixture(scope="module")
def tuned(fast) -> hotpath.TuneResult:
    """One real tuning run, shared: its trials are the records under test."""
    return hotpath.tune(clipped_sum, np.random.default_rng(0).random(2000), 0.5, config=fast)


@pytest.mark.slow
def test_trials_of_a_real_run_round_trip_exactly(tuned) -> None:
    assert tuned.trials and any(t.timing is not None and t.candidate is not None for t in tuned.trials)
    assert any(t.failure is not None and t.failure.passed_probes for t in tuned.trials)
    for trial in tuned.trials:
        data = _through_json(trial.to_json())
        assert data["schema"] == TRIAL_SCHEMA and data["status"] == trial.status.value
        back = Trial.from_json(data)
        assert json.dumps(back.to_json()) == json.dumps(trial.to_json())
        assert (back == trial and back.failure == trial.failure) or _has_nan(trial)
        assert isinstance(back.status, TrialStatus)
        if trial.candidate is not None:
            assert back.candidate.namespace == trial.candidate.namespace and back.candidate.path == trial.candidate.path
        if trial.timing is not None:
            assert Timing.from_json(_through_json(trial.timing.to_json())) == trial.timing


@pytest.mark.slow
def test_without_the_candidate_a_trial_reads_back_with_none(tuned) -> None:
    trial = next(t for t in tuned.trials if t.candidate is not None)
    data = _through_json(trial.to_json(candidate=False))
    assert data["candidate"] is None and "source" not in json.dumps(data)
    back = Trial.from_json(data)
    assert back.candidate is None and back.options == trial.options and back.timing == trial.timing


def test_proposals_round_trip(fast) -> None:
    a = np.random.default_rng(1).random(500)
    proposals = propose_all(extract(clipped_sum), signature_of((a, 0.5)), fast,
                            fast.resolved_state_dir() / "kernels")
    assert any(isinstance(p, Candidate) for p in proposals)
    for p in proposals:
        kind = Candidate if isinstance(p, Candidate) else Skipped
        assert kind.from_json(_through_json(p.to_json())) == p
    skipped = Skipped("cython", "cython-typed", "no C compiler")
    assert Skipped.from_json(_through_json(skipped.to_json())) == skipped


def test_a_failure_with_probes_round_trips_through_its_trial() -> None:
    failure = Failure("mismatch", "mismatch on input 'probe-0-high'", "probe-0-high", None, "ZeroDivisionError",
                      "float32", failed_probes=(Probe((0,), 1e300, math.inf),),
                      passed_probes=(Probe((0, 2), -1.0, 1.0, nan=True),), captured_probes=(Probe((0,), 0.0, 1.0),),
                      below_size=4, equal_lengths=(((0,), (2, 1)), ((1,), (3,))))
    trial = Trial("numba", "numba-serial", TrialStatus.INCORRECT, failure.message, (("parallel", False),),
                  failure=failure, cases_checked=7, compile_s=0.25)
    back = Trial.from_json(_through_json(trial.to_json()))
    assert back == trial and back.failure == failure
    # A foundation module cannot build probes on its own: it says so rather than dropping them.
    with pytest.raises(ValueError, match="probe"):
        Failure.from_json(failure.to_json())
    assert Failure.from_json(Failure("compile", "no").to_json()) == Failure("compile", "no")


def test_another_schema_version_is_refused() -> None:
    data = Trial("numba", "numba-serial", TrialStatus.SKIPPED, "not tried: budget").to_json()
    with pytest.raises(ValueError, match="hotpath.trial/2"):
        Trial.from_json({**data, "schema": "hotpath.trial/2"})
    with pytest.raises(ValueError, match="schema"):
        Skipped.from_json({"schema": "hotpath.candidate/1", "backend": "b", "name": "n", "reason": "r"})


@pytest.mark.slow
def test_history_rows_are_the_models_labels_not_trial_records(tuned) -> None:
    trial = next(t for t in tuned.trials if t.timing is not None)
    row = _through_json(records.history_trial(trial, 1.23456))
    # The store holds the trial whole; the model's history only what the model learns from.
    assert row == {"backend": trial.backend, "name": trial.name, "status": trial.status.value,
                   "speedup": trial.speedup, "wall_s": 1.235, "reason": trial.reason.splitlines()[0]}


@pytest.mark.slow
def test_old_and_new_history_lines_both_load(tmp_path, tuned) -> None:
    features = FunctionFeatures()
    old = {"function": "m:f", "signature": "(float64[:])", "features": features.as_dict(), "model": "none",
           "ranking": [], "stopped": None, "duration_s": 2.0, "created": 1.0, "schema": records.HISTORY_SCHEMA,
           "trials": [{"backend": "numba", "name": "numba-serial", "status": "won", "speedup": 3.0,
                       "wall_s": 0.5, "reason": "fastest"},
                      {"backend": "numba", "name": "numba-parallel", "status": "skipped", "speedup": None,
                       "wall_s": 0.0, "reason": "not tried: budget"}]}
    new = records.RunRecord("m:f", "(float64[:])", features, "none", (), None,
                            tuple(records.history_trial(t, 0.5) for t in tuned.trials), 3.0, 2.0)
    records.append_run(tmp_path, records.RunRecord.from_json(old))
    records.append_run(tmp_path, new)
    first, second = records.read_runs(tmp_path)
    assert first.trials == tuple(old["trials"]) and second == new
    learned = first.records()
    assert [(r.name, r.status, r.speedup, r.wall_s) for r in learned] == [("numba-serial", "won", 3.0, 0.5)]
    tried = [t for t in tuned.trials if t.status != TrialStatus.SKIPPED]
    assert [(r.name, r.status, r.speedup) for r in second.records()] == [(t.name, t.status, t.speedup) for t in tried]


@pytest.mark.slow
def test_bench_rows_are_views_of_the_trial_record(tuned) -> None:
    row = harness.tune_row(tuned, "clipped_sum", 1.0)
    assert json.loads(json.dumps(row)) == row
    for trial, trow in zip(tuned.trials, row["trials"]):
        assert (trow["name"], trow["status"], trow["speedup"]) == (trial.name, trial.status.value, trial.speedup)
        if trial.timing is not None:
            assert trow["original_ms"] == trial.timing.original_s * 1e3
            assert trow["ci"] == [trial.timing.ci_low, trial.timing.ci_high]


@pytest.mark.slow
def test_a_tuning_run_is_one_json_record_of_its_parts(tuned) -> None:
    data = _through_json(tuned.to_json())
    assert data["schema"] == "hotpath.tune-result/1" and data["function"] == tuned.function
    assert [Trial.from_json(t) for t in data["trials"]] == [replace(t, candidate=None) for t in tuned.trials] \
        or any(_has_nan(t) for t in tuned.trials)
    if tuned.winner is not None:
        assert data["winner"]["name"] == tuned.winner.name and data["speedup"] == tuned.speedup
    assert data["inputs"] == [list(pair) for pair in tuned.inputs] and data["baseline_s"] == tuned.baseline_s
