"""The program commands (`hotpath profile / optimize / run`) on small real programs, in subprocesses:
the program's own arguments, module entry points (`-m`), standard input, exit statuses and
the one-line errors. Tuning is kept out where it is not the point (functions never called)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HOTPATH = [sys.executable, "-m", "hotpath.cli"]
needs_scalene = pytest.mark.skipif(importlib.util.find_spec("scalene") is None,
                                   reason="Scalene is not installed (pip install 'hotpath[profile]')")

# Prints what it was given; `unused` is there for `--functions`: never called, so nothing is tuned.
ECHO = """
import sys

def unused(n):
    return n + 1

def spin(n):
    total = 0
    for i in range(n):
        total += i % 7
    return total

spin(3_000_000)
print("argv", sys.argv[1:])
"""


def hotpath(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, HOTPATH_HOME=str(cwd / "state"), COLUMNS="200", **(env or {}))
    environment.pop("PYTHONPATH", None)
    return subprocess.run([*HOTPATH, *args], capture_output=True, text=True, cwd=cwd, env=environment,
                          input=stdin if stdin is not None else "", timeout=timeout)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.slow
@needs_scalene
def test_profile_passes_the_script_its_own_options(tmp_path: Path) -> None:
    write(tmp_path, "echo.py", ECHO)
    for extra in ([], ["--"]):
        got = hotpath("profile", "echo.py", *extra, "--n", "200", "--no", cwd=tmp_path)
        assert got.returncode == 0, got.stderr
        assert "argv ['--n', '200', '--no']" in got.stdout
        assert "ambiguous option" not in got.stderr


def test_optimize_passes_the_script_its_own_options(tmp_path: Path) -> None:
    write(tmp_path, "echo.py", ECHO)
    got = hotpath("optimize", "--functions", "unused", "echo.py", "--", "--n", "200", "--no", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert got.stdout.count("argv ['--n', '200', '--no']") == 1
    assert "never called" in got.stdout
