"""Building a generated ``.pyx`` into an extension module, once per content.

``cython`` translates the source to C, the system C compiler builds a shared object, and the
result lands beside the ``.pyx`` under the state folder, named by a hash of everything that
decides the binary: the source, the module name, the Python ABI, Cython's version, the compiler
and its flags. A later build of the same source, in any process, finds that file and builds
nothing; a file lock keeps two processes from building the same thing at once. Each real build
appends one line to ``kernels/cython-builds.jsonl`` (what, how long), which is also how the tests
tell a cache hit from a build.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

#: Optimisation without ``-march=native``: a state folder may be shared by machines whose CPUs
#: differ, and the binary's name does not say which CPU it was built for. ``-fwrapv`` makes
#: signed overflow wrap (as NumPy's integers do) instead of being undefined.
CFLAGS = ("-O3", "-fPIC", "-fwrapv", "-fno-strict-aliasing", "-w")
LDFLAGS = ("-shared",)
BUILD_LOG = "cython-builds.jsonl"
_lock = threading.Lock()


class BuildError(Exception):
    """Cython or the C compiler refused the module; the message is theirs, trimmed."""


@dataclass(frozen=True)
class Toolchain:
    """The C compiler command (``$CC``, else Python's own ``CC``) and where it was found."""

    command: tuple[str, ...]
    path: str | None

    @property
    def missing(self) -> str | None:
        if self.path is None:
            return (f"no C compiler: {self.command[0]!r} was not found on PATH (install gcc or clang, or "
                    "point $CC at one)")
        return None


def toolchain() -> Toolchain:
    command = tuple(shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")) or ("cc",)
    return Toolchain(command, shutil.which(command[0]))


def cython_version() -> str | None:
    try:
        import Cython
    except ImportError:
        return None
    return str(Cython.__version__)


def _build_key(source: str, module: str, tools: Toolchain) -> str:
    parts = [source, module, sys.implementation.cache_tag, sysconfig.get_config_var("EXT_SUFFIX") or "",
             cython_version() or "", " ".join(tools.command), " ".join(CFLAGS + LDFLAGS)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def built_path(pyx: Path, source: str) -> Path:
    """Where the binary for ``pyx`` with ``source`` lives (it may not exist yet)."""
    key = _build_key(source, pyx.stem, toolchain())
    return pyx.with_name(f"{pyx.stem}.{key}{sysconfig.get_config_var('EXT_SUFFIX') or '.so'}")


def _trim(text: str, limit: int = 1500) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    # Cython repeats the offending source around each error; the "file:line:col: message"
    # lines are what a reader needs, so they come first.
    errors = [line for line in lines if ".pyx:" in line or "error" in line.lower()]
    text = "\n".join(errors or lines)
    return text if len(text) <= limit else text[:limit] + " ..."


def _run(command: list[str], cwd: Path, what: str) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError as exc:
        raise BuildError(f"{what}: cannot run {command[0]!r}: {exc}") from None
    if done.returncode != 0:
        raise BuildError(f"{what} failed:\n{_trim(done.stderr + done.stdout)}")


def build(pyx: Path, source: str) -> tuple[Path, bool]:
    """The built module for ``pyx``: (path, True if it was built now, False if it was cached)."""
    target = built_path(pyx, source)
    if target.exists():
        return target, False
    tools = toolchain()
    if tools.missing:
        raise BuildError(tools.missing)
    if cython_version() is None:
        raise BuildError("Cython is not installed (pip install cython)")
    with _lock, open(target.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same binary
        if target.exists():
            return target, False
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="hotpath-cython-") as folder:
            work = Path(folder)
            src = work / f"{pyx.stem}.pyx"
            src.write_text(source)
            c_file = work / f"{pyx.stem}.c"
            _run([sys.executable, "-m", "cython", "-3", "-o", str(c_file), str(src)], work, "cython")
            translated = time.perf_counter()
            # Linked beside the target and renamed: a reader never sees half a binary, and the
            # rename stays on one file system.
            out = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            include = sysconfig.get_paths()["include"]
            _run([*tools.command, *CFLAGS, f"-I{include}", str(c_file), *LDFLAGS, "-o", str(out)], work,
                 f"the C compiler ({tools.command[0]})")
            os.replace(out, target)
        finished = time.perf_counter()
        _log(pyx.parent.parent, {"module": pyx.stem, "binary": target.name, "cython_s": round(translated - started, 3),
                                 "compile_s": round(finished - translated, 3), "pid": os.getpid(),
                                 "at": time.time()})
        return target, True


def _log(kernels_dir: Path, entry: dict[str, object]) -> None:
    try:
        with open(kernels_dir / BUILD_LOG, "a") as handle:
            handle.write(json.dumps(entry) + "\n")
    except OSError:
        pass  # the log is informative; a build that worked is not undone by it


def load(path: Path, module_name: str) -> ModuleType:
    """Import the extension at ``path``; its init function is named after ``module_name``."""
    qualified = f"hotpath_generated.cython.{module_name}"
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
