"""The sandboxed worker process: ``python -m hotpath.runner.worker TASK RESULT [MEMORY_MB]``.

It reads one task, does it, and writes ``("ok", report)`` or ``("error", text)``. Whatever a
candidate does here — segfault, hang, allocate without end — ends at most this process; the
parent sees a missing result and reports the candidate failed.
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


def _reference(task: Any) -> Any:
    from hotpath.runner.compare import Tolerance, difference, outcome_difference
    from hotpath.runner import explore
    from hotpath.runner.inputs import CAPTURED, rule_of
    from hotpath.runner.outcome import run_case
    from hotpath.runner.tasks import ReferenceReport

    outcomes = {}
    dropped = []
    captured = task.cases[0]
    assert captured.name == CAPTURED
    _mark(CAPTURED)
    first = run_case(task.original, captured.args)
    outcomes[CAPTURED] = first
    again = run_case(task.original, captured.args)
    exact = Tolerance(0.0, 0.0)
    deterministic = outcome_difference(first, again, exact) is None
    mutates = any(
        after is not None and difference(before, after, exact) is not None
        for before, after in zip(captured.args, first.args_after)
    )
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
                return run_case(task.original, case.args)
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
    started = time.perf_counter()
    if task.search_s > 0:
        seeds = explore.seeds(list(task.cases), outcomes, cheap)
        mutant_limit_s = min(probe_limit_s, max(0.05, task.search_s / 4))
        for case, outcome in explore.search(lambda c: attempt(c, mutant_limit_s, mark=False), tracer, seeds,
                                            task.params, task.search_s):
            outcomes[case.name] = outcome
            found.append(case)
    coverage = tracer.coverage(len(found), time.perf_counter() - started)
    return ReferenceReport(outcomes, tuple(dropped), captured_s, deterministic, mutates, tuple(found), coverage)


def _candidate(task: Any) -> Any:
    from hotpath.kernels import Failure, get_backend
    from hotpath.runner import adapters
    from hotpath.runner.compare import outcome_difference
    from hotpath.runner.inputs import SIZE_CASES, Probe
    from hotpath.runner.outcome import run_case
    from hotpath.runner.tasks import CandidateReport
    from hotpath.runner.timing import measure

    backend = get_backend(task.candidate.backend)
    captured = task.cases[0]
    start = time.perf_counter()
    try:
        loaded = backend.load(task.candidate)
        backend.prepare(loaded, captured.args)
        variant = adapters.apply(task.candidate.adapters, loaded, task.original)
    except Exception as exc:  # a compile error is a failed candidate, with the compiler's words
        message = f"{type(exc).__name__}: {exc}".strip()
        return CandidateReport(None, Failure("compile", _trim(message)), 0, None)
    compile_s = time.perf_counter() - start

    checked = 0
    first: Failure | None = None
    cast: str | None = None  # the return cast that made an input agree, applied from then on
    typed: Failure | None = None  # the input that showed it
    failed: list[Probe] = []
    passed: list[Probe] = []
    tiny: list[int] = []  # the sizes of the SIZE_CASES it disagreed on
    # A candidate that runs on where the original finished (a loop bound that wrapped to 2**63)
    # must not hold the trial until its deadline: past the limit the kernel ends this process,
    # even inside compiled code, and the parent reports the input it was on.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    for case in task.cases:
        _mark(case.name)
        expected = task.expected[case.name]
        signal.setitimer(signal.ITIMER_REAL, CASE_LIMIT_S + CASE_LIMIT_FACTOR * expected.elapsed_s)
        try:
            actual = run_case(variant, case.args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        found = outcome_difference(expected, _cast(actual, cast), task.tolerance)
        if found and cast is None:
            failure = _mismatch(case.name, expected, actual, found, task.tolerance)
            if failure.return_dtypes is not None:
                # Only the scalar type differed: go on as if cast, so that one refinement can
                # carry the cast and any guard the remaining inputs call for.
                typed, cast, found = failure, failure.return_dtypes, None
        if not found:
            checked += 1
            if case.probe is not None:
                passed.append(case.probe)
            continue
        failure = _mismatch(case.name, expected, _cast(actual, cast), found, task.tolerance)
        tiny_and_benign = case.name in SIZE_CASES and _benign(expected, _cast(actual, cast), task.tolerance)
        if case.probe is None and not tiny_and_benign:
            # No guard can route this input away (an aliasing pattern, a size that matters):
            # the failure stands, for the backend's own refinements to act on.
            return CandidateReport(compile_s, replace(failure, return_dtypes=cast), checked, None)
        # A probe or a tiny input: the verification goes on, so that a guard can be built from
        # every such input it disagreed on and every probe it agreed on.
        first = first or failure
        if case.probe is not None:
            failed.append(case.probe)
        else:
            tiny.append(SIZE_CASES[case.name])
    first = first or typed
    if first is not None:
        leaves = (adapters.value_probe(captured.args, path) for path in sorted({p.path for p in failed}))
        first = replace(first, return_dtypes=cast, failed_probes=tuple(failed), passed_probes=tuple(passed),
                        captured_probes=tuple(p for p in leaves if p is not None),
                        below_size=max(tiny) + 1 if tiny else None)
        return CandidateReport(compile_s, first, checked, None)

    if not task.time_it:
        return CandidateReport(compile_s, None, checked, None)
    _mark("timing")
    # Optional backend hooks for devices: wait for the GPU in each timed sample, and split one
    # call into transfer and compute time for the user (the speedup itself stays end to end).
    timing = measure(task.original, variant, captured.args, task.mutates, task.timing_budget_s,
                     sync=getattr(backend, "synchronize", None))
    measure_parts = getattr(backend, "measure_parts", None)
    if measure_parts is not None:
        _mark("timing-parts")
        timing = replace(timing, parts=tuple(measure_parts(loaded, captured.args).items()))
    return CandidateReport(compile_s, None, checked, timing)


def _mismatch(case: str, expected: Any, actual: Any, found: str, tolerance: Any) -> Any:
    """The failure for one input the candidate disagreed on, with the cast that would fix it if
    only the scalar type of the result differed."""
    from hotpath.kernels import Failure
    from hotpath.runner import adapters
    from hotpath.runner.compare import outcome_difference

    cast = None
    if not expected.raised and not actual.raised and found.startswith("return value"):
        wanted = adapters.return_dtypes(expected.returned)
        recast = replace(actual, returned=adapters.cast_value(actual.returned, wanted)) if wanted else None
        if recast is not None and outcome_difference(expected, recast, tolerance) is None:
            cast = wanted
    return Failure("mismatch", f"on input {case!r}: {found}", case, expected.raised_name, actual.raised_name, cast)


def _benign(expected: Any, actual: Any, tolerance: Any) -> bool:
    """Whether a difference on a tiny input is one a size guard may route away: an exception
    one side raised, or the same scalar value in a NumPy and a Python type. A wrong value is not:
    the bug behind it may show at any size."""
    import numpy as np

    from hotpath.runner.compare import difference

    if expected.raised or actual.raised:
        return True

    def plain(value: Any) -> Any:  # NumPy scalars as Python ones, in tuples and lists too
        if isinstance(value, np.generic):
            return value.item()
        if type(value) in (tuple, list):
            return type(value)(map(plain, value))
        return value

    return difference(plain(expected.returned), plain(actual.returned), tolerance) is None


def _cast(outcome: Any, dtypes: str | None) -> Any:
    from hotpath.runner import adapters

    if dtypes is None or outcome.raised:
        return outcome
    return replace(outcome, returned=adapters.cast_value(outcome.returned, dtypes))


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


def main(argv: list[str]) -> int:
    task_path, result_path = argv[0], argv[1]
    memory_mb = int(argv[2]) if len(argv) > 2 and argv[2] != "0" else 0
    _die_with_parent()
    faulthandler.enable()
    if memory_mb:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")
    warm_allocator()
    with open(task_path, "rb") as handle:
        header = pickle.load(handle)
        sys.path[:0] = [p for p in header["sys_path"] if p not in sys.path]
        task = pickle.load(handle)
    kind = type(task).__name__
    try:
        import numpy as np

        with np.errstate(all="ignore"):
            report = _reference(task) if kind == "ReferenceTask" else _candidate(task)
        result: tuple[str, Any] = ("ok", report)
    except MemoryError:
        result = ("error", "ran out of memory (the sandbox's limit)")
    except BaseException:  # noqa: BLE001 — everything becomes a report the parent can show
        result = ("error", traceback.format_exc(limit=8))
    import cloudpickle

    try:
        data = cloudpickle.dumps(result)
    except Exception as exc:  # a result that cannot be pickled is the candidate's failure
        data = cloudpickle.dumps(("error", f"the result could not be sent back: {exc}"))
    tmp = result_path + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
