"""``hotpath run``: run the script plainly where its record says nothing pays, else hand it over to
``hotpath.profiles.runscript``.

Kept apart from the other program commands (``cli``) because it is on the program's critical
path: whatever this process imports before the program starts is start-up time the plain
``python`` run does not pay. So ``run_settled`` decides the common case from the raw command
line before ``hotpath.cli`` builds any parser: the state folder from ``--home``,
``$HOTPATH_HOME`` or the current folder (``hotpath.config`` only where a ``pyproject.toml``
mentions hotpath), then the program record (JSON, and one read-only ``sqlite3`` query:
``costcheck``, standard library alone). Where the record of this script with these arguments says no
stored winner pays for its loading, the script runs in this very process, as ``python`` would
run it (``hooks.run_program``): no second interpreter start, and only a few standard-library
imports ahead of the program's own, most of which a NumPy program imports anyway
(``bench/results/run-overhead.md``). Anything else (``-v``, ``-m``, ``--help``, a record that
does not settle it) goes through the parser to ``run_script``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hotpath import projectfile

if TYPE_CHECKING:
    import argparse

RUN_SUBPROCESS_ENV = "HOTPATH_RUN_SUBPROCESS"  # set: `hotpath run` starts a child instead of exec()
#: ``hotpath.statedir.HOME_ENV``, ``DEFAULT_NAME`` and ``bootstrap.LOG_LEVEL_ENV`` (a test keeps them
#: equal): not imported, since those modules' imports (logging, signal) cost the program's start.
HOME_ENV = "HOTPATH_HOME"
DEFAULT_STATE = ".hotpath"
LOG_LEVEL_ENV = "HOTPATH_LOG_LEVEL"


def script_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every program command takes: ``--home``, and the program as ``python`` takes it:
    ``SCRIPT ARGS...`` or ``-m MODULE ARGS...`` (see ``program_argv``)."""
    import argparse

    from hotpath.cli_helpers import HOME_HELP

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


def plain_request(argv: Sequence[str]) -> tuple[str | None, str, list[str]] | None:
    """``(home, script, script_args)`` of a ``hotpath [run] --home HOME SCRIPT ARGS...`` command line
    with no other option before the script; ``None`` for anything else (``-v``, ``-m``, ``--help``,
    an abbreviated option ...), which the parser reads."""
    home: str | None = None
    command = False
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        if not command:
            if word != "run":
                return None
            command = True
        elif word == "--home" and index + 1 < len(words) and not words[index + 1].startswith("-"):
            index += 1
            home = words[index]
        elif word.startswith("--home=") and len(word) > len("--home="):
            home = word[len("--home="):]
        elif word.startswith("-"):
            return None
        else:
            return home, word, words[index + 1:]
        index += 1
    return None


def run_settled(argv: Sequence[str]) -> int | None:
    """``hotpath run`` for a command line ``plain_request`` reads, where the program record settles
    it: the script's exit status after running it in this process as ``python`` would (no stored
    winner pays for its loading over a run with these arguments); ``None`` where the parser and
    ``run_script`` must decide."""
    request = plain_request(argv)
    if request is None:
        return None
    home, script, script_args = request
    if not os.path.isfile(script):
        return None  # run_script says so
    state = settled_state_dir(home)
    if state is None or _nothing_to_load(state, script, script_args) is None:
        return None
    return run_plainly(state, "WARNING", script, script_args)


def settled_state_dir(home: str | None) -> str | None:
    """The state folder ``cli_helpers.state_dir`` finds, resolved: ``home``, else ``$HOTPATH_HOME``,
    else the project's ``[tool.hotpath] state_dir``, else ``./.hotpath``; ``None`` where the
    project's settings cannot be read (the parser's path reports it). ``hotpath.config`` is
    imported only where a ``pyproject.toml`` mentions hotpath at all."""
    if home:
        return os.path.realpath(home)
    if os.environ.get(HOME_ENV, "").strip():
        return os.path.realpath(os.environ[HOME_ENV])
    project = projectfile.find()
    if project is not None:
        try:
            with open(project, "rb") as file:
                mentions = b"hotpath" in file.read()
        except OSError:
            mentions = True  # let config say what is wrong with it
        if mentions:
            from hotpath.config import state_home

            try:
                return str(state_home(None).resolved().root)
            except Exception:  # a bad [tool.hotpath] table: the parser's path prints the one line
                return None
    return os.path.realpath(DEFAULT_STATE)


