"""``python -m hotpath.profiles.runscript SCRIPT [ARGS...]``: the script, with its stored winners.

The functions that have an active stored winner in this environment (by module and qualified
name; the script's own are ``__main__``) are wrapped with ``hotpath.optimize`` as they are
defined. Each wrapped function's first call for a signature looks the winner up in the store
under the function's *current* source hash, so an edited function simply finds none and runs
as the original; guards, shadow verification and rollback work as for any decorated function.
Nothing is tuned here (``background=False``): that is what ``hotpath optimize`` is for.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from hotpath.profiles import bootstrap, hooks

log = logging.getLogger(__name__)


def installed_names(state_dir: Path) -> set[tuple[str, str]]:
    """(module, qualname) of every function with an active winner for this machine."""
    if not (state_dir / "store.db").exists():
        return set()
    from hotpath.store import Store
    from hotpath.store.fingerprint import environment

    env = environment()
    try:
        return {(r["module"], r["qualname"]) for r in Store.at(state_dir).active_installs() if r["environment"] == env}
    except Exception:
        log.exception("the store in %s cannot be read; running the program without stored winners", state_dir)
        return set()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m hotpath.profiles.runscript SCRIPT [ARGS...]", file=sys.stderr)
        return 2
    bootstrap.setup_logging()
    from hotpath.config import Config, disabled_by_env

    config = Config(background=False)
    names = set() if disabled_by_env() else installed_names(config.resolved_state_dir())
    modules = {module for module, _ in names}
    log.info("stored winners for %d function(s): %s", len(names), sorted(names))

    def wrapper(module: str, filename: str, fn: Any) -> Any:
        if (module, fn.__qualname__) not in names:
            return fn
        import hotpath

        return hotpath.optimize(fn, config=config)

    return hooks.run_script(argv[0], argv[1:], wrapper, lambda name, file: name in modules)


if __name__ == "__main__":
    os.environ.pop("PYTHONINSPECT", None)
    sys.exit(main())
