"""Pythran variants: the function, its helpers and a ``#pythran export`` line typed from the signature.

Pythran compiles NumPy expressions with its own expression templates (fused, no temporaries)
and, with ``-DUSE_XSIMD``, vectorizes transcendental functions too, so it is a candidate for the
vectorized style as much as for loops. Two candidates:

* ``pythran``: the function as written, ``-O3 -march=native -DUSE_XSIMD``;
* ``pythran-openmp``: the same with ``#omp parallel for`` (and the ``reduction`` clauses its
  scalar reductions need) on each loop ``hotpath.rewriter.parallel`` proves free of
  loop-carried dependencies, built with ``-fopenmp``. Proposed only where such a loop exists;
  verified against the serial original like every candidate.

The export line pins each argument's dtype, rank and layout (``float64[:,:] order(C)``,
``order(F)`` in 2-d, strided ``float64[::]`` in 1-d); a signature Pythran cannot express or
refuses at call time (read-only arrays, strided arrays of more dimensions, objects of other
types) is a skipped candidate with its reason. Globals the function reads by value become module constants when they are plain numbers
or strings; NumPy and ``math`` functions bound by value are imported.

Building happens in ``load``, in the sandboxed worker, and is cached by content under the state
folder's ``kernels/`` (``hotpath.kernels.native_build``), keyed by the source, Pythran's
version, the compiler, the flags and this CPU (``-march=native``); a compile error is a failed
candidate carrying Pythran's or the compiler's message. A build takes 10-80 s on two cores:
``hotpath.runner.ahead`` starts it in the background as soon as the candidate is proposed, so
it runs while the Numba trials do, within the tuning budget. Pythran is one of the
``DEFAULT_BACKENDS`` for array-style code; with Numba among the backends it leaves element
loops to Numba (a ``Skipped`` that says so), which builds them in seconds.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import importlib.util
import math
import os
import platform
import shlex
import shutil
import sys
import sysconfig
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hotpath.errors import NotRewritable
from hotpath.kernels import array_style, native_build, pythran_pairwise
from hotpath.kernels.artifacts import pickle_namespace, write_module
from hotpath.kernels.base import Availability, Candidate, Failure, Skipped
from hotpath.config import FASTMATH_MIN_RTOL
from hotpath.rewriter import parallel
from hotpath.rewriter.reduction_order import integer_names, skip_reason
from hotpath.rewriter.source import import_lines, module_imports
from hotpath.syntax import names_in

if TYPE_CHECKING:
    from hotpath.config import Config
    from hotpath.rewriter.source import FunctionSource
    from hotpath.signature import ArgSpec, Signature

#: The backend that compiles element loops in seconds: where it is tried too, Pythran is proposed
#: only for array-style code, where its fused expressions and SIMD math can beat it.
LOOP_COMPILER = "numba"
#: Every binary is built for this machine's CPU: xsimd's vectorized exp/log need its widest SIMD.
FLAGS = ("-O3", "-march=native", "-DUSE_XSIMD")
OPENMP_FLAGS = ("-fopenmp",)
BUILD_LOG = "pythran-builds.jsonl"
#: Pythran's names for NumPy dtypes it can take at the boundary.
_DTYPES = frozenset({"float64", "float32", "complex128", "complex64", "bool", "int8", "int16", "int32", "int64",
                     "uint8", "uint16", "uint32", "uint64"})
_SCALARS = {"float": "float", "int": "int", "bool": "bool", "complex": "complex", "str": "str",
            "NoneType": "None", **{f"numpy.{d}": d for d in _DTYPES - {"bool"}}, "numpy.bool": "bool"}
#: OpenMP's reduction operators for the updates ``parallel`` accepts as reductions (``s -= x``
#: too: each thread's copy starts at 0 and the copies are added, as OpenMP's ``-`` does).
_OMP_REDUCTIONS = {ast.Add: "+", ast.Mult: "*", ast.Sub: "+", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^"}
_MARK = "__hotpath_omp_range_"


def export_type(spec: ArgSpec) -> str:
    """Pythran's spelling of one argument's type; ``NotRewritable`` when it has none."""
    if spec.kind == "array":
        if spec.dtype not in _DTYPES:
            raise NotRewritable(f"Pythran has no export type for arrays of {spec.dtype}")
        if not spec.writeable:
            raise NotRewritable("Pythran refuses read-only arrays at call time")
        ndim = spec.ndim or 0
        if ndim == 0:
            raise NotRewritable("Pythran exports no 0-d arrays")
        if spec.layout == "C":
            return f"{spec.dtype}[{','.join(':' * ndim)}]" + (" order(C)" if ndim >= 2 else "")
        if spec.layout == "F" and ndim == 2:
            return f"{spec.dtype}[:,:] order(F)"
        if spec.layout == "F":
            raise NotRewritable(f"Pythran exports Fortran order for 2-d arrays only, not {ndim}-d")
        if ndim == 1:
            return f"{spec.dtype}[::]"
        # Pythran 0.18 refuses every 2-d view at call time under float64[::,::] (tried here).
        raise NotRewritable(f"Pythran takes strided (non-contiguous) arrays in one dimension only, not {ndim}-d")
    if spec.kind == "tuple":
        if not spec.items:
            raise NotRewritable("Pythran exports no empty tuples")
        return f"({', '.join(export_type(item) for item in spec.items)})" if len(spec.items) > 1 else \
            f"({export_type(spec.items[0])},)"
    if spec.kind == "list":
        if not spec.items:
            raise NotRewritable("an empty list says nothing about its element type")
        return f"{export_type(spec.items[0])} list"
    try:
        return _SCALARS[spec.type_name]
    except KeyError:
        raise NotRewritable(f"Pythran cannot take a {spec.type_name} argument") from None


def export_line(name: str, signature: Signature) -> str:
    """``#pythran export name(types...)`` for the observed ``signature``."""
    return f"#pythran export {name}({', '.join(export_type(a) for a in signature.args)})"


