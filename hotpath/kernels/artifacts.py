"""Generated modules on disk: content-addressed files under the state folder, and loading them.

A generated variant is a real ``.py`` file so a user can read exactly what ran, and so that
compilers with on-disk caches (Numba's ``cache=True``) reuse the build made in the sandbox when
the winner is loaded into the user's process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import re
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import cloudpickle

_load_lock = threading.Lock()


def pickle_namespace(values: dict[str, Any]) -> bytes:
    """Values a generated module needs but cannot import; raises if one cannot be pickled."""
    return cloudpickle.dumps(values)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "fn"


def write_module(kernels_dir: Path, owner: str, variant: str, source: str, namespace: bytes,
                 suffix: str = ".py") -> Path:
    """Write ``source`` once, at a path derived from its content and its namespace.

    ``suffix`` is the file's extension: ``.py`` for Python modules, ``.pyx`` for Cython's.
    """
    digest = hashlib.sha256(source.encode() + b"\0" + namespace).hexdigest()[:16]
    folder = kernels_dir / _slug(owner)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_slug(variant)}_{digest}{suffix}"
    if not path.exists() or path.read_text() != source:
        # Written beside and renamed, so a concurrent reader never sees half a file.
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    return path


def load_module(path: Path, namespace: bytes) -> ModuleType:
    """Import the generated module at ``path`` with its injected values bound first."""
    name = f"hotpath_generated.{path.parent.name}.{path.stem}"
    with _load_lock:
        cached = sys.modules.get(name)
        if cached is not None:
            return cached
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load generated module {path}")
        module = importlib.util.module_from_spec(spec)
        module.__dict__.update(pickle.loads(namespace))
        spec.loader.exec_module(module)
        sys.modules[name] = module
        return module
