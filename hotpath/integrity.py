"""What a stored winner is valid for, and whether an artifact is still the one verified.

A leaf shared by the store, the persistence glue and the cluster executor, so that the runner
and the store never import each other.


A winner compiled and verified under one environment is reused only under the same one: CPU
model and feature flags (a build for AVX-512 crashes without it), Python, NumPy, Numba and
hotpath versions. The function's key covers its source, its helpers' sources and the values of
the globals it reads, so editing any of them invalidates the entry.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import platform
import stat
import sys
from pathlib import Path

from hotpath.version import VERSION

_LIBRARIES = ("numpy", "numba", "llvmlite", "cloudpickle")


def _cpu_description() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "flags", "Features", "CPU implementer", "CPU part") and key not in fields:
            fields[key] = value.strip()
    return "|".join(f"{k}={v}" for k, v in sorted(fields.items()))


@functools.lru_cache(maxsize=1)
def environment() -> str:
    """A short hash of the machine and library versions a compiled winner depends on."""
    parts = [platform.machine(), _cpu_description(), sys.version, f"hotpath={VERSION}"]
    for name in _LIBRARIES:
        try:
            parts.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name}=absent")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def function_key(source_hash: str, namespace: bytes) -> str:
    """The source of the function and its helpers, plus the values of the globals they read."""
    return hashlib.sha256(source_hash.encode() + b"\0" + namespace).hexdigest()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ArtifactRefused(Exception):
    """A stored artifact failed its checks; the message says which."""


def check_artifact(path: Path, sha256: str) -> None:
    """Raise ``ArtifactRefused`` unless ``path`` is readable, private enough and unchanged."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ArtifactRefused(f"{path} is missing or unreadable ({exc.strerror})") from None
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ArtifactRefused(f"{path} is writable by other users (mode {stat.filemode(info.st_mode)})")
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise ArtifactRefused(f"{path} cannot be read ({exc.strerror})") from None
    if actual != sha256:
        raise ArtifactRefused(f"{path} changed since it was verified (sha256 {actual[:12]}..., "
                              f"recorded {sha256[:12]}...)")
