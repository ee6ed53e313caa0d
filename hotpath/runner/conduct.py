"""What a candidate may not leave behind when its call returns.

A variant is a function: when it returns, its work is done and the process is as it found it.
A candidate that leaves a thread (or a child process) running may still be writing into the
result the caller already holds, or burning a core while the original is timed; one that
patches a module (``time.perf_counter``, ``numpy.median``, the verifier's own functions),
installs a tracer, a profiler or a signal handler, or changes NumPy's error state or the
floating-point environment changes what every later call computes or measures. The worker takes
a ``Snapshot`` before the candidate is imported and asks ``Snapshot.changes`` after each call;
any change fails the candidate with a reason that names it.

These checks see what the interpreter exposes. Native threads a runtime keeps parked between
calls (OpenMP, TBB, Numba's pools) are not Python threads and are allowed; a candidate that
rewrites the worker's own code objects is beyond them (``docs/threat-model.md``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

#: Modules whose attributes no candidate may rebind: the clocks and arithmetic a timing or a
#: comparison reads, and hotpath's own verifier. Names a module gains (NumPy loads submodules
#: lazily) are allowed; a name rebound or removed is not.
WATCHED = ("time", "math", "builtins", "gc", "threading", "signal", "statistics", "numpy", "numpy.linalg",
           "numpy.random", "numpy.fft", "hotpath.runner.timing", "hotpath.runner.compare",
           "hotpath.runner.outcome", "hotpath.runner.conduct", "hotpath.runner.worker",
           "hotpath.runner.channel", "__main__")
#: The smallest positive normal float64 halved: a subnormal, zero if the FPU flushes them.
_TINY = np.array([2.2250738585072014e-308])


def _libm() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    except OSError:
        return None


_LIBM = _libm()


def _rounding_mode() -> int | None:
    """The C rounding mode (``fegetround``), where libm is reachable."""
    try:
        return int(_LIBM.fegetround()) if _LIBM is not None else None
    except AttributeError:
        return None


def _subnormals_kept() -> bool:
    """False when denormals are flushed to zero (the SSE FTZ/DAZ bits): results change."""
    return bool((_TINY / 2.0)[0] > 0.0)


def _python_threads() -> frozenset[int]:
    return frozenset(t.ident or 0 for t in threading.enumerate() if t.is_alive())


def _children() -> int:
    """How many child processes this process has (Linux; 0 elsewhere)."""
    try:
        total = 0
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as handle:
                total += len(handle.read().split())
        return total
    except OSError:
        return 0


def _attributes(names: Iterable[str]) -> dict[str, tuple[Any, dict[str, Any]]]:
    # The objects themselves, not their ids: an id can be reused once its object is freed.
    found = {}
    for name in names:
        module = sys.modules.get(name)
        if module is not None:
            found[name] = (module, dict(vars(module)))
    return found


def _errstate() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((key, str(value)) for key, value in np.geterr().items()))


def _tracers() -> tuple[Any, ...]:
    return sys.gettrace(), sys.getprofile(), threading.gettrace(), threading.getprofile()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _signals() -> dict[int, Any]:
    handlers = {}
    for number in signal.valid_signals():
        try:
            handlers[int(number)] = signal.getsignal(number)
        except (ValueError, OSError):
            continue
    return handlers


@dataclass(frozen=True)
class Snapshot:
    """The process state a candidate's call must leave as it found it."""

    threads: frozenset[int]
    children: int
    modules: dict[str, tuple[Any, dict[str, Any]]]
    trace: tuple[Any, ...]
    handlers: dict[int, Any]
    errstate: tuple[tuple[str, str], ...]
    errcall: Any
    rounding: int | None
    subnormals: bool

    @classmethod
    def take(cls) -> Snapshot:
        """The state now; take it before the candidate is imported."""
        return cls(_python_threads(), _children(), _attributes(WATCHED), _tracers(), _signals(),
                   _errstate(), np.geterrcall(), _rounding_mode(), _subnormals_kept())

    def with_runtime_now(self) -> Snapshot:
        """This snapshot, taking the Python threads and child processes alive now as the
        process's own: for a built-in backend's runtime, whose loading starts worker pools it
        keeps parked between calls (torch.compile's compile threads, and on a machine with many
        cores its pool of compile processes), never for plug-in or language-model code."""
        return replace(self, threads=self.threads | _python_threads(), children=max(self.children, _children()))

    def changes(self) -> str | None:
        """What differs from the snapshot, in words, or ``None``. A thread the call started is
        still alive unless the call joined it: no grace is given, as a thread finishing its
        writes a moment after the return is exactly the trick to catch."""
        threads = _python_threads() - self.threads
        if threads:
            names = sorted(t.name for t in threading.enumerate() if t.ident in threads)
            return (f"it left {len(threads)} thread(s) running after the call returned ({', '.join(names)}): "
                    "work after return")
        if _children() > self.children:
            return "it left a child process running after the call returned: work after return"
        patched = []
        for name, (module, before) in self.modules.items():
            if sys.modules.get(name) is not module:
                patched.append(f"sys.modules[{name!r}]")
                continue
            now = vars(module)
            patched += [f"{name}.{key}" for key, value in before.items() if key not in now or now[key] is not value]
        if patched:
            return f"it patched {', '.join(sorted(patched)[:5])}: global state changed"
        if any(now is not then for now, then in zip(_tracers(), self.trace)):
            return "it installed a trace or profile function (sys.settrace/sys.setprofile): global state changed"
        handlers = _signals()
        moved = sorted(_signal_name(n) for n, h in handlers.items() if self.handlers.get(n) is not h)
        if moved:
            return f"it changed the handler of {', '.join(moved)}: global state changed"
        if _errstate() != self.errstate or np.geterrcall() is not self.errcall:
            return f"it changed NumPy's error state to {np.geterr()}: global state changed"
        if _rounding_mode() != self.rounding:
            return "it changed the floating-point rounding mode: global state changed"
        if _subnormals_kept() != self.subnormals:
            return "it made the CPU flush subnormal floats to zero: global state changed"
        return None

