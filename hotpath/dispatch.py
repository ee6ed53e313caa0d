"""The ``Optimized`` callable: guards, tier-0 counting, background tuning, installed variants.

A call computes its guard key; an installed variant for that key runs, anything else runs the
original (tier 0), which also counts calls and time per key. A key that becomes hot is tuned in
a background thread from a snapshot of the arguments taken before the call, and the winner, if
any, is installed for that key alone.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import logging
import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from hotpath import fastpath, persist, watch_report
from hotpath.config import Config, disabled_by_env
from hotpath.frozen_globals import FrozenGlobals
from hotpath.kernels.base import Candidate
from hotpath.runner.compare import Tolerance
from hotpath.runner.outcome import copy_args
from hotpath.runner.payload import sandbox_pickling
from hotpath.signature import Signature, guard_key, signature_of
from hotpath.store import FunctionId
from hotpath.watch import Install, RollbackEvent, protected_call, shadow_call, variant_failed

if TYPE_CHECKING:
    from pathlib import Path

    from hotpath.runner.trials import Observer
    from hotpath.tuning import TuneResult

log = logging.getLogger(__name__)

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
#: Installs taken out because their globals changed, after which a function is left as the
#: original: each one costs a store lookup and, once hot again, a tuning run, so globals that
#: change all the time (a counter, a time step set before every call) would cost more than a
#: variant saves.
VOLATILE_AFTER = 16


@dataclass
class _CallStats:
    signature: Signature
    calls: int = 0
    seconds: float = 0.0
    state: str = "counting"  # "counting", "queued", "tuned"


class _BackgroundTuner:
    """One daemon thread that tunes hot signatures in the order they became hot."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Optimized, Hashable, tuple[Any, ...]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, opt: Optimized, key: Hashable, args: tuple[Any, ...]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                # Daemon: a program that finishes while tuning is under way just exits.
                self._thread = threading.Thread(target=self._work, name="hotpath-tuner", daemon=True)
                self._thread.start()
        self._jobs.put((opt, key, args))

    def reset_after_fork(self) -> None:
        """In a forked child: the parent's queue, lock and thread are not this process's (the
        thread does not exist here, and the lock may have been held at the fork)."""
        self._jobs = queue.Queue()
        self._thread = None
        self._lock = threading.Lock()

    def _work(self) -> None:
        while True:
            opt, key, args = self._jobs.get()
            try:
                with yielding_callers():
                    opt.tune_args(args)
            except Exception:  # never let a tuning bug surface in the user's program
                log.exception("background tuning of %s failed; it keeps running the original", opt.__qualname__)
            finally:
                opt._job_done()


#: The GIL switch interval while the tuner thread works. Threads that call a pure-Python
#: original without pause hold the GIL for a whole interval (5 ms by default) before handing it
#: on, and the tuner waits that long after every read of a pipe, file or import, behind each of
#: them: with 8 busy threads a 6 s tune took minutes. At 0.2 ms those waits shrink 25-fold; the
#: callers switch more often, only until the tune is done, at a cost within the noise of a shared
#: 2-core machine (bench/results/busy-callers.md).
TUNING_SWITCH_INTERVAL_S = 0.0002


@contextlib.contextmanager
def yielding_callers() -> Iterator[None]:
    """Lower the GIL switch interval for the duration (never raise it), and put back what was
    there unless someone else changed it meanwhile (a program that sets its own keeps it)."""
    before = sys.getswitchinterval()
    if before <= TUNING_SWITCH_INTERVAL_S:
        yield
        return
    sys.setswitchinterval(TUNING_SWITCH_INTERVAL_S)
    lowered = sys.getswitchinterval()  # as stored (whole microseconds), to compare with later
    try:
        yield
    finally:
        if sys.getswitchinterval() == lowered:
            sys.setswitchinterval(before)


_TUNER = _BackgroundTuner()
#: Every ``Optimized`` that has had an install in this process: their watch is reported at exit.
_WATCHING: weakref.WeakSet[Optimized] = weakref.WeakSet()
#: Every ``Optimized`` in this process, for the reset a forked child needs.
_ALL: weakref.WeakSet[Optimized] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The tuner thread was not forked: jobs queued or running in the parent never finish here,
    # so their pending counts would make wait() hang, and signatures they were tuning would
    # stay "queued". The child counts them afresh and tunes with its own thread.
    _TUNER.reset_after_fork()
    for opt in list(_ALL):
        opt.reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
