"""Trials on a real Dask cluster: a ``distributed.LocalCluster`` of worker processes on this machine.

Each trial still runs in a sandbox subprocess, now started by a Dask worker; these tests check
that a cluster run decides what a local run decides, that losing a worker mid-trial neither
stops the run nor leaves the store inconsistent, that built binaries come back checked, and
that timings from another hardware class never decide an install.
"""

import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask
import distributed
import numpy as np
import pytest

import hotpath
from bench import corpus
from hotpath.kernels import cython_build
from hotpath.runner import dask_executor
from hotpath.runner.dask_executor import Artifact, DaskExecutor, land_artifacts
from hotpath.runner.executors import JobResult, LocalExecutor, run_here
from hotpath.integrity import check_artifact, sha256_file
from hotpath.store import Store
from tests import sample_kernels as k
from tests.checks import agrees
from tests.fake_backends import _Misbehaving

MARKS_ENV = "HOTPATH_TEST_SLOW_MARKS"
SLEEP_S = 3

# A candidate that is correct but, on its first call in each sandbox process, leaves a file named
# after that process's pid and sleeps: the test sees which process (and so which Dask worker)
# is running it, and has time to kill that worker mid-trial.
SLOW = _Misbehaving("SLOW", f"""
_os = __import__("os")
_marks = _os.environ.get("{MARKS_ENV}")
if _marks and not _os.path.exists(_os.path.join(_marks, str(_os.getpid()))):
    open(_os.path.join(_marks, str(_os.getpid())), "w").close()
    __import__("time").sleep({SLEEP_S})
""")
SLOW.name = "tests.test_cluster:SLOW"

A = np.random.default_rng(11).random(20_000)

# A representative slice of the corpus, small enough for the test's time: a refinement that wins
# (min_max_argmax: plain numba is wrong on an edge case, +boundscheck is right) and a kernel
# where nothing is correct (polynomial_hash). bench/run_cluster.py compares eight kernels.
KERNELS = ("min_max_argmax_loops", "polynomial_hash_loops")


def cluster_total(a):
    """Only the Cython test tunes this, so its binary cannot already be in the session's state."""
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * 0.5
    return s


@pytest.fixture(scope="module")
def marks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slow-marks")
    os.environ[MARKS_ENV] = str(folder)  # before any cluster starts: its workers inherit it
    yield folder
    os.environ.pop(MARKS_ENV, None)


def _local_cluster():
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                    silence_logs=logging.WARNING)


@pytest.fixture(scope="module")
def client(marks):
    with _local_cluster() as cluster, distributed.Client(cluster, set_as_default=False) as client:
        yield client


def _verdicts(result):
    """Candidate name -> agreed with the original (None: not run, e.g. skipped)."""
    return {t.name: t.correct for t in result.trials}


def _same_verdicts(here, there):
    """The same candidates were proposed, and every candidate both runs tried (refinements
    included) got the same verdict. A candidate the cost model's stop check skipped in one run
    and not the other is not a disagreement: in parallel it decides with fewer trials finished
    (and a refinement exists only where its parent was tried)."""
    a, b = _verdicts(here), _verdicts(there)
    proposed = [{n for n in v if "+" not in n} for v in (a, b)]  # "x+y" is a refinement of x
    both = [n for n in a if n in b and a[n] is not None and b[n] is not None]
    # Nothing tried on either side (every candidate skipped, for the same reasons) agrees too.
    untried = all(v is None for v in a.values()) and all(v is None for v in b.values())
    return proposed[0] == proposed[1] and (bool(both) or untried) and all(a[n] == b[n] for n in both)


def _clear_winner(result):
    """The winner's name when its interval lies wholly above every other timed candidate's;
    ``None`` when there is no winner; ``"close"`` when a runner-up overlaps it."""
    won = next((t for t in result.trials if t.status == "won"), None)
    if won is None:
        return None
    others = [t.timing.ci_high for t in result.trials if t is not won and t.timing is not None]
    return won.name if won.timing.ci_low > max(others, default=0.0) else "close"


