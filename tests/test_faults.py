"""Faults a long-running program meets: fork, strided and read-only hot arguments, killed
tunes' leftovers, a damaged store, options passed to ``tune`` by name (issue 26)."""

import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.dispatch import snapshot_args
from hotpath.signature import guard_key
from hotpath.statedir import StateDir
from hotpath.store import Store, StoreUnavailable, StoreWarning
from tests import sample_kernels as k

ROOT = Path(__file__).resolve().parents[1]


def _run_script(source: str, home: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter: Numba's threading layer starts once per process, and fork tests
    must not inherit the test runner's threads."""
    env = {**os.environ, "HOTPATH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("NUMBA_THREADING_LAYER", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(source)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_fork_after_a_parallel_variant_ran_and_with_a_tune_pending(tmp_path):
    result = _run_script("""
        import multiprocessing, os
        import numpy as np
        import numba
        import hotpath
        from hotpath.kernels import get_backend
        from tests import sample_kernels as k

        config = hotpath.Config(backends=("numba",), timing_budget_s=0.3, cost_model=False, persist=False)
        a = np.random.default_rng(0).random(100_000)
        tuned = hotpath.tune(k.double_into, a, np.zeros_like(a), config=config)
        parallel = next(t for t in tuned.trials if t.name == "numba-parallel")
        variant = get_backend("numba").load(parallel.candidate)
        out = np.zeros_like(a)
        variant(a, out)  # Numba's threads now run in this process
        assert np.array_equal(out, 2.0 * a)
        print("layer", numba.threading_layer())

        opt = tuned.optimized
        def work(n):  # the children run the parallel variant and the optimized function
            x = np.arange(n, dtype=np.float64)
            return float(variant(x, np.zeros_like(x)).sum() + opt(x, np.zeros_like(x)).sum())
        with multiprocessing.get_context("fork").Pool(2) as pool:
            # With GNU OpenMP the children die and this times out.
            print("pool", pool.map_async(work, [10, 20, 30]).get(timeout=60))

        # A tune pending at the fork: the child neither waits for it nor is barred from tuning.
        slow = hotpath.optimize(k.sum_squares, config=config.replace(hot_calls=1))
        slow(a)  # hot: queued for the parent's tuner thread
        pid = os.fork()
        if pid == 0:
            ok = slow.wait(timeout=120)
            b = np.random.default_rng(1).random((50, 2))[:, 0].copy()
            other = hotpath.optimize(k.sum_squares, config=config.replace(hot_calls=1))
            other(b)
            tuned_in_child = other.wait(timeout=180) and bool(other.results)
            os._exit(0 if ok and tuned_in_child else 3)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        slow.wait(timeout=180)
    """, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "GNU OpenMP" not in result.stderr
    assert "layer omp" not in result.stdout  # a fork-safe layer was chosen before the threads started
    assert "pool [180.0, 760.0, 1740.0]" in result.stdout
    assert "child 0" in result.stdout, result.stdout + result.stderr[-3000:]


def test_a_forked_child_is_served_by_the_original_where_an_openmp_variant_was_installed(tmp_path):
    # Pythran's OpenMP variant is built with GNU OpenMP, which no threading layer choice makes
    # fork-safe: after it ran in the parent, a forked child must not enter it.
    result = _run_script("""
        import dataclasses, multiprocessing
        import numpy as np
        import hotpath
        from hotpath import tuning
        from hotpath.kernels import get_backend
        from hotpath.runner import adapters
        from tests import sample_kernels as k

        config = hotpath.Config(backends=("pythran",), timing_budget_s=0.3, cost_model=False, persist=False)
        a = np.random.default_rng(0).random(200_000)
        tuned = hotpath.tune(k.double_into, a, np.zeros_like(a), config=config)
        omp = next(t for t in tuned.trials if t.name.startswith("pythran-openmp") and t.correct)
        backend = get_backend(omp.backend)
        variant = backend.load(omp.candidate)
        backend.prepare(variant, (a, np.zeros_like(a)))
        variant = adapters.apply(omp.candidate.adapters, variant, k.double_into)
        loaded = tuning.Loaded(tuned.signature, omp.candidate, 2.0, variant, backend.invocation_errors(), True, None)
        opt = tuned.optimized
        opt.install_result((a, np.zeros_like(a)), dataclasses.replace(tuned, loaded=loaded))
        assert opt(a, np.zeros_like(a))[7] == 2.0 * a[7]  # OpenMP now runs in this process
        print("installed", [c.name for c in opt.installed.values()])

        def work(n):
            x = np.arange(n, dtype=np.float64)
            return float(opt(x, np.zeros_like(x)).sum()), len(opt.installed)
        with multiprocessing.get_context("fork").Pool(2) as pool:
            print("pool", pool.map_async(work, [10, 20]).get(timeout=60))
    """, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "installed ['pythran-openmp" in result.stdout
    assert "pool [(90.0, 0), (380.0, 0)]" in result.stdout, result.stdout + result.stderr[-3000:]


def test_snapshot_keeps_layout_and_read_only_flag():
    base = np.arange(40.0).reshape(8, 5)
    read_only = np.arange(6.0)
    read_only.flags.writeable = False
    args = (base[:, 1], base.T, base[::2, ::2], read_only, 3.0)
    snapshot = snapshot_args(args)
    assert guard_key(snapshot) == guard_key(args)
    for original, copied in zip(args[:4], snapshot[:4]):
        assert not np.shares_memory(original, copied)
        np.testing.assert_array_equal(original, copied)
    assert not snapshot[0].flags.c_contiguous and not snapshot[0].flags.f_contiguous
    assert not snapshot[3].flags.writeable


def test_snapshot_keeps_aliasing():
    u = np.arange(10.0)
    snapshot = snapshot_args((u[1:], u[:-1], u[1:]))
    assert guard_key(snapshot) == guard_key((u[1:], u[:-1], u[1:]))
    snapshot[0][0] = -1.0
    assert snapshot[1][1] == -1.0  # still views of one copy


@pytest.mark.slow
def test_hot_strided_and_read_only_signatures_get_their_own_installs(fast):
    opt = hotpath.optimize(k.sum_squares, config=fast.replace(hot_calls=2, hot_seconds=100.0, persist=False))
    matrix = np.random.default_rng(3).random((2000, 2))
    strided = matrix[:, 0]
    frozen = matrix[:, 1].copy()
    frozen.flags.writeable = False
    for a in (strided, frozen):
        for _ in range(2):
            assert opt(a) == pytest.approx(k.sum_squares(a))
        assert opt.wait(timeout=240)
    names = sorted(str(s) for s in opt.installed)
    assert names == ["(array(float64, 1d, A))", "(array(float64, 1d, C, readonly))"], opt.results


def test_a_killed_tunes_trial_folder_is_removed_by_the_next_tune(tmp_path, fast):
    state = StateDir(tmp_path / "state")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is free now: the leftovers below belong to a process that is gone
    leftover = state.tmp / f"hotpath-trial-{dead.pid}-abc123"
    leftover.mkdir(parents=True)
    (leftover / "task.pkl").write_bytes(b"x")
    partial = state.kernels / f"mod.fn.numba.{dead.pid}.140000.tmp"
    partial.parent.mkdir(parents=True)
    partial.write_text("cut short")
    mine = state.tmp / f"hotpath-trial-{os.getpid()}-live"  # a live process's: kept
    mine.mkdir()
    past = time.time() - 3600
    for path in (leftover, partial, mine):
        os.utime(path, (past, past))
    result = hotpath.tune(k.sum_squares, np.ones(50), config=fast.replace(state_dir=state.root, persist=False))
    assert result.trials
    assert not leftover.exists() and not partial.exists()
    assert mine.exists()
    assert [p.name for p in state.tmp.iterdir()] == [mine.name]  # this tune's own folders are gone too


def test_a_damaged_store_warns_once_and_the_program_goes_on(tmp_path):
    home = tmp_path / "state"
    home.mkdir()
    StateDir(home).store_db.write_bytes(b"not a database " * 400)
    config = hotpath.Config(backends=("numba",), state_dir=home, hot_calls=10_000)
    opt = hotpath.optimize(k.sum_squares, config=config)
    a = np.arange(5.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [opt(a) for _ in range(3)] == [30.0] * 3
        opt2 = hotpath.optimize(k.first_plus_total, config=config)
        opt2(a)
    store_warnings = [w for w in caught if issubclass(w.category, StoreWarning)]
    assert len(store_warnings) == 1
    message = str(store_warnings[0].message)
    assert str(StateDir(home.resolve()).store_db) in message and "move it aside" in message
    with pytest.raises(StoreUnavailable):
        Store.at(home)


def test_a_full_disk_while_recording_warns_once_naming_the_cause(fast, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Store, "record_tuning", full)
    a = np.arange(2000.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fn in (k.sum_squares, k.first_plus_total):
            result = hotpath.tune(fn, a, config=fast)
            assert result.optimized(a) == fn(a)  # the program's results are unaffected
    store_warnings = [str(w.message) for w in caught if issubclass(w.category, StoreWarning)]
    assert len(store_warnings) == 1, store_warnings
    assert "No space left on device" in store_warnings[0] and "HOTPATH_HOME" in store_warnings[0]


def test_cli_on_a_damaged_or_missing_store_prints_one_line(tmp_path):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    StateDir(damaged).store_db.write_bytes(b"garbage " * 500)
    for command in (["status"], ["audit"], ["audit", "--verify"], ["report"]):
        run = subprocess.run([sys.executable, "-m", "hotpath.cli", *command, "--home", str(damaged)], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 3, (command, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "store.db" in lines[0] and "Traceback" not in run.stderr, run.stderr
    missing = subprocess.run([sys.executable, "-m", "hotpath.cli", "audit", "--verify", "--home",
                              str(tmp_path / "none")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1


def test_store_opened_read_only_does_not_write(tmp_path):
    Store.at(tmp_path)  # creates it
    db = StateDir(tmp_path).store_db
    before = db.stat().st_mtime_ns
    reader = Store.at(tmp_path, read_only=True)
    assert reader.active_installs() == [] and reader.verify_audit() is None
    with pytest.raises(Exception, match="readonly"):
        reader.log("refusal", hotpath.store.FunctionId("m", "f", "k"), "()", {})
    assert db.stat().st_mtime_ns == before


def test_tune_takes_config_fields_by_name(fast):
    a = np.random.default_rng(4).random(1000)
    result = hotpath.tune(k.sum_squares, a, config=fast, timing_budget_s=0.25, persist=False, edge_cases=False)
    assert result.optimized.config.timing_budget_s == 0.25 and result.optimized.config.edge_cases is False
    # Other keywords still go to the function.
    out = np.zeros_like(a)
    result = hotpath.tune(k.double_into, a, config=fast.replace(persist=False), out=out)
    assert result.signature is not None


def test_tune_refuses_a_keyword_that_is_both_an_option_and_a_parameter(fast):
    def shrink(a, rtol):
        return a * rtol

    with pytest.raises(hotpath.ConfigError, match="rtol"):
        hotpath.tune(shrink, np.ones(3), rtol=0.5, config=fast)