_last_report = 0.0


def report_watch() -> None:
    """Write what the watch measured, for every install in this process, where ``hotpath status``
    reads it (one file per process in each state folder in use)."""
    global _last_report
    _last_report = time.monotonic()
    by_folder: dict[Path, list[dict[str, Any]]] = {}
    for opt in list(_WATCHING):
        if not opt.config.persist:
            continue
        function = opt.function_id
        rows = by_folder.setdefault(opt.config.resolved_state_dir(), [])
        for install in list(opt._installed.values()):
            if function is not None:
                rows.append({"function": function.name, "signature": str(install.signature),
                             "variant": install.candidate.name, **install.watch_summary()})
    for folder, rows in by_folder.items():
        watch_report.write(folder, rows)


atexit.register(report_watch)


class Optimized(fastpath.Base):
    """A function wrapped by ``hotpath.optimize``; call it exactly like the original.

    Attributes beyond the original's: ``installed`` (signature -> installed trial), ``results``
    (signature -> last ``TuneResult``), ``stats`` (signature -> calls and seconds in the
    original), ``rollback()``, ``wait()``.
    """

    def __init__(self, fn: Callable[..., Any], config: Config) -> None:
        functools.update_wrapper(self, fn)
        self.__hotpath_original__ = fn
        self.config = config
        self._installed: dict[Hashable, Install] = {}
        self._stats: dict[Hashable, _CallStats] = {}
        self._results: dict[Hashable, TuneResult] = {}
        self._barred: dict[Hashable, set[str]] = {}
        self._tolerance = Tolerance(config.rtol, config.atol)
        self._identity: persist.Identity | None | Literal[False] = False  # False: not computed yet
        self._invalidations = 0
        self._pending = 0
        self._idle = threading.Condition()
        self._disabled = disabled_by_env()
        try:
            parameters = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            parameters = []
        self._positional_only = bool(parameters) and all(p.kind in _POSITIONAL for p in parameters)
        self._arity = len(parameters)
        self._bind = inspect.signature(fn).bind if self._positional_only else None
        _ALL.add(self)

    def reset_after_fork(self) -> None:
        """Forget background tuning the parent had under way (see ``_after_fork_in_child``), and
        stop serving variants that cannot run in a forked child."""
        self._pending = 0
        self._idle = threading.Condition()
        for stats in self._stats.values():
            if stats.state == "queued":
                stats.state = "counting"
        # GNU OpenMP does not survive fork: a child entering a parallel region its parent ran
        # hangs or dies. The original answers here, and the signature is not tuned again (the
        # same variant would win and hang).
        for key, install in list(self._installed.items()):
            if install.candidate.options_dict.get("openmp"):
                del self._installed[key]
                self._stats.setdefault(key, _CallStats(install.signature)).state = "tuned"

    @property
    def original(self) -> Callable[..., Any]:
        return self.__hotpath_original__

    def __repr__(self) -> str:
        return f"<hotpath.Optimized {self.__qualname__} ({len(self._installed)} installed)>"

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        # Used as a method, bind like a function would; methods themselves are not rewritten.
        return self if instance is None else functools.partial(self, instance)

    def __reduce__(self) -> Any:
        if sandbox_pickling():
            return (_identity, (self.__hotpath_original__,))  # the worker runs the original
        return self.__qualname__  # by reference, like the function it replaces

    # --- calling -------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._disabled or self._bind is None:
            return self.__hotpath_original__(*args, **kwargs)
        if kwargs or len(args) != self._arity:
            args = self._positional(args, kwargs)
        key = guard_key(args)
        install = self._installed.get(key)
        if install is not None:
            install.countdown -= 1
            if install.countdown > 0 and not install.watched:
                return self._variant_call(key, install, args)  # the hot path: no copies
            return self._watched_call(key, install, args)
        return self._tier0(key, args)

    def _variant_call(self, key: Hashable, install: Install, args: tuple[Any, ...]) -> Any:
        try:
            return install.variant(*args)
        except install.invocation_errors:
            # Same guard, but a value the variant cannot take (an int beyond 64 bits, say);
            # nothing ran, so the original answers and the variant stays.
            return self.__hotpath_original__(*args)
        except Exception as exc:
            return variant_failed(install, self.__hotpath_original__, args, exc, None,
                                  functools.partial(self._roll_back, key))

    def _watched_call(self, key: Hashable, install: Install, args: tuple[Any, ...]) -> Any:
        if install.frozen is not None:
            changed = install.frozen.changed()
            if changed is not None:
                self._invalidate(key, install, changed)
                # The next call starts tier 0 again (and may warm-start a winner stored for the
                # new values); this one is the original's, so a global that keeps changing
                # cannot send the call round in circles.
                return self.__hotpath_original__(*args)
        roll_back = functools.partial(self._roll_back, key)
        if install.countdown <= 0:
            install.countdown = install.period  # until the shadow call sets the next one
            if time.monotonic() - _last_report > watch_report.REPORT_EVERY_S:
                report_watch()  # on sampled calls only: the unsampled ones stay as cheap as they are
            return shadow_call(install, self.__hotpath_original__, args, self._tolerance, roll_back)
        if install.mutates:
            return protected_call(install, self.__hotpath_original__, args, roll_back)
        return self._variant_call(key, install, args)

    def _positional(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        assert self._bind is not None
        try:
            bound = self._bind(*args, **kwargs)
        except TypeError:
            self.__hotpath_original__(*args, **kwargs)  # raises the very TypeError Python would
            raise
        bound.apply_defaults()
        return bound.args

    def _tier0(self, key: Hashable, args: tuple[Any, ...]) -> Any:
        stats = self._stats.get(key)
        if stats is None:
            stats = self._stats.setdefault(key, _CallStats(signature_of(args)))
            if self.config.persist and self._warm_start(key, args, stats.signature):
                return self(*args)
        if stats.state != "counting":
            return self.__hotpath_original__(*args)
        config = self.config
        snapshot = None
        if config.background and (stats.calls + 1 >= config.hot_calls or stats.seconds >= config.hot_seconds):
            stats.state = "queued"
            try:
                # Taken before the call: the function may change its arguments in place.
                snapshot = snapshot_args(args)
            except Exception as exc:
                from hotpath import tuning

                self._record(key, tuning.refused(self, stats.signature, "the arguments cannot be sent to "
                                                 f"the sandbox (copying failed: {type(exc).__name__}: {exc})"))
        start = time.perf_counter()
        result = self.__hotpath_original__(*args)
        stats.seconds += time.perf_counter() - start
        stats.calls += 1
        if snapshot is not None:
            with self._idle:
                self._pending += 1
            log.info("%s %s is hot (%d calls, %.3f s); tuning in the background",
                     self.__qualname__, stats.signature, stats.calls, stats.seconds)
            _TUNER.submit(self, key, snapshot)
        return result

    # --- state changes (from tuning, the store, the watch) --------------------------------
    @property
    def identity(self) -> persist.Identity | None:
        """This function's store key and the globals it reads, recomputed when those changed
        (None when it cannot be rewritten or stored)."""
        if self._identity is False or (self._identity is not None and not self._identity.current):
            self._identity = persist.identify(self.__hotpath_original__)
        return self._identity

    @property
    def function_id(self) -> FunctionId | None:
        """This function's key in the store (None when it cannot be rewritten)."""
        identity = self.identity
        return None if identity is None else identity.function_id

    def _new_install(self, signature: Signature, candidate: Candidate, speedup: float, variant: Callable[..., Any],
                     invocation_errors: tuple[type[BaseException], ...], mutates: bool, origin: str,
                     frozen: FrozenGlobals | None) -> Install:
        return Install(signature, candidate, speedup, origin, variant, invocation_errors, mutates,
                       self.config.verify_rate, frozen, self.config.watch_fraction)

    def _install(self, args: tuple[Any, ...], install: Install) -> None:
        key = guard_key(args)
        self._installed[key] = install
        _WATCHING.add(self)
        self._stats.setdefault(key, _CallStats(install.signature)).state = "tuned"

    def _warm_start(self, key: Hashable, args: tuple[Any, ...], signature: Signature) -> bool:
        install = persist.warm_start(self.config, self.identity, self.__hotpath_original__, signature, args,
                                     functools.partial(self._new_install, signature))
        if install is None:
            return False
        self._install(args, install)
        return True

    def _invalidate(self, key: Hashable, install: Install, reason: str) -> None:
        """A global the variant was built with changed: back to tier 0 for this signature.

        Not a rollback: the variant did nothing wrong, so it is not barred, and the store keeps
        it for the old values (its key includes them); ``identity`` is recomputed for the new ones.
        """
        if self._installed.get(key) is not install:
            return  # another thread got there first
        del self._installed[key]
        self._stats.pop(key, None)
        self._invalidations += 1
        log.warning("%s %s: %s is no longer installed: %s since it was built; running the original",
                    self.__qualname__, install.signature, install.candidate.name, reason)
        persist.invalidated(self.config, self.function_id, install.signature, install.candidate.name, reason)
        if self._invalidations >= VOLATILE_AFTER:
            self._installed.clear()
            self._disabled = True
            log.warning("%s: its globals changed under %d installed variants; they change too often for a "
                        "variant to pay off, so it runs as the original for the rest of this process "
                        "(pass them as arguments to let hotpath optimize it)", self.__qualname__, self._invalidations)

    def _roll_back(self, key: Hashable, event: RollbackEvent) -> None:
        install = self._installed.pop(key, None)
        if install is None:
            return  # another thread got there first
        self._barred.setdefault(key, set()).add(install.candidate.name)
        log.warning("%s %s: rolled back %s: %s", self.__qualname__, install.signature, install.candidate.name,
                    event.reason)
        persist.rolled_back(self.config, self.function_id, install.signature, install.candidate.name,
                            event.reason, event.evidence)

    def barred(self, args: tuple[Any, ...]) -> set[str]:
        """Variants rolled back for the signature of ``args`` in this process."""
        return set(self._barred.get(guard_key(args), ()))

    def _record(self, key: Hashable, result: TuneResult) -> None:
        self._results[key] = result
        stats = self._stats.get(key)
        if stats is not None:
            stats.state = "tuned"

    # --- tuning: the tuning module produces a result, this class installs it -----------------
    def tune_args(self, args: tuple[Any, ...], config: Config | None = None, observer: Observer | None = None,
                  executor: object = None) -> TuneResult:
        """Tune now for the positional ``args``, install the winner for their signature, and return
        the result (``executor`` as in ``hotpath.tune``; ``observer`` hears each candidate start and end)."""
        from hotpath import tuning
        from hotpath.runner import leftovers, sandbox

        config = config or self.config
        state = config.state
        # Trial folders go beside the kernels, where the next tune finds what a killed one left.
        sandbox.use_scratch(state.tmp)
        leftovers.clean(state)
        result = tuning.run(self, args, config, observer, executor)
        self.install_result(args, result)
        return result

    def tune_call(self, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config | None = None,
                  executor: object = None) -> TuneResult:
        """``tune_args`` for a call written any way Python allows (keywords, defaults); the result says
        why when this function's parameters cannot be bound positionally."""
        from hotpath import tuning

        if self._bind is None:
            return tuning.unsupported(self)
        return self.tune_args(self._positional(args, kwargs), config, executor=executor)

    def install_result(self, args: tuple[Any, ...], result: TuneResult) -> None:
        """Keep ``result`` as the last one for the signature of ``args`` and install its loaded winner."""
        loaded = result.loaded
        if loaded is not None:
            self._install(args, self._new_install(loaded.signature, loaded.candidate, loaded.speedup, loaded.variant,
                                                  loaded.invocation_errors, loaded.mutates, "tuned", loaded.frozen))
            log.info("%s %s: installed %s", self.__qualname__, loaded.signature, loaded.candidate.name)
        self._record(guard_key(args), result)

    def _job_done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    # --- inspection and control ---------------------------------------------------------
    @property
    def installed(self) -> dict[Signature, Candidate]:
        """Signature -> the variant now in service for it."""
        return {i.signature: i.candidate for i in self._installed.values()}

    @property
    def results(self) -> dict[Signature, TuneResult]:
        """Signature -> the last tuning result for it (background or ``tune``)."""
        return {r.signature: r for r in self._results.values() if r.signature is not None}

    @property
    def stats(self) -> dict[Signature, tuple[int, float]]:
        """Signature -> (calls, seconds) spent in the original."""
        return {s.signature: (s.calls, s.seconds) for s in self._stats.values()}

    def rollback(self) -> None:
        """Back to the original for every signature, here and in the store; tier 0 starts counting
        again, so hot signatures are tuned afresh."""
        if self._installed:
            log.warning("%s: rolled back %d installed variant(s) by request", self.__qualname__,
                        len(self._installed))
        self._installed.clear()
        persist.manual_rollback(self.config, self.function_id)
        for stats in self._stats.values():
            stats.state = "counting"
            stats.calls, stats.seconds = 0, 0.0

    def wait(self, timeout: float | None = None) -> bool:
        """Block until background tuning of this function is done; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)


def snapshot_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A copy of ``args`` to tune from, with the same guard key as ``args``.

    ``copy_args`` keeps aliasing, memory order and flags, but a strided array not aliased by
    another comes back contiguous; the snapshot of a strided array is strided again (a compact
    copy with one axis stepped, not a copy of all the memory it spans), and a read-only array
    stays read-only, so the signature tuned is the one that was hot.
    """
    copied = copy_args(args)
    return tuple(_same_layout(original, copy_, {}) for original, copy_ in zip(args, copied))


def _same_layout(original: Any, copied: Any, memo: dict[int, Any]) -> Any:
    if id(copied) in memo:
        return memo[id(copied)]
    result = copied
    if type(original) is np.ndarray and type(copied) is np.ndarray:
        result = _relaid(original, copied)
    elif type(original) is tuple and type(copied) is tuple and len(original) == len(copied):
        items = tuple(_same_layout(o, c, memo) for o, c in zip(original, copied))
        result = copied if all(a is b for a, b in zip(items, copied)) else items
    elif type(original) is list and type(copied) is list and len(original) == len(copied):
        copied[:] = [_same_layout(o, c, memo) for o, c in zip(original, copied)]
    memo[id(copied)] = result
    return result


def _relaid(original: np.ndarray, copied: np.ndarray) -> np.ndarray:
    """``copied`` with ``original``'s contiguity and writeable flag."""
    strided = not (original.flags.c_contiguous or original.flags.f_contiguous)
    if strided and (copied.flags.c_contiguous or copied.flags.f_contiguous):
        # Double the stride of the last axis longer than 1: neither C nor F contiguous.
        axis = max(i for i, n in enumerate(original.shape) if n > 1)
        shape = tuple(2 * n if i == axis else n for i, n in enumerate(original.shape))
        step = tuple(slice(None, None, 2) if i == axis else slice(None) for i in range(original.ndim))
        relaid = np.empty(shape, original.dtype)[step]
        relaid[...] = copied
        copied = relaid
    if not original.flags.writeable and copied.flags.writeable:
        copied.flags.writeable = False
    return copied


def _identity(fn: Callable[..., Any]) -> Callable[..., Any]:
    return fn


def _variant_raised(opt: Optimized, key: Hashable, install: Install, args: tuple[Any, ...], exc: BaseException) -> Any:
    """What ``Optimized.__call__`` does when the variant raises, for the compiled path.

    Re-raised here so that ``except`` clauses, exception chaining and the rollback are exactly
    the pure path's: ``variant_failed`` runs the original, re-raises its exception and keeps the
    variant when the original raises the same type, and rolls back on any other outcome.
    """
    try:
        raise exc
    except install.invocation_errors:
        return opt.__hotpath_original__(*args)
    except Exception as caught:
        return variant_failed(install, opt.__hotpath_original__, args, caught, None,
                              functools.partial(opt._roll_back, key))


# When the compiled extension is built, the common case of __call__ runs in C (hotpath/_fastpath.c):
# the pure-Python guard key and dict lookup cost microseconds per call. hotpath.fastpath holds the
# switch and keeps this pure-Python path as the fallback (HOTPATH_PURE_PYTHON=1).
fastpath.attach(Optimized, Install, _variant_raised)
