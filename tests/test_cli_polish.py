"""The command line's small promises: ``-v`` after the subcommand, a description for every
subcommand's ``--help``, help text printed as written. Through the real ``hotpath`` command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hotpath.cli import main

HOTPATH = [sys.executable, "-m", "hotpath.cli"]


def help_of(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*words, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def subcommands(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The commands ``hotpath --help`` lists, one per indented line under COMMAND."""
    text = help_of(capsys)
    listing = text.split("COMMAND", 2)[2]
    return re.findall(r"^    ([a-z][\w-]*)\s", listing, re.MULTILINE)


def test_every_subcommand_describes_itself(capsys: pytest.CaptureFixture[str]) -> None:
    commands = subcommands(capsys)
    assert {"status", "report", "explain", "model", "optimize", "run", "clean"} <= set(commands)
    for words in [[name] for name in commands] + [["model", "train"]]:
        text = help_of(capsys, *words)
        paragraphs = text.split("\n\n")
        # usage, then the description, then the argument sections
        assert not paragraphs[1].startswith(("options:", "positional arguments:")), (words, text)
        assert "-v, --verbose" in text, words


def test_report_help_shows_a_percent_sign_once(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys, "report")
    assert "95% interval" in " ".join(text.split())
    assert "%%" not in text


@pytest.fixture
def script(tmp_path: Path) -> Path:
    """A program that prints its arguments and the log level ``hotpath run`` handed it."""
    path = tmp_path / "echo_args.py"
    path.write_text("import os, sys\nprint(sys.argv[1:], os.environ.get('HOTPATH_LOG_LEVEL'))\n")
    return path


def run(script: Path, *words: str) -> str:
    got = subprocess.run([*HOTPATH, *words], cwd=script.parent, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOTPATH_HOME": str(script.parent / "state")})
    assert got.returncode == 0, got.stderr
    return got.stdout


def test_verbose_after_the_subcommand_counts_like_before(script: Path) -> None:
    assert run(script, "run", script.name) == "[] WARNING\n"
    assert run(script, "-v", "run", script.name) == run(script, "run", "-v", script.name) == "[] INFO\n"
    assert run(script, "-v", "run", "-v", script.name) == "[] DEBUG\n"


def test_verbose_after_the_script_belongs_to_the_script(script: Path) -> None:
    assert run(script, "run", script.name, "-v") == "['-v'] WARNING\n"