def _globals(fs: FunctionSource) -> list[str]:
    """Module-level lines binding what the function reads by value, or ``NotRewritable``."""
    lines = []
    for part in fs.walk():
        for ref in part.refs:
            if ref.kind != "value":
                continue
            value = ref.value
            if isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
                lines.append(f"{ref.name} = {value!r}")
            elif isinstance(value, np.ufunc) or (callable(value) and getattr(value, "__module__", None) in
                                                 ("math", "numpy")):
                module = "math" if getattr(value, "__module__", None) == "math" else "numpy"
                alias = "" if value.__name__ == ref.name else f" as {ref.name}"
                lines.append(f"from {module} import {value.__name__}{alias}")
            else:
                raise NotRewritable(f"reads the global {ref.name!r} ({type(value).__name__}), which a compiled "
                                    "Pythran module cannot hold")
    return sorted(set(lines))


def _reduction(stmt: ast.stmt) -> tuple[str, str | None] | None:
    """(name, OpenMP operator or None) when ``stmt`` updates scalar ``name`` as a reduction."""
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id, _OMP_REDUCTIONS.get(type(stmt.op))
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return None
    name, value = stmt.targets[0].id, stmt.value
    if isinstance(value, ast.BinOp) and isinstance(value.left, ast.Name) and value.left.id == name:
        return name, _OMP_REDUCTIONS.get(type(value.op))
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("max", "min")
            and any(isinstance(a, ast.Name) and a.id == name for a in value.args)):
        return name, value.func.id
    return None


def _reductions(loop: ast.For) -> dict[str, str] | None:
    """Scalar name -> OpenMP operator for each reduction of ``loop``; ``None`` if one has no clause."""
    plain: set[str] = set()
    updated: dict[str, str | None] = {}
    for node in ast.walk(loop):
        found = _reduction(node) if isinstance(node, ast.stmt) else None
        if found is not None:
            updated[found[0]] = found[1]
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                plain |= names_in(target)
        elif isinstance(node, ast.For) and node is not loop:
            plain |= names_in(node.target)
    # A name also assigned plainly in the body (``acc = 0.0`` before ``acc += ...``) is private
    # to an iteration, not a reduction of this loop; ``parallel`` already checked the order.
    shared = {name: op for name, op in updated.items() if name not in plain}
    if any(op is None for op in shared.values()):
        return None
    return shared  # type: ignore[return-value]


