"""Where a project's settings live: the nearest ``pyproject.toml``.

A leaf with ``os.path`` alone, because ``hotpath run`` looks for it before deciding whether to
hand the script over to Python, and importing :mod:`hotpath.config` there would cost the
program's start about 20 ms.
"""

from __future__ import annotations

import os

#: The file whose ``[tool.hotpath]`` table holds a project's settings.
PROJECT_FILE = "pyproject.toml"


def find(start: str | os.PathLike[str] | None = None) -> str | None:
    """The nearest ``pyproject.toml`` in ``start`` (default: the current folder) or above it, not
    above a repository's root (a folder holding ``.git`` or ``.hg``); ``None`` when there is none
    or the current folder was removed."""
    try:
        folder = os.path.abspath(start if start is not None else os.getcwd())
    except OSError:
        return None
    while True:  # os.path, not pathlib: a Config looks this up each time it is built
        candidate = os.path.join(folder, PROJECT_FILE)
        if os.path.isfile(candidate):
            return candidate
        if os.path.exists(os.path.join(folder, ".git")) or os.path.exists(os.path.join(folder, ".hg")):
            return None
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
