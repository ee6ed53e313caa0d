"""``hotpath clean``: through the real command, on a state folder a real tune wrote."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.cli import main


def sum_of_squares(x):
    total = 0.0
    for value in x:
        total += value * value
    return total


@pytest.fixture(scope="module")
def tuned_state(tmp_path_factory: pytest.TempPathFactory, fast: hotpath.Config) -> Path:
    """A state folder holding what one real tuning run leaves: the store, kernels, the model's history."""
    state = tmp_path_factory.mktemp("clean") / "state"
    result = hotpath.tune(sum_of_squares, np.linspace(0.0, 1.0, 2000), config=fast.replace(state_dir=state))
    assert result.winner is not None, result.reason
    return state


@pytest.fixture
def state(tuned_state: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "state"
    shutil.copytree(tuned_state, copy, symlinks=True)
    return copy


def clean(state: Path, *options: str) -> int:
    return main(["clean", "--home", str(state), *options])


def test_dry_run_lists_and_removes_nothing(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.name for p in state.iterdir())
    assert {"store.db", "kernels", "audit-anchor"} <= set(before)
    assert clean(state, "--dry-run") == 0
    out = capsys.readouterr().out
    assert f"would remove from {state}" in out
    for name in ("store.db", "kernels", "audit-anchor"):
        assert f"  {name} " in out
    assert sorted(p.name for p in state.iterdir()) == before


def test_without_yes_or_a_terminal_nothing_is_removed(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.name for p in state.iterdir())
    assert clean(state) == 1  # pytest's standard input is not a terminal
    assert "pass --yes" in capsys.readouterr().err
    assert sorted(p.name for p in state.iterdir()) == before


def test_yes_empties_the_folder(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert clean(state, "--yes") == 0
    assert list(state.iterdir()) == []
    assert clean(state, "--yes") == 0
    assert "nothing to remove" in capsys.readouterr().out
    assert main(["status", "--home", str(state)]) == 0
    assert "nothing installed" in capsys.readouterr().out


def test_keep_store_keeps_what_its_winners_load(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (state / "captures").mkdir()
    (state / "captures" / "call.pkl").write_bytes(b"x" * 100)
    assert clean(state, "--keep-store", "--yes") == 0
    left = {p.name for p in state.iterdir()}
    assert "captures" not in left and "tmp" not in left
    assert {"store.db", "audit-anchor", "kernels", "model"} <= left
    capsys.readouterr()
    assert main(["status", "--home", str(state)]) == 0
    status = capsys.readouterr().out
    assert "sum_of_squares" in status and "missing" not in status  # the stored winner still loads


def test_a_folder_holding_anything_else_is_refused_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    (project / "kernels").mkdir(parents=True)  # a user's own folder of that name
    (project / "kernels" / "fft.cu").write_text("// mine")
    (project / "analysis.py").write_text("print(1)\n")
    assert clean(project, "--yes") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "analysis.py" in err and "does not look like a hotpath state folder" in err
    assert (project / "kernels" / "fft.cu").exists()
    (project / "analysis.py").unlink()
    (project / "store.db").write_text("not a database")  # a file of a name hotpath uses, not hotpath's
    assert clean(project, "--yes") == 1
    assert "store.db" in capsys.readouterr().err and (project / "kernels" / "fft.cu").exists()


def test_a_link_loses_only_itself(state: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    shutil.rmtree(state / "kernels")
    (state / "kernels").symlink_to(outside, target_is_directory=True)
    (state / "model" / "outside-link").symlink_to(outside / "precious.txt")
    assert clean(state, "--yes") == 0
    assert list(state.iterdir()) == []
    assert (outside / "precious.txt").read_text() == "keep me"


def test_a_folder_in_use_is_refused(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the sandbox's trial folder of a live process (pytest's parent stands in for a tuning one)
    (state / "tmp" / f"hotpath-trial-{os.getppid()}-abc").mkdir(parents=True)
    assert clean(state, "--yes") == 1
    assert f"process {os.getppid()} is tuning" in capsys.readouterr().err
    assert (state / "store.db").exists()


def test_a_missing_folder_has_nothing_to_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert clean(tmp_path / "none", "--yes") == 0
    assert "nothing to remove" in capsys.readouterr().out
    assert not (tmp_path / "none").exists()
