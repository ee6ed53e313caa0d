"""The sandboxed worker process: ``python -m hotpath.runner.worker TASK CHANNEL_FD [MEMORY_MB]``.

It reads one task, does it, and sends its messages on the channel (``hotpath.runner.channel``),
ending with ``("result", "ok", report)`` or ``("result", "error", text)``. Whatever a candidate
does here — segfault, hang, allocate without end — ends at most this process; the parent sees a
missing result and reports the candidate failed. A candidate's worker holds none of the
original's outcomes: it sends the candidate's, and the parent compares (``verdict``).
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

CASE_MARKER = "hotpath-case:"
#: A candidate may take this long on one verification input, plus this many times the
#: original's time on it, before it is stopped (the first call may still load or compile, and a
#: runaway allocation must meet the sandbox's memory cap first, even on a busy machine).
CASE_LIMIT_S = 20.0
CASE_LIMIT_FACTOR = 50


class _CaseTimeout(BaseException):
    """Raised by the alarm; a BaseException so user code's ``except Exception`` cannot eat it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _CaseTimeout()


def _mark(case: str) -> None:
    # The parent reads the last marker to say which input a crashing candidate was on.
    print(f"{CASE_MARKER} {case}", file=sys.stderr, flush=True)


def _reference(task: Any, clock: Callable[[], float]) -> Any:
    from hotpath.runner.compare import Tolerance, difference, outcome_difference
    from hotpath.runner import explore
    from hotpath.runner.inputs import CAPTURED, rule_of
    from hotpath.runner.outcome import run_case, scaled_args
    from hotpath.runner.tasks import ReferenceReport

    outcomes = {}
    dropped = []
    captured = task.cases[0]
    assert captured.name == CAPTURED
    _mark(CAPTURED)
    first = run_case(task.original, captured.args, clock)
    outcomes[CAPTURED] = first
    again = run_case(task.original, captured.args, clock)
    exact = Tolerance(0.0, 0.0)
    deterministic = outcome_difference(first, again, exact) is None
    mutates = any(
        after is not None and difference(before, after, exact) is not None
        for before, after in zip(captured.args, first.args_after)
    )
    # What timed calls on fresh values must give (``hotpath.runner.timing.timed_run``).
    timed = tuple((factor, run_case(task.original, scaled_args(captured.args, factor), clock))
                  for factor in getattr(task, "timed_factors", ()))
    signal.signal(signal.SIGALRM, _on_alarm)
    captured_s = min(first.elapsed_s, again.elapsed_s)
    # Lines of the original and its helpers that the inputs execute: the verification coverage.
    tracer = explore.LineTracer(explore.functions(task.original, task.helpers))
    # A probe far slower than the captured call is a loop scaled up by a huge bound: not worth
    # the full edge-case limit.
    probe_limit_s = min(task.edge_case_limit_s, max(0.25, 50 * captured_s))

    def attempt(case: Any, limit_s: float, mark: bool = True) -> Any:
        if mark:
            _mark(case.name)
        signal.setitimer(signal.ITIMER_REAL, limit_s)
        try:
            with tracer:
                return run_case(task.original, case.args, clock)
        except _CaseTimeout:
            return None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    cheap = captured_s * 20 <= max(task.search_s, 0.1)
    if cheap:  # the captured call's own lines, unless tracing it would cost too much
        attempt(captured, task.edge_case_limit_s)
    for case in task.cases[1:]:
        limit_s = task.edge_case_limit_s if rule_of(case.name) == "generic" else probe_limit_s
        outcome = attempt(case, limit_s)
        if outcome is None:
            dropped.append(f"{case.name}: the original ran longer than {limit_s:.2g} s")
        else:
            outcomes[case.name] = outcome
    found = []
    started = clock()
    if task.search_s > 0:
        seeds = explore.seeds(list(task.cases), outcomes, cheap)
        mutant_limit_s = min(probe_limit_s, max(0.05, task.search_s / 4))
        for case, outcome in explore.search(lambda c: attempt(c, mutant_limit_s, mark=False), tracer, seeds,
                                            task.params, task.search_s):
            outcomes[case.name] = outcome
            found.append(case)
    coverage = tracer.coverage(len(found), clock() - started)
    return ReferenceReport(outcomes, tuple(dropped), captured_s, deterministic, mutates, tuple(found), coverage,
                           timed)