def run_script(args: argparse.Namespace) -> int:
    """Replace this process with ``python -m hotpath.profiles.runscript SCRIPT ARGS`` (a child where
    ``exec`` is not available or ``HOTPATH_RUN_SUBPROCESS`` is set); with ``python SCRIPT ARGS``
    instead where ``hotpath optimize`` recorded that no stored winner pays for its loading over a
    run with these arguments (``costcheck.nothing_to_load``): such a run loads nothing, so it is
    spared the wrapping's start-up too. A fresh ``python``, not this process, because the parser's
    path has set up logging (``-v``), which the program must not inherit; ``run_settled`` runs the
    common case in this process before any of that."""
    import logging
    from pathlib import Path

    from hotpath.cli_helpers import home
    from hotpath.profiles import bootstrap

    state = str(home(args))
    level = bootstrap.level_for(args.verbose)
    program = program_argv(args)
    problem = "give the program: SCRIPT.py [ARGS...] or -m MODULE [ARGS...]" if program in ([], ["-m"]) else \
        f"{args.script}: no such file" if args.module is None and not Path(args.script).is_file() else None
    if problem is not None:
        from hotpath.cli_helpers import console  # rich: only for the error line

        console(stderr=True).print(f"[red]hotpath run: {problem}", highlight=False)
        return 2
    reason = _nothing_to_load(state, args.script, args.args) if args.module is None else None
    if reason is not None:
        logging.getLogger(__name__).info("%s; running the script as written: python %s", reason,
                                         " ".join([args.script, *args.args]))
        return exec_plainly(state, level, args.script, args.args)
    return _hand_over([sys.executable, "-m", "hotpath.profiles.runscript", *program], _program_env(state, level))


def run_plainly(state: str, level: str, script: str, script_args: Sequence[str]) -> int:
    """Run ``script`` as ``python script args`` would, in this process, with the environment the
    handed-over program would get; its exit status. Where a module this process has imported
    could be the script's own (a ``json.py`` beside it), ``exec_plainly`` instead: the script
    must import its own."""
    folder = os.path.dirname(os.path.realpath(script))
    try:
        beside = {os.path.splitext(name)[0] for name in os.listdir(folder)}
    except OSError:
        beside = set()
    if beside & {name.partition(".")[0] for name in sys.modules}:
        return exec_plainly(state, level, script, script_args)
    os.environ.update(_program_env(state, level))
    from hotpath.profiles import hooks  # not entry: its dataclass is start-up time a NumPy program does not share

    return hooks.run_program(script, script_args)


def exec_plainly(state: str, level: str, script: str, script_args: Sequence[str]) -> int:
    """Replace this process with ``python script args`` (see ``_hand_over``)."""
    return _hand_over([sys.executable, script, *script_args], _program_env(state, level))


def _program_env(state: str, level: str) -> dict[str, str]:
    return {HOME_ENV: state, LOG_LEVEL_ENV: level}


def _hand_over(cmd: list[str], extra_env: dict[str, str]) -> int:
    """Replace this process with ``cmd`` (the program gets its status, signals and terminal); a child
    where ``exec`` is not available or ``HOTPATH_RUN_SUBPROCESS`` is set, with its exit status."""
    env = dict(os.environ, **extra_env)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix" and not os.environ.get(RUN_SUBPROCESS_ENV):
        os.execve(sys.executable, cmd, env)
    import subprocess  # only here: its import is start-up time the program waits for

    return subprocess.call(cmd, env=env)


def _nothing_to_load(state: str, script: str, script_args: Sequence[str]) -> str | None:
    from hotpath.profiles import costcheck

    try:
        return costcheck.nothing_to_load(state, script, script_args)
    except Exception:  # an unreadable record or store file: the full path decides, and says why
        import logging

        logging.getLogger(__name__).debug("the program record of %s cannot be weighed here", script,
                                          exc_info=True)
        return None
