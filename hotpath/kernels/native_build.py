"""Building a generated module into a native extension once per content, shared by the compiled backends.

A backend that compiles ahead of time (Cython, Pythran) names the binary by a hash of everything
that decides it and asks ``build_once`` for it: when that file exists, in any process, nothing
is built; otherwise the backend's ``produce`` callback builds it in a temporary folder while a
file lock keeps a second process from building the same thing, and the result is renamed into
place (a reader never sees half a binary). Each real build appends one line to the backend's
JSON-lines log under the kernels folder (what, how long), which is also how tests tell a cache
hit from a build.
"""

from __future__ import annotations

import fcntl
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

_lock = threading.Lock()


class BuildError(Exception):
    """The compiler refused the module; the message is the compiler's, trimmed."""


def trim(text: str, markers: tuple[str, ...] = (), limit: int = 1500) -> str:
    """The compiler output a reader needs: lines naming the source or an error first, at most ``limit`` chars."""
    lines = [line for line in text.splitlines() if line.strip()]
    located = [line for line in lines if any(m in line for m in markers)]
    errors = located + [line for line in lines if "error" in line.lower() and line not in located]
    text = "\n".join(dict.fromkeys(errors or lines))  # compilers repeat themselves: each line once
    return text if len(text) <= limit else text[:limit] + " ..."


def run(command: list[str], cwd: Path, what: str, markers: tuple[str, ...] = (), timeout: float = 600) -> None:
    """Run one build step; ``BuildError`` with its trimmed output when it fails."""
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise BuildError(f"{what}: cannot run {command[0]!r}: {exc}") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what}: still running after {timeout:.0f} s") from None
    if done.returncode != 0:
        raise BuildError(f"{what} failed:\n{trim(done.stderr + done.stdout, markers)}")


def build_once(target: Path, produce: Callable[[Path, Path], dict[str, object]], log: Path,
               prefix: str = "hotpath-build-") -> tuple[Path, bool]:
    """``target``, built now by ``produce(work_dir, out)`` unless it exists: (path, True if built now).

    ``produce`` writes the binary to ``out`` (renamed onto ``target`` afterwards) and returns the
    timings it wants logged; ``log`` is the JSON-lines file one entry per real build goes to.
    """
    if target.exists():
        return target, False
    with _lock, open(target.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same binary
        if target.exists():
            return target, False
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=prefix) as folder:
            # Linked beside the target and renamed: the rename stays on one file system.
            out = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            try:
                timings = produce(Path(folder), out)
                os.replace(out, target)
            finally:
                out.unlink(missing_ok=True)
        entry = {"binary": target.name, **timings, "total_s": round(time.perf_counter() - started, 3),
                 "pid": os.getpid(), "at": time.time()}
        try:
            with open(log, "a") as handle:
                handle.write(json.dumps(entry) + "\n")
        except OSError:
            pass  # the log is informative; a build that worked is not undone by it
        return target, True


def load_extension(path: Path, module_name: str, family: str) -> ModuleType:
    """Import the extension at ``path``; its init function is named after ``module_name``."""
    qualified = f"hotpath_generated.{family}.{module_name}"
    cached = sys.modules.get(qualified)
    if cached is not None:
        return cached
    loader = importlib.machinery.ExtensionFileLoader(qualified, str(path))
    spec = importlib.util.spec_from_file_location(qualified, path, loader=loader)
    if spec is None:
        raise ImportError(f"cannot load built module {path}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules[qualified] = module
    return module


__all__ = ["BuildError", "build_once", "load_extension", "run", "trim"]
