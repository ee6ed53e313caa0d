"""The state folder and every path inside it, spelled in this one place.

``.hotpath/`` beside the user's project (or ``$HOTPATH_HOME``, or ``Config.state_dir``) holds::

    store.db                 SQLite store: tuning runs (each the one record of its run: its trials
                             whole, its wall time), installs, barred variants, the audit log
    audit-anchor             the audit chain's head and entry count, one line per entry (append-only)
    kernels/                 generated variant sources and the modules built from them
    captures/                arguments captured by `hotpath optimize` (pickles)
    profiles/                Scalene profiles, plans, program runs (an older hotpath's
                             tuning-runs.jsonl there is no longer read: run times are in the store)
    model/history.jsonl      the cost model's training set from this folder's tuning runs: features,
                             ranking, and per candidate the labels it learns (outcome, speedup, cost)
    watch/                   what the watch measured, one file per process (`hotpath status`)
    tmp/                     the sandbox's per-trial folders (hotpath-trial-PID-*), removed once
                             the process that made them is gone
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: The environment variable that names the state folder.
HOME_ENV = "HOTPATH_HOME"
#: The state folder's name when neither a setting nor the environment names one.
DEFAULT_NAME = ".hotpath"


@dataclass(frozen=True)
class StateDir:
    """A state folder: ``root`` and the paths of what lives in it (nothing is created here)."""

    root: Path

    @classmethod
    def locate(cls, explicit: str | os.PathLike[str] | None = None) -> StateDir:
        """``explicit`` if given, else ``$HOTPATH_HOME``, else ``./.hotpath`` (as given, not resolved)."""
        if explicit is not None:
            return cls(Path(explicit))
        home = os.environ.get(HOME_ENV)
        return cls(Path(home) if home else Path.cwd() / DEFAULT_NAME)

    def resolved(self) -> StateDir:
        """The same folder as an absolute path with links resolved."""
        return StateDir(self.root.resolve())

    @property
    def store_db(self) -> Path:
        return self.root / "store.db"

    @property
    def audit_anchor(self) -> Path:
        """The audit chain's anchor outside the database: a cut or rebuilt chain disagrees with it."""
        return self.root / "audit-anchor"

    @property
    def kernels(self) -> Path:
        return self.root / "kernels"

    @property
    def captures(self) -> Path:
        return self.root / "captures"

    @property
    def profiles(self) -> Path:
        return self.root / "profiles"

    @property
    def model_history(self) -> Path:
        return self.root / "model" / "history.jsonl"

    @property
    def watch(self) -> Path:
        return self.root / "watch"

    @property
    def tmp(self) -> Path:
        """Scratch folders of running trials; a killed process's are removed by the next tune."""
        return self.root / "tmp"
