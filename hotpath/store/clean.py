"""What ``hotpath clean`` removes from a state folder, and the checks that it is one.

A state folder holds only what hotpath writes there (the list in ``hotpath.statedir``). A folder
holding anything else is refused whole: an entry hotpath never writes means the folder named is
not a state folder (``--home`` pointing at a project, ``$HOTPATH_HOME`` set wrong), and nothing
in it is removed. So is a folder where a tune or a watched program is running. Removal never
follows a link: a linked entry loses its link, never the target.

Keeping the store (``keep_store``) keeps what its records point at: the kernels its winners load
and the cost model's history. A store whose kernels are gone is not wrong but dead weight: each
new process refuses every stored winner once ("kernel file missing", an audit ``refusal`` line)
and runs the original until the function is tuned again.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from hotpath.errors import HotpathError
from hotpath.runner.sandbox import TRIAL_PREFIX
from hotpath.statedir import StateDir

#: Files at the top of a state folder, by name prefix (SQLite's ``-wal``/``-shm``/``-journal``
#: sidecars, an anchor set aside as ``audit-anchor.replaced-*``), with what they hold.
STORE_FILES = {"store.db": "the store: trials, installs, barred variants, the audit log",
               "audit-anchor": "the audit log's anchor"}
#: Folders kept with the store: its winners load their kernels; the model learned from its trials.
KEPT_WITH_STORE = {"kernels": "generated variant sources and the modules built from them",
                   "model": "the cost model's training history from this folder's tuning runs"}
#: Folders nothing else points at.
SCRATCH = {"captures": "arguments captured by `hotpath optimize`",
           "profiles": "Scalene profiles, plans, program runs, tuning-run history",
           "watch": "what the watch measured, one file per process",
           "tmp": "the sandbox's per-trial folders"}
#: A watch file newer than this, of a live process, means that process is still running.
WATCH_FRESH_S = 300.0
_SQLITE_HEADER = b"SQLite format 3\x00"
_WATCH_FILE = re.compile(r"(\d+)\.json$")
_TRIAL = re.compile(re.escape(TRIAL_PREFIX) + r"(\d+)-")


class CleanRefused(HotpathError):
    """The folder is not a state folder, or is in use; the message says which and why, in one line."""


@dataclass(frozen=True)
class Entry:
    """One entry at the top of the state folder: its path, its size on disk, what it holds."""

    path: Path
    size: int
    holds: str


@dataclass(frozen=True)
class Plan:
    """What cleaning ``root`` removes and what it keeps; nothing is removed until ``remove``."""

    root: Path
    remove: tuple[Entry, ...]
    keep: tuple[Entry, ...]

    @property
    def size(self) -> int:
        """Bytes the removal frees."""
        return sum(entry.size for entry in self.remove)


def plan(state: StateDir, keep_store: bool = False) -> Plan:
    """What ``hotpath clean`` would remove from ``state`` (everything, or with ``keep_store``
    all but the store, its kernels and the model's history); ``CleanRefused`` when the folder
    is not a state folder or a hotpath process is using it."""
    root = state.root
    if root.is_symlink() or not root.is_dir():
        if root.exists() or root.is_symlink():
            raise CleanRefused(f"{root} is not a folder (or is a link): not a hotpath state folder")
        return Plan(root, (), ())
    entries = [_entry(path) for path in sorted(root.iterdir())]
    foreign = [entry.path.name for entry in entries if not entry.holds]
    if foreign:
        raise CleanRefused(
            f"{root} holds {', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}, which hotpath never "
            "writes: it does not look like a hotpath state folder, so nothing was removed (check --home or "
            "$HOTPATH_HOME)")
    _check_in_use(state)
    kept_names = (*STORE_FILES, *KEPT_WITH_STORE) if keep_store else ()
    keep = tuple(e for e in entries if any(e.path.name.startswith(name) for name in kept_names))
    return Plan(root, tuple(e for e in entries if e not in keep), keep)


def remove(cleaning: Plan) -> None:
    """Remove ``cleaning.remove``: a linked entry loses its link, a folder its whole tree (links
    inside it are removed, never followed)."""
    for entry in cleaning.remove:
        if entry.path.is_dir() and not entry.path.is_symlink():
            shutil.rmtree(entry.path)
        else:
            entry.path.unlink(missing_ok=True)


def _entry(path: Path) -> Entry:
    name = path.name
    if path.is_symlink():
        holds = _holds(name, directory=None)
        return Entry(path, 0, f"a link ({holds}); only the link is removed" if holds else "")
    holds = _holds(name, directory=path.is_dir())
    if holds and name == "store.db" and not _is_sqlite(path):
        holds = ""  # a file of that name hotpath did not write
    return Entry(path, _size(path), holds)


def _holds(name: str, directory: bool | None) -> str:
    """What an entry named ``name`` holds, or "" when hotpath never writes such an entry (a file
    where a folder belongs counts as foreign, and so on); ``directory=None`` for a link."""
    if directory is not False:
        if name in KEPT_WITH_STORE or name in SCRATCH:
            return {**KEPT_WITH_STORE, **SCRATCH}[name]
    if directory is not True:
        for prefix, holds in STORE_FILES.items():
            if name == prefix or name.startswith(prefix + "-") or name.startswith(prefix + "."):
                return holds
    return ""


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except OSError:
        return False
    return header in (_SQLITE_HEADER, b"")  # an empty file is a store that was never written


def _size(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        try:
            return path.lstat().st_size
        except OSError:
            return 0
    total = 0
    for folder, _, files in os.walk(path):  # os.walk does not follow links into folders
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def _check_in_use(state: StateDir) -> None:
    """``CleanRefused`` when another live process is tuning here (its trial folder) or running
    watched variants from here (a watch file it wrote in the last few minutes)."""
    users: list[str] = []
    if state.tmp.is_dir():
        for path in state.tmp.iterdir():
            match = _TRIAL.match(path.name)
            if match and _alive(int(match.group(1))):
                users.append(f"process {match.group(1)} is tuning")
    if state.watch.is_dir():
        now = time.time()
        for path in state.watch.iterdir():
            match = _WATCH_FILE.fullmatch(path.name)
            try:
                fresh = now - path.lstat().st_mtime < WATCH_FRESH_S
            except OSError:
                continue
            if match and fresh and _alive(int(match.group(1))):
                users.append(f"process {match.group(1)} runs installed variants")
    if users:
        raise CleanRefused(f"{state.root} is in use ({'; '.join(sorted(set(users)))}): stop it first, "
                           "then clean")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process: cleaning its own folder is its own business
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except OverflowError:
        return False
    return True