def with_openmp(fn: ast.FunctionDef, integers: frozenset[str] = frozenset(),
                reassociate: bool = True) -> tuple[str, list[str]]:
    """``fn``'s source with ``#omp parallel for`` above every loop ``parallel`` clears, and notes.
    ``reassociate=False``: loops whose OpenMP reduction might add floats stay serial."""
    clone = copy.deepcopy(fn)
    notes: list[str] = []
    clauses: dict[str, str] = {}
    for number, (loop, verdict) in enumerate(parallel.analyse(clone, integers, reassociate)):
        if not verdict.parallel:
            notes.append(f"{verdict.loop}: kept serial ({verdict.reason})")
            continue
        reductions = _reductions(loop)
        if reductions is None:
            notes.append(f"{verdict.loop}: kept serial (a reduction OpenMP has no clause for)")
            continue
        marker = f"{_MARK}{number}"
        loop.iter.func = ast.Name(marker, ast.Load())  # type: ignore[attr-defined]
        clauses[marker] = "".join(f" reduction({op}:{name})" for name, op in sorted(reductions.items()))
        notes.append(f"{verdict.loop}: #omp parallel for{clauses[marker]} ({verdict.reason})")
    lines = []
    for line in ast.unparse(clone).splitlines():
        for marker, clause in clauses.items():
            if f" in {marker}(" in line:
                indent = line[:len(line) - len(line.lstrip())]
                lines.append(f"{indent}#omp parallel for{clause}")
                line = line.replace(f" in {marker}(", " in range(")
        lines.append(line)
    return "\n".join(lines), notes


def _cxx() -> tuple[str, ...]:
    return tuple(shlex.split(os.environ.get("CXX") or "c++")) or ("c++",)


def _compiler_missing() -> str | None:
    command = _cxx()
    if shutil.which(command[0]) is None:
        return f"no C++ compiler: {command[0]!r} was not found on PATH (install g++ or clang++, or point $CXX at one)"
    return None


def pythran_version() -> str | None:
    """The installed Pythran's version, or ``None`` when it is not importable."""
    if importlib.util.find_spec("pythran") is None:
        return None
    try:
        from pythran.version import __version__
    except ImportError:
        return None
    return str(__version__)


