"""The Cython backend end to end: real Cython, the real C compiler, real sandboxed workers.

Builds take seconds each, so the tests share the session's state folder (its build cache) and
one tuning result per kernel.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.kernels import cython_build
from tests import cython_kernels as k
from tests.checks import agrees

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def builds(state_dir: Path) -> list[dict]:
    log = state_dir / "kernels" / cython_build.BUILD_LOG
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture(scope="module")
def stencil(fast):
    u = np.random.default_rng(0).random((300, 300))
    args = (u, np.zeros_like(u))
    return hotpath.tune(k.stencil_sweep, *args, config=fast.replace(backends=("cython",))), args


def test_loop_kernel_gets_a_verified_cython_winner(stencil, state_dir):
    result, (u, out) = stencil
    assert result.reason is None, result.summary()
    assert result.winner is not None and result.winner.backend == "cython"
    (won,) = [t for t in result.trials if t.status == "won"]
    assert won.timing.ci_low > 1.0  # the install rule; speed claims live in bench/
    assert won.cases_checked >= 5
    # The generated module is a readable .pyx with typed memoryviews, built beside it.
    source = result.winner.path.read_text()
    assert result.winner.path.suffix == ".pyx" and state_dir in result.winner.path.parents
    assert "cdef double[:, ::1] _mv_u = u" in source and "cdef Py_ssize_t i" in source
    assert "boundscheck=False" in source and "cdivision=False" in source
    assert cython_build.built_path(result.winner.path, source).exists()
    expected = k.stencil_sweep(u, np.zeros_like(u))
    assert agrees(result.optimized(u, np.zeros_like(u)), expected)
    assert result.signature in result.optimized.installed


def test_second_tune_in_a_new_process_builds_nothing(stencil, state_dir):
    result, _ = stencil
    binary = cython_build.built_path(result.winner.path, result.winner.path.read_text())
    before, mtime = builds(state_dir), binary.stat().st_mtime_ns
    script = (
        "import numpy as np, hotpath\n"
        "from tests import cython_kernels as k\n"
        "u = np.random.default_rng(0).random((300, 300))\n"
        "r = hotpath.tune(k.stencil_sweep, u, np.zeros_like(u), backends=('cython',), "
        "config=hotpath.Config(timing_budget_s=0.3))\n"
        "print('WINNER', r.winner.name if r.winner else r.reason)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "HOTPATH_HOME": str(state_dir)}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "WINNER cython" in done.stdout
    assert builds(state_dir) == before  # no build logged, in the worker or in the process
    assert binary.stat().st_mtime_ns == mtime


def test_code_cython_cannot_compile_is_a_failed_candidate(fast):
    a = np.arange(5.0)
    result = hotpath.tune(k.reserved_word, a, config=fast.replace(backends=("cython",)))
    (trial,) = result.trials
    assert trial.status == "failed" and trial.failure.kind == "compile"
    # Cython's own words, with the place in the generated .pyx.
    assert "cython failed" in trial.reason and ".pyx:" in trial.reason and "syntax error" in trial.reason.lower()
    assert result.winner is None and result.reason.startswith("every candidate failed: cython: BuildError")
    assert result.optimized(a) == k.reserved_word(a)  # the original keeps running


def test_missing_c_compiler_is_a_failed_candidate_with_the_reason(fast, monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/bin/cc")  # the sandboxed worker inherits it
    u = np.random.default_rng(1).random((40, 40))
    result = hotpath.tune(k.stencil_sweep, u, np.zeros_like(u), config=fast.replace(backends=("cython",)))
    (trial,) = result.trials
    assert trial.status == "failed" and trial.failure.kind == "compile"
    assert "no C compiler" in trial.reason and "/nonexistent/bin/cc" in trial.reason
    assert result.winner is None
    assert agrees(result.optimized(u, np.zeros_like(u)), k.stencil_sweep(u, np.zeros_like(u)))


def test_negative_index_without_wraparound_is_caught_and_refined(fast):
    a = np.random.default_rng(2).random(20_000)
    result = hotpath.tune(k.cyclic_difference, a, np.zeros_like(a), config=fast.replace(backends=("cython",)))
    names = {t.name: t for t in result.trials}
    # Unchecked C indexing reads a[-1] from before the buffer: verification refuses it, and
    # the refinement with Python's indexing (wraparound, bounds checks) is what may win.
    assert names["cython"].status in ("incorrect", "failed")
    assert names["cython+checks"].correct
    assert "wraparound=True" in names["cython+checks"].candidate.source
    out = result.optimized(a, np.zeros_like(a))
    assert agrees(out, k.cyclic_difference(a, np.zeros_like(a)))