@pytest.mark.slow
def test_cluster_run_over_the_corpus_gives_the_local_winners(client, fast):
    """The same corpus kernels tuned here and on a two-worker cluster reach the same verdicts.

    Compared: the candidates proposed (refinements included), which of them were correct,
    whether there is a winner, and the winner's name wherever it clearly beats the runner-up in
    both runs. Not compared: speedup figures, and the winner between candidates
    whose intervals overlap — on a shared two-core machine (and with two workers timing at once)
    such a pair may swap places between any two runs, local or not, so equality there would
    test the noise, not the executor.
    """
    for name in KERNELS:
        kernel = corpus.get(name)
        args = kernel.make_args("small")
        here = hotpath.tune(kernel.fn, *args, config=fast)
        there = hotpath.tune(kernel.fn, *args, config=fast, executor=client)
        assert _same_verdicts(here, there), (name, here.summary(), there.summary())
        assert (there.winner is None) == (here.winner is None), (name, here.summary(), there.summary())
        clear = {_clear_winner(here), _clear_winner(there)}
        if "close" not in clear:
            assert len(clear) == 1, (name, here.summary(), there.summary())
        ran = [t.ran_on for t in there.trials if t.status != "skipped"]
        # Same machine, so same hardware class: the workers timed the candidates themselves
        # (where any candidate was worth a trial: a kernel whose Python ints grow gets none).
        assert ran or all(t.status == "skipped" for t in here.trials), there.summary()
        assert all(r.startswith("tcp://") and "here" not in r for r in ran), ran
        assert all(t.ran_on == "local" for t in here.trials)
        if there.winner is not None:
            assert agrees(there.optimized(*args), kernel.fn(*kernel.make_args("small")))


class _NewestFirst(LocalExecutor):
    """A real executor (sandboxes on this machine) with two slots that finishes the newest job
    first: trials complete in the opposite order to a sequential run's."""

    slots = 2

    def next_done(self, tickets):
        with self._lock:
            ticket = max(tickets)
            job = self._jobs.pop(ticket)
        return ticket, JobResult(run_here(job))


@pytest.mark.slow
def test_trials_are_in_proposal_order_whatever_order_they_finish_in(fast):
    """A refinement stays right after the trial that asked for it, and proposals keep their
    order, when trials finish out of order. (The cost model is off: it would learn from the first
    run and could reorder the second.)"""
    config = fast.replace(cost_model=False)
    kernel = corpus.get("min_max_argmax_loops")
    args = kernel.make_args("small")
    sequential = hotpath.tune(kernel.fn, *args, config=config)
    reversed_ = hotpath.tune(kernel.fn, *args, config=config, executor=_NewestFirst())
    assert [(t.name, t.correct) for t in reversed_.trials] == [(t.name, t.correct) for t in sequential.trials]
    names = [t.name for t in sequential.trials]
    assert "numba+boundscheck" in names and names.index("numba+boundscheck") == names.index("numba") + 1


def _new_mark(folder: Path, seen: set[str], timeout_s: float = 120.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fresh = {p.name for p in folder.iterdir()} - seen
        if fresh:
            name = fresh.pop()
            seen.add(name)
            return int(name)
        time.sleep(0.05)
    raise AssertionError("the slow candidate never started")


def _parent(pid: int) -> int:
    # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ")".
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _kill_workers_running_slow(client, folder: Path, times: int) -> list[str]:
    """Kill the Dask worker whose sandbox is running the slow candidate, ``times`` times."""
    seen = {p.name for p in folder.iterdir()}
    killed = []
    for _ in range(times):
        sandbox_pid = _new_mark(folder, seen)
        worker_pid = _parent(sandbox_pid)
        by_pid = {pid: address for address, pid in client.run(os.getpid).items()}
        assert worker_pid in by_pid, "the slow candidate's sandbox is not a Dask worker's child"
        os.kill(worker_pid, signal.SIGKILL)
        killed.append(by_pid[worker_pid])
        # The sandbox must not outlive its worker: nobody would enforce its deadline.
        assert _ends_within(sandbox_pid, 10.0), "the sandbox of a killed worker is still running"
    return killed


def _ends_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):  # dead, waiting for a parent that may never reap it
            return True
        time.sleep(0.05)
    try:  # do not leave it behind for the rest of the session
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return False


def _tune_in_thread(fn, args, config, executor):
    box = {}
    thread = threading.Thread(target=lambda: box.update(result=hotpath.tune(fn, *args, config=config,
                                                                            executor=executor)))
    thread.start()
    return thread, box