class _Misconduct(Exception):
    """A candidate changed what it may not (``hotpath.runner.conduct``), said in the message."""


def _candidate(task: Any, send: Callable[[Any], None], ask: Callable[[], str], clock: Callable[[], float]) -> None:
    """Run the candidate on every case and send each outcome; time it if the parent says so.

    The comparison with the original is the parent's (``hotpath.runner.verdict``): nothing the
    original computed is in this process, which the candidate shares.
    """
    from hotpath.kernels import BACKENDS, get_backend
    from hotpath.runner import adapters
    from hotpath.runner.conduct import Snapshot
    from hotpath.runner.outcome import run_case
    from hotpath.runner.timing import timed_run
    from hotpath.runner.verdict import TIME

    backend = get_backend(task.candidate.backend)
    captured = task.cases[0]
    # A candidate that runs on where the original finished (a loop bound that wrapped to 2**63)
    # must not hold the trial until its deadline: past the limit the kernel ends this process,
    # even inside compiled code, and the parent reports the input it was on.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    before = Snapshot.take()  # before the candidate's module is imported

    def behaved(where: str) -> None:
        changed = before.changes()
        if changed:
            raise _Misconduct(where, changed)

    try:
        start = clock()
        try:
            loaded = backend.load(task.candidate)
            backend.prepare(loaded, captured.args)
            variant = adapters.apply(task.candidate.adapters, loaded, task.original)
        except Exception as exc:  # a compile error is a failed candidate, with the compiler's words
            send(("compile-error", _trim(f"{type(exc).__name__}: {exc}".strip())))
            return
        compile_s = clock() - start
        if task.candidate.backend in BACKENDS:  # hotpath's own generated code: its runtime's pools are allowed
            before = before.with_runtime_now()
        behaved("import")
        send(("compiled", compile_s))
        for case in task.cases:
            _mark(case.name)
            signal.setitimer(signal.ITIMER_REAL, task.limits_s.get(case.name, CASE_LIMIT_S))
            try:
                actual = run_case(variant, case.args, clock)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if getattr(backend, "compiles_on_call", False) and task.candidate.backend in BACKENDS:
                # An input of a new length compiles a new graph, whose compile may be the first to
                # start the compiler's worker pool (the first graph may have come from its disk
                # cache): those threads and processes are the runtime's, as after ``prepare``.
                before = before.with_runtime_now()
            behaved(case.name)
            send(("case", case.name, actual))
        send(("verified",))
        if ask() != TIME:
            return
        _mark("timing")
        # Optional backend hooks for devices: wait for the GPU in each timed sample, and split one
        # call into transfer and compute time for the user (the speedup itself stays end to end).
        run = timed_run(task.original, variant, captured.args, task.mutates, task.timing_budget_s,
                        sync=getattr(backend, "synchronize", None), clock=clock,
                        checked_factors=task.timed_factors, after_sample=lambda: behaved("timing"))
        # The parent's clock check ends its own span when it hears this: so it is sent at once,
        # small, before the checked outcomes (copies of the inputs, on a large input gigabytes
        # to pickle and pass through the pipe, which this clock does not see).
        send(("timed", run.wall_s))
        behaved("timing")
        timing = run.timing
        measure_parts = getattr(backend, "measure_parts", None)
        if measure_parts is not None:
            _mark("timing-parts")
            timing = replace(timing, parts=tuple(measure_parts(loaded, captured.args).items()))
        send(("timing", timing, run.checked))
    except _Misconduct as exc:
        send(("conduct", *exc.args))