def _cpu() -> str:
    """What ``-march=native`` depends on: the CPU's model and feature flags."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine() + platform.processor()
    wanted = [line for line in info.splitlines() if line.startswith(("model name", "flags"))]
    return "\n".join(sorted(set(wanted)))


def built_path(source_path: Path, source: str, flags: Sequence[str]) -> Path:
    """Where the binary for the module at ``source_path`` with ``source`` lives (may not exist yet)."""
    parts = [source, source_path.stem, sys.implementation.cache_tag, sysconfig.get_config_var("EXT_SUFFIX") or "",
             pythran_version() or "", " ".join(_cxx()), " ".join(flags), _cpu()]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    return source_path.with_name(f"{source_path.stem}.{key}{sysconfig.get_config_var('EXT_SUFFIX') or '.so'}")


def build(source_path: Path, source: str, flags: Sequence[str]) -> tuple[Path, bool]:
    """The built module for ``source_path``: (path, True if built now, False if it was cached)."""
    target = built_path(source_path, source, flags)
    if target.exists():
        return target, False
    missing = _compiler_missing()
    if missing:
        raise native_build.BuildError(missing)
    if pythran_version() is None:
        raise native_build.BuildError("Pythran is not installed (pip install 'hotpath[pythran]')")
    stem = source_path.stem

    def produce(work: Path, out: Path) -> dict[str, object]:
        started = time.perf_counter()
        src = work / f"{stem}.py"
        src.write_text(source)
        # Pythran names the module after the output file: built as <stem>.so, then moved.
        binary = work / f"{stem}.so"
        native_build.run([sys.executable, "-m", "pythran.run", *flags, str(src), "-o", str(binary)], work,
                         "pythran", (f"{stem}.py:", "CompileError", "PythranSyntaxError"))
        shutil.copyfile(binary, out)
        return {"module": stem, "compile_s": round(time.perf_counter() - started, 3)}

    return native_build.build_once(target, produce, source_path.parent.parent / BUILD_LOG, prefix="hotpath-pythran-")


def _flags(candidate: Candidate) -> tuple[str, ...]:
    return FLAGS + (OPENMP_FLAGS if candidate.options_dict.get("openmp") else ())


class PythranBackend:
    """Emits, builds (cached) and loads Pythran variants."""

    name = "pythran"

    def availability(self) -> Availability:
        if pythran_version() is None:
            return Availability(False, "Pythran is not installed (pip install 'hotpath[pythran]')")
        missing = _compiler_missing()
        if missing:
            return Availability(False, missing)
        return Availability(True)

    def propose(self, fs: FunctionSource, signature: Signature, config: Config,
                kernels_dir: Path) -> list[Candidate | Skipped]:
        style = array_style.classify(fs.tree)
        if not style.array and LOOP_COMPILER in config.backends:
            reason = (f"element loops are left to {LOOP_COMPILER.capitalize()}, which builds in seconds what "
                      f"Pythran takes 10-80 s to ({style.reason}); Pythran is tried on array-style code, "
                      f"or on loops when {LOOP_COMPILER!r} is not among the backends")
            return [Skipped(self.name, "pythran", reason), Skipped(self.name, "pythran-openmp", reason)]
        try:
            header = export_line(fs.name, signature)
            constants = _globals(fs)
        except NotRewritable as exc:
            return [Skipped(self.name, self.name, exc.reason)]
        integers = integer_names(fs.tree, signature.args)
        modules = module_imports(fs)
        trees = [part.tree for part in fs.walk()]
        if not config.allows_fastmath:
            # Pythran vectorizes its own reductions (xsimd); whole-array float64 sums and means
            # call NumPy's pairwise order instead where that order can be reproduced.
            orders = pythran_pairwise.keep_numpy_order(trees, signature, modules, integers)
            reasons = tuple(r for order in orders for r in order.reassociations)
            if reasons:
                why = pythran_pairwise.refusal(trees, signature)
                reason = skip_reason(reasons, FASTMATH_MIN_RTOL) + (f" ({why})" if why else "")
                return [Skipped(self.name, "pythran", reason), Skipped(self.name, "pythran-openmp", reason)]
            trees = [order.tree for order in orders]
            if any(order.substituted for order in orders):
                constants = [*constants, "", "", pythran_pairwise.SOURCE]
        main_tree, helpers = trees[0], [ast.unparse(tree) for tree in trees[1:]]
        out: list[Candidate | Skipped] = [self._candidate(fs, "pythran", {}, header, constants, helpers,
                                                          ast.unparse(main_tree), (), kernels_dir)]
        main, notes = with_openmp(main_tree, integers, config.allows_fastmath)
        if "#omp parallel for" in main:
            out.append(self._candidate(fs, "pythran-openmp", {"openmp": True, "parallel": True}, header,
                                       constants, helpers, main, tuple(notes), kernels_dir))
        else:
            reasons = "; ".join(notes) or "the function has no range loop"  # type: ignore[assignment]
            out.append(Skipped(self.name, "pythran-openmp", f"no loop is proven parallel: {reasons}"))
        return out

    def _candidate(self, fs: FunctionSource, name: str, options: dict[str, Any], header: str,
                   constants: list[str], helpers: list[str], main: str, notes: tuple[str, ...],
                   kernels_dir: Path) -> Candidate:
        lines = [
            f"# hotpath candidate {name!r} for {fs.module}.{fs.qualname} (from {fs.filename})",
            "# Generated from the function's source; the original is never modified.",
            header,
            *import_lines(module_imports(fs)),
            *constants,
        ]
        for helper in helpers:
            lines += ["", "", helper]
        lines += ["", "", main, ""]
        source = "\n".join(lines)
        namespace = pickle_namespace({})  # everything the module needs is in its source
        path = write_module(kernels_dir, f"{fs.module}.{fs.qualname}", name, source, namespace)
        return Candidate(self.name, name, tuple(sorted(options.items())), source, fs.name, path, namespace, notes)

    def refine(self, fs: FunctionSource, candidate: Candidate, failure: Failure,
               kernels_dir: Path) -> Candidate | None:
        return None  # Pythran has no stricter mode that would explain a mismatch

    def load(self, candidate: Candidate) -> Callable[..., Any]:
        binary, _ = build(candidate.path, candidate.source, _flags(candidate))
        module = native_build.load_extension(binary, candidate.path.stem, "pythran")
        return getattr(module, candidate.entry)

    def prepare(self, variant: Callable[..., Any], args: Sequence[object]) -> None:
        pass  # built ahead of time for the exported types

    def binaries(self, candidate: Candidate) -> tuple[Path, ...]:
        return (built_path(candidate.path, candidate.source, _flags(candidate)),)

    def build(self, candidate: Candidate) -> bool:
        return build(candidate.path, candidate.source, _flags(candidate))[1]

    def invocation_errors(self) -> tuple[type[BaseException], ...]:
        # Converting the arguments fails before the body runs: TypeError for a value outside the
        # exported types, SystemError for a Python int beyond int64 (tried with Pythran 0.18).
        # The statically typed body raises neither, so the caller can safely get the original.
        return (TypeError, SystemError)


BACKEND = PythranBackend()