def _assert_store_consistent(state_dir: Path, result) -> None:
    store = Store.at(state_dir)
    assert store.verify_audit() is None
    rows = store.db.read("SELECT t.name, t.status FROM trials t JOIN functions f ON f.id = t.function_id "
                         "WHERE f.qualname = ? ORDER BY t.id DESC LIMIT ?", (result.function, len(result.trials)))
    assert sorted((r["name"], r["status"]) for r in rows) == sorted((t.name, t.status) for t in result.trials)
    for install in store.db.read("SELECT source_path, source_sha256 FROM installs WHERE active = 1"):
        check_artifact(store.local_path(install["source_path"]), install["source_sha256"])
    assert not list((state_dir / "kernels").rglob("*.tmp")), "a half-written file was left behind"


@pytest.mark.slow
def test_worker_killed_mid_trial_is_retried_elsewhere_and_the_run_completes(client, marks, fast, state_dir):
    config = fast.replace(backends=("numba", SLOW.name))
    thread, box = _tune_in_thread(k.sum_squares, (A,), config, client)
    (killed,) = _kill_workers_running_slow(client, marks, times=1)
    thread.join(timeout=240)
    assert not thread.is_alive(), "the run did not finish after losing a worker"
    result = box["result"]
    slow = next(t for t in result.trials if t.name == "slow")
    # Dask moved the lost task to another worker; it ran to the end there.
    assert slow.status == "correct" and slow.ran_on.startswith("tcp://") and slow.ran_on != killed, slow
    assert result.winner is not None and result.winner.backend == "numba", result.summary()
    assert agrees(result.optimized(A), k.sum_squares(A))
    _assert_store_consistent(state_dir, result)


@pytest.mark.slow
def test_trial_losing_its_worker_twice_is_a_failed_trial_with_the_reason(marks, fast, state_dir):
    """With Dask's own rescheduling off (allowed-failures 0) every loss reaches hotpath: the
    first is retried once, the second makes the trial failed — and the run still completes."""
    config = fast.replace(backends=(SLOW.name,))
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), _local_cluster() as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        thread, box = _tune_in_thread(k.sum_squares, (A,), config, client)
        _kill_workers_running_slow(client, marks, times=2)
        thread.join(timeout=240)
    assert not thread.is_alive()
    result = box["result"]
    (slow,) = result.trials
    assert slow.status == "failed" and slow.failure.kind == "lost", slow.reason
    assert "KilledWorker" in slow.reason and "after 2 attempts" in slow.reason and "retried" in slow.reason
    assert result.winner is None and result.reason
    assert agrees(result.optimized(A), k.sum_squares(A))
    _assert_store_consistent(state_dir, result)


def _remote_sha(folder: str, name: str, dask_worker=None):
    path = Path(dask_worker.local_directory) / "hotpath" / "kernels" / folder / name
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.mark.slow
def test_cython_binary_built_on_a_worker_comes_back_checked(client, fast, state_dir):
    if cython_build.cython_version() is None or cython_build.toolchain().missing:
        pytest.fail("the Cython test needs Cython and a C compiler, both part of the test environment")
    config = fast.replace(backends=("cython",))
    result = hotpath.tune(cluster_total, A, config=config, executor=client)
    built = [t for t in result.trials if t.compile_s is not None]
    assert built, result.summary()
    for trial in built:
        binary = cython_build.built_path(trial.candidate.path, trial.candidate.source)
        assert binary.exists(), f"{binary.name} did not come back from {trial.ran_on}"
        remote = client.run(_remote_sha, binary.parent.name, binary.name)
        assert sha256_file(binary) in remote.values()  # the worker's bytes, not a build of ours
        check_artifact(binary, sha256_file(binary))
    log = state_dir / "kernels" / cython_build.BUILD_LOG
    here = log.read_text() if log.exists() else ""
    assert not any(t.candidate.path.stem in here for t in built), "a binary was built here after all"
    if result.winner is not None:  # loaded from the returned binary, still without a local build
        assert agrees(result.optimized(A), cluster_total(A))
        assert not any(t.candidate.path.stem in (log.read_text() if log.exists() else "") for t in built)


