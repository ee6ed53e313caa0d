"""``hotpath run``'s settled path: where the program record says nothing is to load, the script runs
in the ``hotpath`` process itself, as ``python`` would run it, decided before any parser is built."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotpath import config, statedir, watch
from hotpath.profiles import bootstrap, costcheck, programs, run_cli

HOTPATH = [sys.executable, "-m", "hotpath.cli"]

PROGRAM = """\
import os, sys
print(sys.argv, __name__, sys.path[0] == os.path.dirname(os.path.realpath(__file__)), os.path.isabs(__file__))
print("in hotpath's process:", "hotpath.profiles.run_cli" in sys.modules)
print(os.environ.get("HOTPATH_LOG_LEVEL"), os.environ.get("HOTPATH_HOME") == sys.argv[1])
if sys.argv[-1] == "fail":
    def broken():
        raise ValueError("from the program")
    broken()
sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)
"""


def _settle(script: Path, state: Path, *args: str) -> None:
    """A record of ``script`` run with ``args``, and no store: nothing to load."""
    programs.write(state, programs.ProgramRun(str(script), 1.0, {}, args))
    assert costcheck.nothing_to_load(state, str(script), list(args)) == f"no active stored winner in {state}"


def _hotpath(folder: Path, *words: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != run_cli.HOME_ENV}
    return subprocess.run([*HOTPATH, *words], cwd=folder, capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def program(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    script = folder / "prog.py"
    script.write_text(PROGRAM)
    return script


def test_a_settled_run_is_the_script_in_this_process_as_python_runs_it(program: Path, tmp_path: Path) -> None:
    state = (tmp_path / "state").resolve()
    _settle(program, state, str(state), "3")
    got = _hotpath(program.parent, "run", "--home", str(state), "prog.py", str(state), "3")
    plain = subprocess.run([sys.executable, "prog.py", str(state), "3"], cwd=program.parent, capture_output=True,
                           text=True, env=dict(os.environ, HOTPATH_HOME=str(state), HOTPATH_LOG_LEVEL="WARNING"))
    assert got.returncode == plain.returncode == 3, got.stderr
    assert "in hotpath's process: True" in got.stdout and "in hotpath's process: False" in plain.stdout
    assert got.stdout.replace("process: True", "process: False") == plain.stdout
    assert "['prog.py', " in got.stdout and "__main__ True True" in got.stdout and got.stderr == ""


def test_a_settled_runs_traceback_shows_the_programs_frames_only(program: Path, tmp_path: Path) -> None:
    state = (tmp_path / "state").resolve()
    _settle(program, state, str(state), "fail")
    got = _hotpath(program.parent, "run", "--home", str(state), "prog.py", str(state), "fail")
    assert got.returncode == 1
    assert "ValueError: from the program" in got.stderr and "in broken" in got.stderr
    assert "hotpath" not in got.stderr.replace(str(state), "STATE"), got.stderr


def test_a_module_beside_the_script_that_hotpath_imported_sends_it_to_a_fresh_python(
        program: Path, tmp_path: Path) -> None:
    state = (tmp_path / "state").resolve()
    (program.parent / "json.py").write_text("MINE = True\n")  # the script's own json, not the standard one
    _settle(program, state, str(state), "0")
    # From another folder: `python -m hotpath.cli` puts the current one first on sys.path
    got = _hotpath(tmp_path, "run", "--home", str(state), str(program), str(state), "0")
    assert got.returncode == 0, got.stderr
    assert "in hotpath's process: False" in got.stdout


def test_the_state_folder_comes_from_the_environment_and_the_current_folder(
        program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(program.parent)
    monkeypatch.delenv(run_cli.HOME_ENV, raising=False)
    (program.parent / ".git").mkdir()  # the project ends here: no pyproject.toml above is looked at
    assert run_cli.settled_state_dir(None) == str(config.state_home(None).resolved().root)
    assert run_cli.settled_state_dir("elsewhere") == str((program.parent / "elsewhere").resolve())
    monkeypatch.setenv(run_cli.HOME_ENV, str(tmp_path / "home"))
    assert run_cli.settled_state_dir(None) == str(config.state_home(None).resolved().root)


def test_a_project_that_sets_the_state_folder_is_read_by_config(
        program: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(program.parent)
    monkeypatch.delenv(run_cli.HOME_ENV, raising=False)
    (program.parent / ".git").mkdir()
    (program.parent / "pyproject.toml").write_text('[project]\nname = "app"\n')
    assert run_cli.settled_state_dir(None) == str((program.parent / ".hotpath").resolve())
    (program.parent / "pyproject.toml").write_text('[tool.hotpath]\nstate_dir = "cache/hp"\n')
    assert run_cli.settled_state_dir(None) == str(config.state_home(None).resolved().root)
    (program.parent / "pyproject.toml").write_text('[tool.hotpath]\nno_such_key = 1\n')
    assert run_cli.settled_state_dir(None) is None  # the parser's path reports the bad table


@pytest.mark.parametrize(("argv", "request_"), [
    (["run", "prog.py", "-v", "--home", "x"], (None, "prog.py", ["-v", "--home", "x"])),
    (["run", "--home", "st", "prog.py"], ("st", "prog.py", [])),
    (["run", "--home=st", "prog.py", "1"], ("st", "prog.py", ["1"])),
    (["-v", "run", "prog.py"], None),  # logged: the parser's path
    (["run", "-v", "prog.py"], None),
    (["run", "-m", "pkg"], None),
    (["run", "--help"], None),
    (["run", "--hom", "st", "prog.py"], None),  # an abbreviation argparse accepts: its path
    (["run", "--home", "-v", "prog.py"], None),
    (["run"], None),
    (["status"], None),
])
def test_only_a_plain_command_line_is_read_without_the_parser(
        argv: list[str], request_: tuple[str | None, str, list[str]] | None) -> None:
    assert run_cli.plain_request(argv) == request_


def test_the_constants_kept_apart_for_start_up_agree_with_their_owners(tmp_path: Path) -> None:
    state = statedir.StateDir(tmp_path)
    assert run_cli.HOME_ENV == statedir.HOME_ENV == config.ENVIRONMENT["state_dir"]
    assert run_cli.DEFAULT_STATE == statedir.DEFAULT_NAME
    assert run_cli.LOG_LEVEL_ENV == bootstrap.LOG_LEVEL_ENV
    assert Path(tmp_path, costcheck.PROFILES) == state.profiles and Path(tmp_path, costcheck.STORE_DB) == state.store_db
    assert costcheck.PROBATION_CALLS == watch.PROBATION_CALLS


def test_the_front_imports_nothing_heavy_before_the_program_starts(program: Path, tmp_path: Path) -> None:
    state = (tmp_path / "state").resolve()
    _settle(program, state, str(state), "0")
    probe = program.parent / "probe.py"
    probe.write_text("import sys\nprint(sorted(sys.modules))\n")
    _settle(probe, state)
    got = _hotpath(program.parent, "run", "--home", str(state), "probe.py")
    assert got.returncode == 0, got.stderr
    loaded = set(eval(got.stdout))
    assert "hotpath.profiles.run_cli" in loaded  # it ran in hotpath's process
    heavy = {"numpy", "argparse", "logging", "dataclasses", "pathlib", "hotpath.config", "hotpath.dispatch",
             "hotpath.cli_helpers", "hotpath.profiles.programs", "importlib.abc", "rich"}
    assert not loaded & heavy
