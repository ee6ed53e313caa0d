"""The type check runs as a test, so CI's one `pytest` command runs it (configured in
pyproject.toml's [tool.mypy]: `hotpath/`, Python 3.10, unused ignores reported)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mypy import api

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_hotpath_type_checks(tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = tmp_path_factory.getbasetemp() / "mypy_cache"  # shared by the session, not the checkout
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                      "--cache-dir", str(cache), str(ROOT / "hotpath")])
    assert status == 0, f"mypy found type errors:\n{stdout}{stderr}"