def _trim(message: str, limit: int = 1500) -> str:
    lines = [line for line in message.splitlines() if line.strip()]
    text = "\n".join(lines)
    return text if len(text) <= limit else text[:limit] + " ..."


#: The size of the block freed to warm the allocator (see ``warm_allocator``): glibc raises its
#: mmap threshold to a freed mmapped chunk's size, up to 32 MiB on 64-bit.
_WARM_BLOCK = 32 * 1024 * 1024 - 64 * 1024


def warm_allocator() -> None:
    """Put the allocator in the state of a process that has run for a while.

    glibc's malloc serves blocks of 128 KiB or more with fresh mmap'ed pages, page-faulted on
    every use, until the process frees such a block; then the threshold rises to that block's
    size and large blocks are reused. A user's long-running process (one that imported torch or
    scikit-learn, or freed one large array) is in the second state; a fresh worker is in the
    first, where every NumPy temporary costs page faults on every call and a variant that merely
    avoids temporaries looks several times faster than it is where it will run. Timing in the
    warm state favours the original, which is the safe side. Other allocators ignore this.
    """
    import numpy as np

    block = np.ones(_WARM_BLOCK // 8)  # touched, so the pages are really mapped
    del block


def _die_with_parent() -> None:
    # The parent enforces this process's deadline. If the parent is killed (a Dask worker lost
    # mid-trial), a hanging candidate would run on forever, so on Linux the kernel is asked to
    # kill this process with it. (The signal follows the parent *thread*, which waits for this
    # process in ``sandbox.run`` until it ends.)
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _reply_reader() -> Callable[[], str]:
    """Reads one line the parent writes on this process's stdin (a ``verdict`` reply)."""

    def ask() -> str:
        line = b""
        while not line.endswith(b"\n"):
            chunk = os.read(0, 1)
            if not chunk:
                break
            line += chunk
        return line.decode(errors="replace").strip()

    return ask


def main(argv: list[str]) -> int:
    # The clock every measurement here reads, bound before any task (and so any candidate) is
    # loaded: a candidate that rebinds ``time.perf_counter`` changes nothing this reads.
    clock = time.perf_counter
    task_path, channel_fd = argv[0], int(argv[1])
    memory_mb = int(argv[2]) if len(argv) > 2 and argv[2] != "0" else 0
    _die_with_parent()
    faulthandler.enable()
    if memory_mb:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")
    warm_allocator()
    from hotpath.runner import channel

    def send(message: Any) -> None:
        channel.send(channel_fd, message)

    with open(task_path, "rb") as handle:
        header = pickle.load(handle)
        sys.path[:0] = [p for p in header["sys_path"] if p not in sys.path]
        task = pickle.load(handle)
    kind = type(task).__name__
    try:
        import numpy as np

        with np.errstate(all="ignore"):
            if kind == "ReferenceTask":
                result: tuple[str, Any] = ("ok", _reference(task, clock))
            else:
                _candidate(task, send, _reply_reader(), clock)
                result = ("ok", None)
    except MemoryError:
        result = ("error", "ran out of memory (the sandbox's limit)")
    except BaseException:  # noqa: BLE001 — everything becomes a report the parent can show
        result = ("error", traceback.format_exc(limit=8))
    try:
        send(("result", *result))
    except Exception as exc:  # a result that cannot be pickled is the candidate's failure
        send(("result", "error", f"the result could not be sent back: {unsent_reason(exc)}"))
    return 0


def unsent_reason(exc: Exception) -> str:
    """Why a result could not be sent, never empty: ``repr`` names the exception's type even
    where its message is empty (a ``MemoryError`` has none)."""
    if isinstance(exc, MemoryError):
        return f"{exc!r}: it does not fit in the sandbox's memory limit (Config.memory_limit_mb)"
    return repr(exc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
