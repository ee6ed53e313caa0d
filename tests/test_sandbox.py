"""Candidates that crash, hang or allocate without bound fail in their worker; the test process
(the user's process) carries on and keeps running the original."""

import os
import time

import numpy as np
import pytest

import hotpath
from tests import sample_kernels as k
from tests.checks import agrees

A = np.random.default_rng(7).random(10_000)


def _tune_with(backend, fast, **changes):
    config = fast.replace(backends=(f"tests.fake_backends:{backend}",), **changes)
    pid = os.getpid()
    result = hotpath.tune(k.sum_squares, A, config=config)
    assert os.getpid() == pid
    (trial,) = result.trials
    assert result.winner is None and trial.status == "failed"
    assert agrees(result.optimized(A), k.sum_squares(A))
    return trial


def test_segfaulting_candidate_is_reported_failed(fast):
    trial = _tune_with("CRASH", fast)
    assert "SIGSEGV" in trial.reason and "'captured'" in trial.reason


def test_hanging_candidate_times_out(fast):
    started = time.monotonic()
    trial = _tune_with("HANG", fast, compile_timeout_s=3.0)
    assert trial.reason.startswith("timeout")
    assert time.monotonic() - started < 60


def test_a_candidate_hanging_on_one_generated_input_is_stopped_there(fast):
    started = time.monotonic()
    trial = _tune_with("HANG_ON_SIZE_2", fast, compile_timeout_s=120.0)
    assert trial.reason.startswith("timeout on input 'size-2'"), trial.reason
    assert "per-input limit" in trial.reason
    assert time.monotonic() - started < 60  # the trial's own deadline would be minutes


def test_runaway_allocation_is_capped(fast):
    config = fast.replace(backends=("tests.fake_backends:HOG",), memory_limit_mb=2048)
    result = hotpath.tune(k.sum_squares, A, config=config)
    (trial,) = result.trials
    assert trial.status in ("incorrect", "failed")
    assert "MemoryError" in trial.reason or "memory" in trial.reason
    assert result.winner is None


def test_unknown_backend_is_a_clear_config_error():
    with pytest.raises(hotpath.ConfigError, match="unknown backend 'nuba'"):
        hotpath.tune(k.sum_squares, A, backends=("nuba",))
