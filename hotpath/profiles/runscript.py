"""``python -m hotpath.profiles.runscript SCRIPT|-m MODULE [ARGS...]``: the program, with its stored winners.

The functions that have an active stored winner in this environment (by module and qualified
name; the script's own by the script's path, or ``__main__`` as an older hotpath stored them)
are wrapped with ``hotpath.optimize`` as they are defined. Each wrapped function's first call
for a signature looks the winner up in the store under the function's *current* source hash,
so an edited function simply finds none and runs as the original; guards, shadow verification
and rollback work as for any decorated function.
Nothing is tuned here (``background=False``): that is what ``hotpath optimize`` is for.

When each winner is loaded, and on which thread, is ``loading``'s decision: at once where it
pays for its loading over the run ``hotpath optimize`` recorded, only once that much time has
been spent in the original where it does not. The decisions and their numbers are logged (INFO).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from hotpath.profiles import bootstrap, loading, programs
from hotpath.profiles.entry import EntryError, Program
from hotpath.profiles.loading import load_plan
from hotpath.statedir import StateDir

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
        # A script's own functions are stored under its path; an older hotpath stored them as __main__.
        own = str(Path(filename).resolve()) if module == "__main__" else module
        stage = plan.get((own, fn.__qualname__)) or plan.get((module, fn.__qualname__))
        return fn if stage is None else loading.for_config(fn, stage, config)

    def wanted(name: str, file: str) -> bool:
        return name in modules

    return program.run(wrapper, wanted)


if __name__ == "__main__":
    os.environ.pop("PYTHONINSPECT", None)
    sys.exit(main())
