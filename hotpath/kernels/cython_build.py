"""Building a generated ``.pyx`` into an extension module, once per content.

``cython`` translates the source to C, the system C compiler builds a shared object, and the
result lands beside the ``.pyx`` under the state folder, named by a hash of everything that
decides the binary: the source, the module name, the Python ABI, Cython's version, the compiler
and its flags. A later build of the same source, in any process, finds that file and builds
nothing (``hotpath.kernels.native_build``, shared with the Pythran backend, holds the lock, the
rename into place and the log). Each real build appends one line to
``kernels/cython-builds.jsonl`` (what, how long), which is also how the tests tell a cache hit
from a build.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from hotpath.kernels import native_build
from hotpath.kernels.native_build import BuildError

#: Optimisation without ``-march=native``: a state folder may be shared by machines whose CPUs
#: differ, and the binary's name does not say which CPU it was built for. ``-fwrapv`` makes
#: signed overflow wrap (as NumPy's integers do) instead of being undefined.
CFLAGS = ("-O3", "-fPIC", "-fwrapv", "-fno-strict-aliasing", "-w")
LDFLAGS = ("-shared",)
BUILD_LOG = "cython-builds.jsonl"
#: Cython repeats the offending source around each error; its "file:line:col: message" lines
#: are what a reader needs, so they come first.
_MARKERS = (".pyx:",)


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

    def produce(work: Path, out: Path) -> dict[str, object]:
        started = time.perf_counter()
        src = work / f"{pyx.stem}.pyx"
        src.write_text(source)
        c_file = work / f"{pyx.stem}.c"
        native_build.run([sys.executable, "-m", "cython", "-3", "-o", str(c_file), str(src)], work, "cython",
                         _MARKERS)
        translated = time.perf_counter()
        include = sysconfig.get_paths()["include"]
        native_build.run([*tools.command, *CFLAGS, f"-I{include}", str(c_file), *LDFLAGS, "-o", str(out)], work,
                         f"the C compiler ({tools.command[0]})", _MARKERS)
        return {"module": pyx.stem, "cython_s": round(translated - started, 3),
                "compile_s": round(time.perf_counter() - translated, 3)}

    return native_build.build_once(target, produce, pyx.parent.parent / BUILD_LOG, prefix="hotpath-cython-")


def load(path: Path, module_name: str) -> ModuleType:
    """Import the extension at ``path``; its init function is named after ``module_name``."""
    return native_build.load_extension(path, module_name, "cython")


__all__ = ["BUILD_LOG", "BuildError", "CFLAGS", "Toolchain", "build", "built_path", "cython_version", "load",
           "toolchain"]