@pytest.mark.slow
def test_worker_of_another_hardware_class_only_verifies_timing_is_taken_here(client, fast):
    executor = DaskExecutor(client, target_environment="a-machine-unlike-these-workers")
    result = hotpath.tune(k.sum_squares, A, config=fast, executor=executor)
    timed = [t for t in result.trials if t.timing is not None]
    assert timed and result.winner is not None, result.summary()
    for trial in timed:
        assert trial.ran_on.startswith("tcp://") and "timed here" in trial.ran_on, trial.ran_on


@pytest.mark.slow
def test_one_executor_serves_concurrent_tuning_runs(client, fast):
    """Two functions tuned at once from two threads through one executor (how a whole run could
    fan out): each gets its own trials back and its own winner."""
    executor = DaskExecutor(client)
    B = np.random.default_rng(12).random((60, 60))
    jobs = {"sum_squares": (k.sum_squares, (A,)), "stencil_2d": (k.stencil_2d, (B, np.zeros_like(B)))}
    results = {}

    def tune(name):
        fn, args = jobs[name]
        results[name] = hotpath.tune(fn, *args, config=fast, executor=executor)

    threads = [threading.Thread(target=tune, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(thread.is_alive() for thread in threads)
    for name, (fn, args) in jobs.items():
        result = results[name]
        assert result.winner is not None, result.summary()
        assert all(t.candidate is None or t.candidate.entry == fn.__name__ for t in result.trials)
        fresh = tuple(np.zeros_like(a) if i == 1 and name == "stencil_2d" else a for i, a in enumerate(args))
        assert agrees(result.optimized(*fresh), fn(*fresh))


@pytest.mark.slow
def test_optimize_command_runs_its_trials_on_the_cluster(client, tmp_path):
    """``hotpath optimize --cluster``: the script's functions (in ``__main__``, which no worker
    could import) travel by value; the winner is stored as with local trials."""
    root = Path(__file__).resolve().parent.parent
    script = tmp_path / "lake.py"
    shutil.copy(root / "examples" / "lake.py", script)
    home = tmp_path / "state"
    done = subprocess.run(
        [sys.executable, "-m", "hotpath.cli", "optimize", "--functions", "diffuse", "--timing-budget", "0.3",
         "--cluster", client.scheduler.address, str(script), "--size", "small"],
        capture_output=True, text=True, cwd=root, timeout=300,
        env=dict(os.environ, HOTPATH_HOME=str(home), COLUMNS="200"))
    assert done.returncode == 0, done.stdout + done.stderr
    store = Store.at(home)
    # A script's function is stored under the script's path, so two scripts' "diffuse" stay apart.
    assert (str(script.resolve()), "diffuse") in {(r["module"], r["qualname"]) for r in store.active_installs()}
    assert store.verify_audit() is None
    on_workers = client.run(_remote_sources)
    assert any("diffuse" in name for names in on_workers.values() for name in names), on_workers


def _remote_sources(dask_worker=None):
    folder = Path(dask_worker.local_directory) / "hotpath" / "kernels"
    return [p.parent.name for p in folder.rglob("*.py")] if folder.exists() else []


def test_unreachable_scheduler_is_a_reason_and_the_original_keeps_running(fast, monkeypatch):
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT_S", 1.0)
    result = hotpath.tune(k.sum_squares, A, config=fast, executor="tcp://127.0.0.1:9")
    assert result.winner is None and "cannot be reached" in result.reason
    assert result.optimized(A) == k.sum_squares(A)


def test_not_an_executor_is_a_reason(fast):
    result = hotpath.tune(k.sum_squares, A, config=fast, executor=42)
    assert result.winner is None and "neither an Executor" in result.reason


def test_returned_artifacts_are_checked_before_they_are_stored(tmp_path):
    source = tmp_path / "kern_abc.pyx"
    source.write_text("# source")
    data = b"\x7fELF not really"
    good = Artifact("kern_abc.key.so", data, hashlib.sha256(data).hexdigest())
    corrupted = Artifact("kern_abc.other.so", data + b"!", hashlib.sha256(data).hexdigest())
    escaping = Artifact("../kern_abc.so", data, hashlib.sha256(data).hexdigest())
    foreign = Artifact("someone_else.so", data, hashlib.sha256(data).hexdigest())
    refused = land_artifacts(source, (good, corrupted, escaping, foreign))
    assert len(refused) == 3 and "checksum" in refused[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kern_abc.key.so", "kern_abc.pyx"]
    check_artifact(tmp_path / good.name, good.sha256)
