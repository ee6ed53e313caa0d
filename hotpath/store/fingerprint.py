"""What a stored winner is valid for: this machine, these library versions, this source.

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
import sys
from pathlib import Path

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
    from hotpath import __version__

    parts = [platform.machine(), _cpu_description(), sys.version, f"hotpath={__version__}"]
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
