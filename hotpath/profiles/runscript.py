"""``python -m hotpath.profiles.runscript SCRIPT|-m MODULE [ARGS...]``: the program, with its stored winners.

The functions that have an active stored winner in this environment (by module and qualified
name; the script's own are ``__main__``) are wrapped with ``hotpath.optimize`` as they are
defined. Each wrapped function's first call for a signature looks the winner up in the store
under the function's *current* source hash, so an edited function simply finds none and runs
as the original; guards, shadow verification and rollback work as for any decorated function.
Nothing is tuned here (``background=False``): that is what ``hotpath optimize`` is for.

A backend's winners are installed only when ``hotpath optimize`` recorded that they save more
over the program's run than loading them costs (``programs``). Otherwise a function runs as
written behind a stopwatch, and its winner is loaded only once the time spent in it exceeds that
cost (the run is longer than the recorded one): a short run never imports the backend, a long
one loses at most the load cost. The decisions and their numbers are logged (INFO).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hotpath.statedir import StateDir
from typing import Any

from hotpath.profiles import bootstrap, hooks, programs
from hotpath.profiles.entry import EntryError, Program

log = logging.getLogger("hotpath.profiles.runscript")  # not __name__: run with -m, that is __main__


def installed_names(state_dir: Path) -> set[tuple[str, str]]:
    """(module, qualname) of every function with an active winner for this machine."""
    if not StateDir(state_dir).store_db.exists():
        return set()
    from hotpath.store import Store
    from hotpath.integrity import environment

    env = environment()
    try:
        return {(r["module"], r["qualname"]) for r in Store.at(state_dir).active_installs() if r["environment"] == env}
    except Exception:
        log.exception("the store in %s cannot be read; running the program without stored winners", state_dir)
        return set()


def load_plan(names: set[tuple[str, str]], run: programs.ProgramRun | None) -> dict[tuple[str, str], float]:
    """Per function with a stored winner, the seconds spent in its original before it is loaded:
    0 where its backend's winners save more over the recorded run than loading them costs,
    that cost where they do not.

    Functions the record does not know (or whose load was not measured) get 0: the check only
    ever defers what it has numbers for. Per backend, since its import is paid once.
    """
    plan = dict.fromkeys(names, 0.0)
    if run is None:
        log.info("no record of this program from `hotpath optimize`: every stored winner is installed")
        return plan
    by_backend: dict[str, list[tuple[tuple[str, str], programs.FunctionRun]]] = {}
    for module, qualname in names:
        recorded = run.functions.get(f"{module}:{qualname}")
        if recorded is not None and recorded.load_s is not None and recorded.backend is not None:
            by_backend.setdefault(recorded.backend, []).append(((module, qualname), recorded))
    for backend, members in sorted(by_backend.items()):
        saving = sum(f.saving_s for _, f in members)
        cost = sum(f.load_s or 0.0 for _, f in members)
        listed = ", ".join(f"{m}:{q}" for (m, q), _ in sorted(members))
        if saving > cost:
            log.info("installing the %s winners of %s: expected saving %.3f s over a %.2f s run > %.3f s to load them",
                     backend, listed, saving, run.total_s, cost)
        else:
            plan.update((key, max(cost, 1e-3)) for key, _ in members)
            log.info("not installing the %s winners of %s yet: expected saving %.3f s over a %.2f s run <= %.3f s "
                     "to load them; they run as written until that much time is spent in them", backend, listed,
                     saving, run.total_s, cost)
    return plan


def deferred(fn: Callable[..., Any], budget_s: float, load: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
    """``fn`` behind a stopwatch: once calls have spent ``budget_s`` in it, ``load()`` replaces it."""
    spent = 0.0
    replacement: Callable[..., Any] | None = None

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal spent, replacement
        if replacement is not None:
            return replacement(*args, **kwargs)
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent += time.perf_counter() - start
            if spent > budget_s and replacement is None:
                log.info("%s: %.3f s spent in the original, more than the %.3f s its stored winner costs to load: "
                         "loading it", fn.__qualname__, spent, budget_s)
                replacement = load()

    return call


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        program = Program.from_argv(argv)
        main_file = program.main_file()
    except EntryError as exc:
        print(f"hotpath run: {exc}", file=sys.stderr)
        return 2
    bootstrap.setup_logging()
    from hotpath.config import Config, disabled_by_env

    config = Config(background=False)
    state_dir = config.resolved_state_dir()
    names = set() if disabled_by_env() else installed_names(state_dir)
    plan = load_plan(names, programs.read(state_dir, str(main_file))) if names else {}
    modules = {module for module, _ in plan}
    log.info("stored winners for %d function(s): %s", len(plan), sorted(plan))

    def wrapper(module: str, filename: str, fn: Any) -> Any:
        budget = plan.get((module, fn.__qualname__))
        if budget is None:
            return fn

        def load() -> Any:
            import hotpath  # and, on its first call, the backend: only now

            return hotpath.optimize(fn, config=config)

        return load() if budget == 0 else deferred(fn, budget, load)

    def wanted(name: str, file: str) -> bool:
        return name in modules

    try:
        if program.module:
            return hooks.run_module(program.target, program.args, wrapper, wanted)
        return hooks.run_script(program.target, program.args, wrapper, wanted)
    except KeyboardInterrupt:  # as python ends on Ctrl-C, less the frames of this runner
        sys.stdout.flush()
        print("KeyboardInterrupt", file=sys.stderr)
        return 130


if __name__ == "__main__":
    os.environ.pop("PYTHONINSPECT", None)
    sys.exit(main())
