"""The machine a report is written on: CPU, Python, the libraries variants are built with.

The store keeps only a hash of the environment each trial ran in (``integrity.environment``),
so the report describes this machine and says whether each recorded hash is this machine's.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from hotpath.integrity import environment
from hotpath.version import VERSION

#: The libraries whose versions decide what a variant is built with and how it behaves.
LIBRARIES = ("numpy", "numba", "llvmlite", "cython", "pythran", "scipy", "cupy", "torch")


@dataclass(frozen=True)
class Environment:
    """This machine, and the environments the store's trials were recorded in."""

    cpu: str
    cores: int | None
    machine: str
    system: str
    python: str
    hotpath: str
    libraries: tuple[tuple[str, str], ...]  # (name, version or "absent")
    hash: str  # this machine's environment hash, as the store writes it
    recorded: tuple[tuple[str, bool], ...]  # each hash in the store, and whether it is this machine's


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def describe(recorded: Iterable[str] = ()) -> Environment:
    """This machine; ``recorded``: the environment hashes found in the store."""
    here = environment()
    return Environment(_cpu(), os.cpu_count(), platform.machine(), f"{platform.system()} {platform.release()}",
                       sys.version.split()[0], VERSION, tuple((name, _version(name)) for name in LIBRARIES),
                       here, tuple((h, h == here) for h in sorted(set(recorded))))
