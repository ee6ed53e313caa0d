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


class _CaseTimeout(BaseException):
    """Raised by the alarm; a BaseException so user code's ``except Exception`` cannot eat it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _CaseTimeout()


def _mark(case: str) -> None:
    # The parent reads the last marker to say which input a crashing candidate was on.
    print(f"{CASE_MARKER} {case}", file=sys.stderr, flush=True)


def _reference(task: Any) -> Any:
    from hotpath.runner.compare import Tolerance, difference, outcome_difference
    from hotpath.runner.inputs import CAPTURED
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
    for case in task.cases[1:]:
        _mark(case.name)
        signal.setitimer(signal.ITIMER_REAL, task.edge_case_limit_s)
        try:
            outcomes[case.name] = run_case(task.original, case.args)
        except _CaseTimeout:
            dropped.append(f"{case.name}: the original ran longer than {task.edge_case_limit_s:.1f} s")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return ReferenceReport(outcomes, tuple(dropped), min(first.elapsed_s, again.elapsed_s),
                           deterministic, mutates)


def _candidate(task: Any) -> Any:
    from hotpath.kernels import Failure, get_backend
    from hotpath.runner.compare import outcome_difference
    from hotpath.runner import adapters
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
    for case in task.cases:
        _mark(case.name)
        actual = run_case(variant, case.args)
        expected = task.expected[case.name]
        found = outcome_difference(expected, actual, task.tolerance)
        if found:
            cast = None
            if not expected.raised and not actual.raised and found.startswith("return value"):
                wanted = adapters.return_dtypes(expected.returned)
                recast = replace(actual, returned=adapters.cast_value(actual.returned, wanted)) if wanted else None
                if recast is not None and outcome_difference(expected, recast, task.tolerance) is None:
                    cast = wanted  # only the scalar type differed: a cast would make it right
            failure = Failure("mismatch", f"on input {case.name!r}: {found}", case.name,
                              expected.raised_name, actual.raised_name, cast)
            return CandidateReport(compile_s, failure, checked, None)
        checked += 1

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


def _trim(message: str, limit: int = 1500) -> str:
    lines = [line for line in message.splitlines() if line.strip()]
    text = "\n".join(lines)
    return text if len(text) <= limit else text[:limit] + " ..."


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
