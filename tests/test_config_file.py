"""``[tool.hotpath]`` in a project's pyproject.toml: real files in tmp_path, read by ``Config``,
the decorator and the ``hotpath`` command, below arguments and ``HOTPATH_*`` variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import hotpath
from hotpath.cli import main
from hotpath.config import DEFAULT_BACKENDS, Config


def smooth(x):
    total = 0.0
    for value in x:
        total += value
    return total


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (a repository: it has ``.git``) with the current folder two levels inside it."""
    (tmp_path / ".git").mkdir()
    inside = tmp_path / "src" / "pkg"
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    monkeypatch.delenv("HOTPATH_HOME", raising=False)
    monkeypatch.delenv("HOTPATH_LLM_URL", raising=False)
    return tmp_path


def write(project: Path, table: str) -> Path:
    path = project / "pyproject.toml"
    path.write_text('[project]\nname = "science"\n\n[tool.hotpath]\n' + table)
    return path


def test_the_table_supplies_defaults_below_arguments(project: Path) -> None:
    write(project, 'backends = ["numba"]\nrtol = 1e-6\ntiming_budget_s = 1\nhot_calls = 10\n'
                   'memory_limit_mb = "none"\nedge_cases = true\nproposers = "mine.module:PROPOSER"\n'
                   '\n[tool.hotpath.gate]\nmin_effect = 0.05\n')  # the gate's policy, not a Config field
    config = Config()
    assert config.backends == ("numba",)
    assert config.rtol == 1e-6 and config.allows_fastmath
    assert config.timing_budget_s == 1.0 and isinstance(config.timing_budget_s, float)
    assert config.hot_calls == 10 and config.memory_limit_mb is None
    assert config.proposers == ("mine.module:PROPOSER",)
    assert config.atol == 0.0  # not in the table: the default
    explicit = Config(rtol=1e-3, backends=("cython",))
    assert explicit.rtol == 1e-3 and explicit.backends == ("cython",) and explicit.hot_calls == 10
    assert hotpath.optimize(smooth).config.hot_calls == 10
    assert hotpath.optimize(hot_calls=3)(smooth).config.hot_calls == 3


def test_without_a_table_or_file_the_defaults_stand(project: Path) -> None:
    assert Config().backends == DEFAULT_BACKENDS
    (project / "pyproject.toml").write_text('[project]\nname = "science"\n')
    assert Config() == Config(backends=DEFAULT_BACKENDS, hot_calls=50)


def test_an_edited_file_is_read_again(project: Path) -> None:
    path = write(project, "hot_calls = 10\n")
    assert Config().hot_calls == 10
    path.write_text(path.read_text().replace("10", "2000"))
    assert Config().hot_calls == 2000


def test_the_search_stops_at_the_repository_root(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, "hot_calls = 10\n")
    nested = project / "vendored"
    (nested / ".git").mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert Config().hot_calls == 50  # another repository's settings are not this one's


def test_environment_outranks_the_table(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, 'state_dir = "build/hotpath-state"\nllm_url = "http://file:1"\n')
    assert Config().state.root == project / "build" / "hotpath-state"  # relative to the file, not the cwd
    assert Config().llm_url == "http://file:1"
    monkeypatch.setenv("HOTPATH_HOME", str(project / "from-env"))
    monkeypatch.setenv("HOTPATH_LLM_URL", "http://env:2")
    assert Config().state.root == project / "from-env"
    assert Config().llm_url is None  # the proposer reads $HOTPATH_LLM_URL itself
    assert Config(state_dir=project / "explicit").state.root == project / "explicit"


@pytest.mark.parametrize(("table", "words"), [
    ("rtoll = 1e-6\n", ["rtoll", "did you mean 'rtol'"]),
    ("hot_calls = 0\n", ["hot_calls", "must be >= 1"]),
    ('hot_calls = "many"\n', ["hot_calls = 'many'", "expected an integer"]),
    ("background = 1\n", ["background", "expected true or false"]),
    ('backends = ["numba", "fortran"]\n', ["backends", "unknown backend 'fortran'"]),
    ('budget_s = "forever"\n', ["budget_s", "expected a number or 'none'"]),
    ("verify_rate = 2.0\n", ["verify_rate", "[0, 1]"]),
])
def test_a_bad_key_is_one_error_naming_file_and_key(project: Path, table: str, words: list[str]) -> None:
    path = write(project, table)
    with pytest.raises(hotpath.ConfigError) as error:
        Config()
    message = str(error.value)
    assert message.startswith(f"{path}: [tool.hotpath] ")
    for word in words:
        assert word in message
    assert "\n" not in message


def test_a_file_that_is_not_toml_is_named(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.hotpath\nrtol = \n")
    with pytest.raises(hotpath.ConfigError, match="pyproject.toml: cannot read it as TOML"):
        Config()


def test_the_command_uses_the_table_and_reports_it_in_one_line(project: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    write(project, 'state_dir = ".state"\n')
    assert main(["status"]) == 0
    assert f"nothing installed in {project / '.state'}" in " ".join(capsys.readouterr().out.split())
    write(project, "hot_calls = -1\n")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[tool.hotpath] hot_calls" in err and str(project) in err
    assert not os.path.exists(project / ".hotpath")


def test_optimize_takes_backends_and_timing_budget_from_the_project_file(tmp_path, monkeypatch):
    from hotpath.cli import build_parser
    from hotpath.profiles import cli as profiles_cli

    (tmp_path / "pyproject.toml").write_text('[tool.hotpath]\nbackends = ["numba", "cython"]\ntiming_budget_s = 0.5\n')
    monkeypatch.chdir(tmp_path)
    parse = build_parser().parse_args
    given = parse(["optimize", "--backends", "numba", "--timing-budget", "1", "prog.py"])
    assert profiles_cli.backends_of(given) == ("numba",) and profiles_cli.timing_budget_of(given) == 1.0
    default = parse(["optimize", "prog.py"])
    assert profiles_cli.backends_of(default) == ("numba", "cython") and profiles_cli.timing_budget_of(default) == 0.5
