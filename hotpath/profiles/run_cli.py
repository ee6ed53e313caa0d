"""``hotpath run``: hand the script over to ``hotpath.profiles.runscript``, importing nothing heavy.

Kept apart from the other program commands (``cli``) because it is on the program's critical
path: whatever this process imports before it hands over is start-up time the plain ``python``
run does not pay. So only ``argparse``, ``os``, the state folder's paths and the program record
(JSON, and one read-only ``sqlite3`` query) here; ``hotpath.cli`` builds a parser with this
command alone when the command line asks for ``run``. Where the record says the run would load no
winner, the script goes straight to ``python`` (``programs.nothing_to_load``), so a short
program pays only this process's start-up (about 75 ms of CPU here) over running it plainly.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from hotpath.cli_helpers import HOME_HELP, home
from hotpath.profiles import bootstrap, programs

log = logging.getLogger(__name__)

RUN_SUBPROCESS_ENV = "HOTPATH_RUN_SUBPROCESS"  # set: `hotpath run` starts a child instead of exec()


def script_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every program command takes: ``--home``, and the program as ``python`` takes it:
    ``SCRIPT ARGS...`` or ``-m MODULE ARGS...`` (see ``program_argv``)."""
    parser.add_argument("--home", help=HOME_HELP)
    parser.add_argument("-m", dest="module", nargs=argparse.REMAINDER, metavar="MODULE ...",
                        help="run a module as `python -m MODULE ARGS...` does, instead of SCRIPT")
    parser.add_argument("script", nargs="?", help="the Python script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")


def program_argv(args: argparse.Namespace) -> list[str]:
    """The program's command line after ``python``: ``[SCRIPT, ARGS...]`` or ``["-m", MODULE, ARGS...]``
    (empty when neither was given)."""
    if args.module is not None:
        return ["-m", *args.module]
    return [args.script, *args.args] if args.script else []


def register(subparsers: Any) -> None:
    """Add ``hotpath run`` to the command's subparsers."""
    run = subparsers.add_parser(
        "run", help="run a script with its stored winners installed (no source changes)",
        description="Runs SCRIPT as `python SCRIPT ARGS` would, with each function that has a stored winner "
                    "wrapped by hotpath.optimize as it is defined: the winner is installed on the first call "
                    "of its signature; guards and shadow verification stay on. Edited functions run as written.")
    script_arguments(run)
    run.set_defaults(func=run_script)


def run_script(args: argparse.Namespace) -> int:
    """Replace this process with ``python -m hotpath.profiles.runscript SCRIPT ARGS`` (a child where
    ``exec`` is not available or ``HOTPATH_RUN_SUBPROCESS`` is set); with ``python SCRIPT ARGS``
    itself where ``hotpath optimize`` recorded that no stored winner pays for its loading over a run
    with these arguments (``programs.nothing_to_load``): such a run loads nothing, so it is spared
    the wrapping's start-up too."""
    state = home(args)
    env = dict(os.environ, HOTPATH_HOME=str(state))
    env[bootstrap.LOG_LEVEL_ENV] = bootstrap.level_for(args.verbose)
    program = program_argv(args)
    cmd = [sys.executable, "-m", "hotpath.profiles.runscript", *program]
    problem = "give the program: SCRIPT.py [ARGS...] or -m MODULE [ARGS...]" if program in ([], ["-m"]) else \
        f"{args.script}: no such file" if args.module is None and not Path(args.script).is_file() else None
    if problem is not None:
        from hotpath.cli_helpers import console  # rich: only for the error line

        console(stderr=True).print(f"[red]hotpath run: {problem}", highlight=False)
        return 2
    reason = _nothing_to_load(state, args.script, args.args) if args.module is None else None
    if reason is not None:
        log.info("%s; running the script as written: python %s", reason, " ".join([args.script, *args.args]))
        cmd = [sys.executable, args.script, *args.args]
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix" and not os.environ.get(RUN_SUBPROCESS_ENV):
        os.execve(sys.executable, cmd, env)  # the program gets this process: its status, signals, terminal
    import subprocess  # only here: its import is start-up time the program waits for

    return subprocess.call(cmd, env=env)


def _nothing_to_load(state: Path, script: str, script_args: list[str]) -> str | None:
    try:
        return programs.nothing_to_load(state, script, script_args)
    except Exception:  # an unreadable record or store file: the full path decides, and says why
        log.debug("the program record of %s cannot be weighed here", script, exc_info=True)
        return None
