"""``python -m hotpath.profiles.suiterun -m pytest ARGS``: a benchmark suite with every stored winner loaded.

``hotpath run`` weighs each winner's load cost (the backend's import, a second or more) against
the saving ``hotpath optimize`` measured over the whole recorded run, and leaves winners that do
not repay it unloaded until that much time was spent in their originals (``loading``). That is the
right rule for a program, and the wrong one for a benchmark suite: pytest-benchmark times each
call, never the load, and caps each benchmark at about a second, so under that rule a suite would
time the originals on both sides of the comparison. Here every stored winner is loaded at its
function's first call instead, as ``hotpath.optimize`` does when nothing is known, and the watch
(shadow verification) is off; which functions are wrapped, and the guards, are ``hotpath run``'s.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from hotpath.profiles import bootstrap, loading
from hotpath.profiles.entry import EntryError, Program
from hotpath.profiles.loading import load_plan
from hotpath.profiles.runscript import installed_names

log = logging.getLogger("hotpath.profiles.suiterun")  # not __name__: run with -m, that is __main__


def main(argv: list[str] | None = None) -> int:
    """Run the program of ``argv`` (``SCRIPT ARGS`` or ``-m MODULE ARGS``) with every stored winner
    loaded at its first call; the program's exit status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        program = Program.from_argv(argv)
        program.main_file()
    except EntryError as exc:
        print(f"hotpath: {exc}", file=sys.stderr)
        return 2
    bootstrap.setup_logging()
    from hotpath.config import Config, disabled_by_env

    # The watch off: its probation checks each fresh install's first 16 calls against the original,
    # a per-process cost like the load, and pytest-benchmark's few rounds of a slow original would
    # be mostly probation. The exported patch keeps no watch either, so this times what it would.
    config = Config(background=False, verify_rate=0.0)
    names = set() if disabled_by_env() else installed_names(config.resolved_state_dir())
    plan = load_plan(names, None) if names else {}  # no record: each winner loads on its first call
    modules = {module for module, _ in plan}
    log.info("stored winners for %d function(s), each loaded at its first call: %s", len(plan), sorted(plan))

    def wrapper(module: str, filename: str, fn: Any) -> Any:
        stage = plan.get((module, fn.__qualname__))
        return fn if stage is None else loading.for_config(fn, stage, config)

    def wanted(name: str, file: str) -> bool:
        return name in modules

    return program.run(wrapper, wanted)


if __name__ == "__main__":
    os.environ.pop("PYTHONINSPECT", None)
    sys.exit(main())
