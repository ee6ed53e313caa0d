"""When and how ``hotpath run`` loads a stored winner: the plan, and the wrapper that loads it.

Loading a winner costs its backend's import and the variant's load (Numba: LLVM, SciPy's BLAS
bindings, its lowering registries, then the cached machine code), a second or more on a small
machine, paid in the program's own process. ``hotpath optimize`` measured that cost in fresh
interpreters and the saving the winners bring over the recorded run (``programs``); the plan
weighs them per backend, since the import is paid once:

* the winners save more than they cost: the winner is loaded on the function's first call;
* they do not: the function runs as written behind a stopwatch, and its winner is loaded only
  once that much time has been spent in it (the run is longer than the recorded one), so a short
  run never imports the backend and a long one loses at most the load cost;
* nothing is known (no record, or no measured cost): loaded on the first call, as
  ``hotpath.optimize`` would.

Nothing is imported before a function's first call, and only the backend of a winner that is
being loaded. The load runs on the calling thread. On a loader thread (``HOTPATH_LOAD_THREAD=1``)
the import and the original's Python share the GIL: a loop kernel runs at about half speed while
the load takes about twice as long, so the program gains nothing (``bench/results/run-overhead.md``:
3.1 s on a loader thread, 2.8 s on the calling thread, for a program ``python`` ran in 1.1 s on a
loaded machine). A program whose hot functions spend their time in NumPy, which releases the GIL,
can turn it on: the original then keeps answering while the winner loads.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotpath.profiles import programs

if TYPE_CHECKING:
    from hotpath.config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    """When one function's stored winner is loaded: after ``budget_s`` seconds spent in the
    original, on a loader thread (``background``) or on the calling thread."""

    budget_s: float = 0.0
    background: bool = False


#: Set (not "0"): winners are loaded on a loader thread while the original answers.
LOAD_THREAD_ENV = "HOTPATH_LOAD_THREAD"


def loader_thread() -> bool:
    """Whether ``HOTPATH_LOAD_THREAD`` asks for loading on a loader thread."""
    return os.environ.get(LOAD_THREAD_ENV, "").strip() not in ("", "0")


def load_plan(names: set[tuple[str, str]], run: programs.ProgramRun | None) -> dict[tuple[str, str], Stage]:
    """Per function with a stored winner, when to load it (see the module docstring).

    Functions the record does not know (or whose load was not measured) are loaded at once:
    the check only ever defers what it has numbers for. Per backend, since its import is paid once.
    """
    background = loader_thread()
    plan = dict.fromkeys(names, Stage(0.0, background))
    if run is None:
        log.info("no record of this program from `hotpath optimize`: every stored winner is installed")
        return plan
    by_backend: dict[str, list[tuple[tuple[str, str], programs.FunctionRun]]] = {}
    script = str(Path(run.script).resolve())
    for module, qualname in names:
        # The store names the script's own functions by its path (hotpath.store.names, not imported:
        # it costs the program's start), the record as its profile does: __main__:name.
        recorded = run.functions.get(f"{module}:{qualname}") or \
            (run.functions.get(f"__main__:{qualname}") if module == script else None)
        if recorded is not None and recorded.load_s is not None and recorded.backend is not None:
            by_backend.setdefault(recorded.backend, []).append(((module, qualname), recorded))
    for backend, members in sorted(by_backend.items()):
        saving = sum(f.saving_s for _, f in members)
        cost = sum(f.load_s or 0.0 for _, f in members)
        listed = ", ".join(f"{m}:{q}" for (m, q), _ in sorted(members))
        if saving > cost:
            plan.update((key, Stage(0.0, background)) for key, _ in members)
            log.info("installing the %s winners of %s: expected saving %.3f s over a %.2f s run > %.3f s to load "
                     "them; loading on first call", backend, listed, saving, run.total_s, cost)
        else:
            plan.update((key, Stage(max(cost, 1e-3), background)) for key, _ in members)
            log.info("not installing the %s winners of %s yet: expected saving %.3f s over a %.2f s run <= %.3f s "
                     "to load them; they run as written until that much time is spent in them", backend, listed,
                     saving, run.total_s, cost)
    return plan


def staged(fn: Callable[..., Any], stage: Stage, load: Callable[[], Callable[..., Any]],
           preload: Callable[[tuple[Any, ...]], object] | None = None) -> Callable[..., Any]:
    """``fn`` until its replacement is loaded, then the replacement.

    Once calls have spent ``stage.budget_s`` in ``fn``, ``load()`` makes the replacement
    (``hotpath.optimize(fn)``); ``preload(args)`` first does the costly part for the signature
    of the call that spent the budget (``persist.preload``: backend import, cached compile).
    With ``stage.background`` both run on a loader thread and callers keep getting ``fn``
    meanwhile; otherwise on the calling thread before it returns (a budget of 0: the first call
    already gets the replacement). A failed load is logged and ``fn`` stays.

    The loader thread is not a daemon: a program that ends mid-load waits for it at exit rather
    than tearing down an interpreter a compiler is running in. It starts only once the plan
    expects the load to pay, or after the load cost has already been spent in ``fn``.
    """
    replacement: Callable[..., Any] | None = None
    spent = 0.0
    started = False
    start_lock = threading.Lock()
    try:
        bind: Callable[..., inspect.BoundArguments] | None = inspect.signature(fn).bind
    except (TypeError, ValueError):
        bind = None

    def positional(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
        if not kwargs:
            return args
        if bind is None:
            return None
        try:
            bound = bind(*args, **kwargs)
        except TypeError:
            return None
        bound.apply_defaults()
        return bound.args if not bound.kwargs else None

    def run_load(args: tuple[Any, ...] | None) -> None:
        nonlocal replacement
        begin = time.perf_counter()
        try:
            if preload is not None and args is not None and stage.background:
                preload(args)  # on the calling thread the first call's warm start does this anyway
            made = load()
        except Exception:
            log.exception("%s: loading the stored winner failed; the original goes on", fn.__qualname__)
            return
        log.info("%s: stored winner loaded in %.3f s%s", fn.__qualname__, time.perf_counter() - begin,
                 " on the loader thread" if stage.background else "")
        replacement = made

    def begin_load(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        nonlocal started
        with start_lock:
            if started:
                return
            started = True
        if stage.budget_s > 0:
            log.info("%s: %.3f s spent in the original, more than the %.3f s its stored winner costs to load: "
                     "loading it", fn.__qualname__, spent, stage.budget_s)
        if stage.background:
            threading.Thread(target=run_load, args=(positional(args, kwargs),), name=f"hotpath-load-{fn.__name__}",
                             daemon=False).start()
        else:
            run_load(positional(args, kwargs))

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal spent
        if replacement is not None:
            return replacement(*args, **kwargs)
        if not started and not stage.background and stage.budget_s <= 0:
            begin_load(args, kwargs)  # at once, on this thread: this very call gets the winner
            if replacement is not None:
                return replacement(*args, **kwargs)
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            if not started:
                spent += time.perf_counter() - start
                if spent >= stage.budget_s:
                    begin_load(args, kwargs)

    return call


def for_config(fn: Callable[..., Any], stage: Stage, config: Config) -> Callable[..., Any]:
    """``staged`` with hotpath's own load: ``hotpath.optimize(fn)`` with ``config``, the stored
    winner preloaded for the signature that triggers it. Imports hotpath's dispatch and the
    backend only when the load starts."""

    def load() -> Callable[..., Any]:
        import hotpath

        return hotpath.optimize(fn, config=config)

    def preload(args: tuple[Any, ...]) -> object:
        from hotpath import persist

        return persist.preload(config, fn, args)

    return staged(fn, stage, load, preload)
