"""A speedup counts where the code runs: the decisions that keep a sandbox win from becoming a
slowdown in the caller's process (the figures themselves live in bench/)."""

import numpy as np

import hotpath
from hotpath.config import Config
from hotpath.runner.timing import Timing
from hotpath.runner.trials import CORRECT, WON, Trial, decide
from tests import sample_kernels as k


def test_a_variant_that_loses_in_the_callers_process_is_not_installed(fast):
    a = np.random.default_rng(3).random(20_000)
    config = fast.replace(backends=("tests.fake_backends:FAST_ONLY_IN_SANDBOX",))
    result = hotpath.tune(k.double_into, a, np.zeros_like(a), config=config)
    (trial,) = result.trials
    assert trial.timing is not None and trial.timing.ci_low > 1.0  # it did win in the sandbox
    assert trial.status == CORRECT and "did not hold in this process" in trial.reason
    assert result.winner is None and "not faster in this process" in result.reason
    assert not result.optimized.installed


def test_a_variant_that_holds_here_is_installed_with_the_confirmation_in_its_reason(fast):
    a = np.random.default_rng(3).random(20_000)
    result = hotpath.tune(k.double_into, a, np.zeros_like(a), config=fast)
    won = next(t for t in result.trials if t.status == WON)
    assert "confirmed in this process" in won.reason


def _trial(name, speedup, ci_low, mean):
    timing = Timing(1.0, 1.0 / speedup, speedup, ci_low, speedup * 1.2, 0.95, 20, 1, mean_speedup=mean)
    return Trial("numba", name, CORRECT, "agreed", timing=timing)


def test_a_fast_median_with_a_slow_tail_does_not_win():
    # The median says 3x; the mean over the same pairs says the calls together ran 0.5x: a few
    # calls waited milliseconds (a parallel loop whose threads met a busy core).
    tail = _trial("numba-parallel", 3.0, 2.5, 0.5)
    steady = _trial("numba", 1.8, 1.5, 1.7)
    decided = {t.name: t for t in decide([tail, steady], Config())}
    assert decided["numba"].status == WON
    assert decided["numba-parallel"].status == CORRECT and "slow tail" in decided["numba-parallel"].reason
