"""Removing what killed processes left in a state folder: trial folders and half-written files.

A tune killed mid-trial (SIGKILL, a full disk, the machine going down) leaves its sandbox's
``tmp/hotpath-trial-PID-*`` folder, and a kernel write cut short leaves ``*.PID[.TID].tmp``
under ``kernels/``. Both names carry the id of the process that made them; the next tune in
the folder removes those whose process is gone and which are older than the current process.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

from hotpath.runner.sandbox import TRIAL_PREFIX
from hotpath.statedir import StateDir

log = logging.getLogger(__name__)

_TRIAL = re.compile(re.escape(TRIAL_PREFIX) + r"(\d+)-")
_PARTIAL = re.compile(r"\.(\d+)(?:\.\d+)?\.tmp$")
#: When hotpath was imported in this process: a leftover of a dead process is older than that.
_STARTED = time.time()
_cleaned: set[Path] = set()
_lock = threading.Lock()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _stale(path: Path, pattern: re.Pattern[str]) -> bool:
    match = pattern.search(path.name) if pattern is _PARTIAL else pattern.match(path.name)
    if match is None:
        return False
    pid = int(match.group(1))
    try:
        older = path.lstat().st_mtime < _STARTED
    except OSError:
        return False  # already gone
    return pid != os.getpid() and older and not _alive(pid)


def clean(state: StateDir) -> int:
    """Remove the stale leftovers in ``state`` (once per folder per process); how many."""
    root = state.root.resolve()
    with _lock:
        if root in _cleaned:
            return 0
        _cleaned.add(root)
    removed = 0
    candidates: list[tuple[Path, re.Pattern[str]]] = []
    if state.tmp.is_dir():
        candidates += [(p, _TRIAL) for p in state.tmp.iterdir()]
    if state.kernels.is_dir():
        candidates += [(p, _PARTIAL) for p in state.kernels.rglob("*.tmp")]
    for path, pattern in candidates:
        if not _stale(path, pattern):
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
        except OSError as exc:
            log.debug("could not remove leftover %s: %s", path, exc)
    if removed:
        log.info("removed %d leftover(s) of killed hotpath processes in %s", removed, state.root)
    return removed
