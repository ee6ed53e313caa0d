"""Background builds (``hotpath.runner.ahead``) and which code Pythran is proposed for by default.

The builds are real (Cython and the C compiler, a few seconds each): the builder process must
leave the binary where a trial's ``load`` looks for it, built once, and must stop, compilers
included, when the tuning run that started it ends.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.config import DEFAULT_BACKENDS
from hotpath.kernels import Candidate, Skipped, cython_build, get_backend, pythran_backend
from hotpath.rewriter.source import extract
from hotpath.runner import ahead
from hotpath.signature import signature_of

pytestmark = pytest.mark.slow


def _sum_of_squares(a):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * a[i]
    return total


def _wave(x, k):
    phase = k * x
    return np.sin(phase) ** 2 + 0.5 * np.cos(2.0 * phase)


def _candidates(backend: str, fn, args, config: hotpath.Config, kernels: Path) -> list[Candidate]:
    proposals = get_backend(backend).propose(extract(fn), signature_of(args), config, kernels)
    return [p for p in proposals if isinstance(p, Candidate)]


def _build_log(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_cython_candidate_is_built_in_the_background_and_loaded_without_building(tmp_path):
    config = hotpath.Config(state_dir=tmp_path, persist=False)
    kernels = config.state.kernels
    (candidate,) = _candidates("cython", _sum_of_squares, (np.ones(4),), config, kernels)
    backend = get_backend("cython")
    (binary,) = backend.binaries(candidate)
    assert ahead.needs_building(candidate) and not binary.exists()
    with ahead.building([candidate], config.memory_limit_mb) as handed:
        assert handed == 1
        deadline = time.monotonic() + 240
        while not binary.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert binary.exists(), "the background builder did not build the candidate within 240 s"
    (entry,) = [e for e in _build_log(binary.parent.parent / cython_build.BUILD_LOG) if e["binary"] == binary.name]
    assert entry["pid"] != os.getpid()
    assert not ahead.needs_building(candidate)
    assert backend.build(candidate) is False  # what a trial's load does first: nothing left to build
    assert backend.load(candidate)(np.arange(3.0)) == 5.0


def test_leaving_the_block_stops_the_build_and_leaves_no_binary(tmp_path):
    config = hotpath.Config(state_dir=tmp_path, persist=False)
    (candidate,) = _candidates("cython", _sum_of_squares, (np.ones(4),), config, config.state.kernels)
    (binary,) = get_backend("cython").binaries(candidate)
    with ahead.building([candidate], config.memory_limit_mb):
        time.sleep(0.5)  # the builder has started compiling, not finished
    time.sleep(3)  # a compiler left running would finish and rename its binary into place
    assert not binary.exists()
    assert not list(binary.parent.glob(f"{binary.name}.*.tmp"))


def test_candidates_that_build_nothing_start_no_builder(tmp_path):
    config = hotpath.Config(state_dir=tmp_path, persist=False, backends=("numba",))
    candidates = _candidates("numba", _sum_of_squares, (np.ones(4),), config, config.state.kernels)
    assert candidates and not any(ahead.needs_building(c) for c in candidates)
    with ahead.building([*candidates, Skipped("x", "x", "why")], None) as handed:
        assert handed == 0


def test_pythran_is_a_default_backend_for_array_style_code_and_leaves_loops_to_numba(tmp_path):
    assert "pythran" in DEFAULT_BACKENDS
    config = hotpath.Config(state_dir=tmp_path, persist=False)
    pythran = pythran_backend.BACKEND
    loops = pythran.propose(extract(_sum_of_squares), signature_of((np.ones(4),)), config, config.state.kernels)
    assert loops and all(isinstance(p, Skipped) and "element loops are left to Numba" in p.reason
                         and "`for i in range(a.shape[0])`" in p.reason for p in loops)
    arrays = pythran.propose(extract(_wave), signature_of((np.ones(4), 0.5)), config, config.state.kernels)
    assert [p.name for p in arrays if isinstance(p, Candidate)] == ["pythran"]
    alone = config.replace(backends=("pythran",))
    named = pythran.propose(extract(_sum_of_squares), signature_of((np.ones(4),)), alone, alone.state.kernels)
    assert any(isinstance(p, Candidate) for p in named)  # without Numba, Pythran compiles loops too
