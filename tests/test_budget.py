"""The tuning budget (``Config.budget_s``): its default, and a run that hits it.

The trial loop is driven here by a scripted executor and a scripted clock, so what the budget
decides does not depend on how loaded the machine is; one real run checks the whole path.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.config import DEFAULT_BUDGET_S
from hotpath.errors import ConfigError
from hotpath.kernels import Candidate
from hotpath.rewriter.proposers import propose_all
from hotpath.rewriter.source import extract
from hotpath.runner import sandbox
from hotpath.runner.executors import JobResult, TrialJob
from hotpath.runner.inputs import CAPTURED, InputCase
from hotpath.runner.outcome import Outcome
from hotpath.runner.tasks import ReferenceReport
from hotpath.runner.trials import FIRST_TRIAL_FLOOR_S, SKIPPED, Budget, speculate
from hotpath.signature import signature_of


def squares(a):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * a[i]
    return total


def test_the_default_budget_is_a_minute_and_none_lifts_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no project table around
    monkeypatch.delenv("HOTPATH_BUDGET_S", raising=False)
    assert DEFAULT_BUDGET_S == 60.0 and hotpath.Config().budget_s == 60.0
    assert hotpath.Config(budget_s=None).budget_s is None
    (tmp_path / "pyproject.toml").write_text('[tool.hotpath]\nbudget_s = "none"\n')
    assert hotpath.Config().budget_s is None
    monkeypatch.setenv("HOTPATH_BUDGET_S", "15")  # outranks the table, not an argument
    assert hotpath.Config().budget_s == 15.0 and hotpath.Config(budget_s=5).budget_s == 5.0
    monkeypatch.setenv("HOTPATH_BUDGET_S", "soon")
    with pytest.raises(ConfigError, match="HOTPATH_BUDGET_S"):
        hotpath.Config()
    assert Budget.of(hotpath.Config(budget_s=float("inf")), 0.0) is None  # tune(..., budget_s=inf)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Scripted:
    """An executor that runs nothing: each job "takes" the seconds the script says, on ``clock``,
    and ends as the script says (a timeout runs to the job's deadline)."""

    slots = 1

    def __init__(self, clock: Clock, budget: Budget, script: list[tuple[str, float]]) -> None:
        self.clock, self.budget, self.script = clock, budget, script
        self.jobs: list[tuple[str, float, float]] = []  # (candidate, timeout given, budget left then)
        self.pending: dict[int, TrialJob] = {}

    def submit(self, job: TrialJob) -> int:
        self.jobs.append((job.task.candidate.name, job.timeout_s, self.budget.left_s()))
        self.pending[len(self.jobs)] = job
        return len(self.jobs)

    def next_done(self, tickets):
        ticket = min(tickets)
        job = self.pending.pop(ticket)
        kind, seconds = self.script.pop(0)
        if kind == "deadline":  # hangs on an edge input until stopped
            self.clock.now += job.timeout_s
            return ticket, JobResult(sandbox.SandboxFailure("timeout", "did not finish", "size-2"))
        self.clock.now += seconds
        return ticket, JobResult(sandbox.SandboxFailure(kind, "scripted", "size-2"))

    def close(self) -> None:
        pass


def _run(tmp_path: Path, budget_s: float, script: list[tuple[str, float]]):
    a = np.arange(5.0)
    config = hotpath.Config(backends=("numba",), cost_model=False, budget_s=budget_s, persist=False)
    fs = extract(squares)
    (numba, *_) = [p for p in propose_all(fs, signature_of((a,)), config, tmp_path) if isinstance(p, Candidate)]
    proposals = [dataclasses.replace(numba, name=f"numba-{i}") for i in range(4)]  # nothing is built here
    reference = ReferenceReport({CAPTURED: Outcome(returned=squares(a), args_after=(None,), elapsed_s=1e-5),
                                 "size-2": Outcome(returned=1.0, args_after=(None,), elapsed_s=1e-5)},
                                (), 1e-5, True, False)
    cases = [InputCase(CAPTURED, (a,)), InputCase("size-2", (np.arange(2.0),))]
    clock = Clock()
    budget = Budget(budget_s, 0.0, clock)
    executor = Scripted(clock, budget, script)
    trials = speculate(squares, fs, proposals, cases, reference, config, tmp_path, executor=executor,
                       budget=budget, range_guards=False)
    return proposals, trials, executor


def test_a_trial_stopped_by_the_budget_is_skipped_and_no_other_starts(tmp_path):
    proposals, trials, executor = _run(tmp_path, 10.0, [("deadline", 0.0)])
    # The likeliest winner always starts, with at least the floor; nothing after it.
    assert [(name, timeout) for name, timeout, _ in executor.jobs] == [(proposals[0].name, FIRST_TRIAL_FLOOR_S)]
    first, *rest = trials
    assert first.status == SKIPPED and first.reason.startswith("not finished: the tuning budget of 10 s ran out")
    assert "'size-2'" in first.reason and first.failure is None  # not a failure: no refinement, no bar
    assert len(rest) == len(proposals) - 1
    assert all(t.status == SKIPPED and t.reason.startswith("not tried: the tuning budget of 10 s was spent")
               for t in rest), [t.reason for t in rest]


def test_each_trial_gets_what_is_left_and_its_own_timeout_stays_a_failure(tmp_path):
    # The first crashes after 20 s, the next hits its per-input limit after 5 s (its own
    # failure), the third runs into the budget's deadline; then the budget is spent.
    proposals, trials, executor = _run(tmp_path, 100.0, [("crash", 20.0), ("timeout", 5.0), ("deadline", 0.0)])
    assert len(executor.jobs) == 3
    for _, timeout, left in executor.jobs[1:]:
        assert timeout == pytest.approx(left)  # what was left, not the usual 100+ s
    assert executor.jobs[1][1] == pytest.approx(80.0) and executor.jobs[2][1] == pytest.approx(75.0)
    ran = [t for t in trials if t.status != SKIPPED]
    assert [t.status for t in ran] == ["failed", "failed"]
    stopped = [t for t in trials if t.reason.startswith("not finished:")]
    not_tried = [t for t in trials if t.reason.startswith("not tried: the tuning budget of 100 s")]
    assert len(stopped) == 1 and len(ran) + len(stopped) + len(not_tried) == len(trials)


def test_a_real_run_on_a_tiny_budget_tries_one_candidate_and_says_why_not_the_rest(fast):
    a = np.random.default_rng(1).random(2000)
    result = hotpath.tune(squares, a, config=fast.replace(budget_s=0.001, persist=False))
    first, *rest = result.trials
    assert first.status != SKIPPED or first.reason.startswith("not finished: the tuning budget"), result.summary()
    # Proposals skipped for their own reasons keep them; every other one says the budget stopped it.
    budget = [t for t in rest if t.reason.startswith("not tried: the tuning budget of 0.001 s was spent")]
    assert budget and all(t.status == SKIPPED for t in rest), result.summary()
    assert "tuning budget" in (result.reason or "") or result.winner is not None, result.summary()
    assert result.optimized(a) == pytest.approx(squares(a))  # the winner, if the one tried won, or the original
    assert (result.winner is None) == (first.status != "won")
