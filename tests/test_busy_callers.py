"""Tuning while the caller's threads are busy: callers yield the GIL more often while the tuner
works, and the cost model is loaded, fitted and asked in a helper process with the same
decisions as in the caller's (bench/busy_callers.py measures the time it saves)."""

from __future__ import annotations

import dataclasses
import sys
import threading
from types import SimpleNamespace

import numpy as np
import pytest

import hotpath
from hotpath.dispatch import TUNING_SWITCH_INTERVAL_S, yielding_callers
from hotpath.kernels import Candidate
from hotpath.model import helper, search
from hotpath.model.guide import guide
from hotpath.rewriter.proposers import propose_all
from hotpath.rewriter.source import extract
from hotpath.signature import signature_of


def squares(a):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * a[i]
    return total


@pytest.fixture
def switch_interval():
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_callers_yield_more_often_while_tuning_and_not_after(switch_interval):
    sys.setswitchinterval(0.005)
    with yielding_callers():
        assert sys.getswitchinterval() == pytest.approx(TUNING_SWITCH_INTERVAL_S)
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_a_program_s_own_switch_interval_is_kept(switch_interval):
    sys.setswitchinterval(0.00005)  # lower than ours: never raised
    with yielding_callers():
        assert sys.getswitchinterval() == pytest.approx(0.00005)
    sys.setswitchinterval(0.005)
    with yielding_callers():
        sys.setswitchinterval(0.002)  # the program changed it meanwhile: its value stands
    assert sys.getswitchinterval() == pytest.approx(0.002)


class SeesSwitchInterval:
    """A proposer plug-in that proposes nothing and notes the switch interval it ran under."""

    name = "sees-switch-interval"
    seen: list[tuple[str, float]] = []

    def propose(self, fs, signature, config, kernels_dir):
        self.seen.append((threading.current_thread().name, sys.getswitchinterval()))
        return []


SEES = SeesSwitchInterval()


@pytest.mark.slow
def test_background_tune_runs_with_callers_yielding(fast, switch_interval):
    sys.setswitchinterval(0.005)
    SEES.seen.clear()
    # cupy proposes nothing on CPU code: the plug-in's empty list leaves nothing to build.
    fn = hotpath.optimize(squares, config=fast.replace(backends=("cupy",), proposers=("tests.test_busy_callers:SEES",),
                                                       hot_calls=2, persist=False))
    a = np.arange(50.0)
    fn(a)
    fn(a)
    assert fn.wait(120)
    assert SEES.seen and SEES.seen[0][0] == "hotpath-tuner"
    assert SEES.seen[0][1] == pytest.approx(TUNING_SWITCH_INTERVAL_S)
    assert sys.getswitchinterval() == pytest.approx(0.005)  # put back once the tune was done


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    pytest.importorskip("sklearn")
    a = np.random.default_rng(0).random(500)
    fs, signature = extract(squares), signature_of((a,))
    config = hotpath.Config(backends=("numba", "cython"), persist=False)
    proposals = propose_all(fs, signature, config, tmp_path_factory.mktemp("kernels"))
    here = guide(fs, signature, (a,), 1e-4, proposals, config)
    there = helper.guide_elsewhere(helper.start(config), fs, signature, (a,), 1e-4, proposals, config)
    yield here, there
    helper.settled(there)


@pytest.mark.slow
def test_the_helper_ranks_as_this_process_does(ranked):
    here, there = ranked
    assert there.model == here.model and there.model.startswith("random forests")
    assert isinstance(there.stop, helper.RemoteStop) and there.stop.running
    assert [p.name for p in there.proposals] == [p.name for p in here.proposals]
    assert there.predictions == here.predictions and there.features == here.features


@pytest.mark.slow
def test_the_helper_s_stop_checks_are_this_process_s(ranked):
    here, there = ranked
    queued = [p for p in here.proposals if isinstance(p, Candidate)]
    first, rest = queued[0], queued[1:]
    expected = {p.name: p for p in here.predictions}[first.name]
    answers = []
    for speedup in (expected.speedup * 50, expected.speedup, None):
        trials = [SimpleNamespace(backend=first.backend, name=first.name,
                                  status="correct" if speedup else "incorrect", speedup=speedup)]
        answers.append(there.stop(trials, rest))
        assert answers[-1] == here.stop(trials, rest)
    assert answers[0] is not None and answers[0].startswith("not tried: the cost model")  # far beyond: stop
    assert answers[2] is None  # the first was wrong: the next is worth its trial
    # A refinement appears mid-run: predicted then, in the helper as here.
    refined = dataclasses.replace(first, name=first.name + "+cast-return")
    trials = [SimpleNamespace(backend=first.backend, name=first.name, status="correct", speedup=2.0)]
    assert there.stop(trials, [refined, *rest]) == here.stop(trials, [refined, *rest])


@pytest.mark.slow
def test_settling_ends_the_helper_and_keeps_every_prediction(ranked):
    here, there = ranked
    queued = [p for p in here.proposals if isinstance(p, Candidate)]
    here.stop([SimpleNamespace(backend="numba", name="x", status="correct", speedup=2.0)], queued)
    done = helper.settled(there)
    assert not there.stop.running
    assert isinstance(done.stop, search.StopRule) and done.stop.model is None
    assert set(done.stop.predictions) >= {p.name for p in here.predictions}


def test_no_helper_without_a_model_to_load():
    assert helper.start(hotpath.Config(cost_model=False)) is None
