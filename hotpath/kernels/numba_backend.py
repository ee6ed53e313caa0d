"""Numba variants: ``njit``, ``njit(parallel=True)`` with ``prange`` where it is safe, fastmath.

The function is emitted unchanged except for ``range`` -> ``prange`` on loops the parallel
analysis cleared; plain-Python helpers it calls are emitted alongside as jitted functions, so
a kernel split into helpers is compiled whole. Where the devectorizer turns NumPy expression
statements into loop nests (after inlining small helpers, so that a where-limiter's arrays
fuse too), two more variants use that rewritten body: ``numba-fused`` and
``numba-fused-parallel`` (its outer loops ``prange`` where the same analysis allows, except
inside the reductions the devectorizer runs row by row). The arrays those variants allocate
come from ``hotpath.rewriter.devectorize.hugepages``: as NumPy's do, large ones sit on huge
pages, which spares the loops a page fault per 4 KiB of fresh output; their float ``exp``,
``log``, ``expm1``, ``log1p``, ``hypot`` and complex ``abs`` come from
``hotpath.rewriter.devectorize.vmath``, which LLVM vectorizes as NumPy's SIMD loops are. A fused
body of hundreds of loop nests (a module-sized kernel) is cut into several jitted functions
(``hotpath.rewriter.devectorize.outline``): Numba's compile time grows faster than a function.

Summation order: Numba sums an array sequentially where NumPy sums pairwise, so every variant
calls ``hotpath.rewriter.devectorize.pairwise`` for whole-array float sums and means (NumPy's
order, bit for bit); a variant that still adds floats in another order (an axis sum, a dot
product, a parallel reduction: see ``hotpath.rewriter.reduction_order``) reassociates, and is
proposed only when the tolerance allows fastmath, otherwise skipped with the reductions named.
Matrix products are the exception: at a tolerance that forbids reassociation, every variant
computes ``@``, ``np.dot`` and ``np.matmul`` by NumPy's own call
(``hotpath.rewriter.devectorize.numpy_products``, option ``numpy_products``), so kernels around
BLAS calls are tried, with the loops around the product compiled.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotpath.config import FASTMATH_MIN_RTOL
from hotpath.kernels import numba_threads
from hotpath.kernels.artifacts import load_module, pickle_namespace, write_module
from hotpath.kernels.base import DISTINCT_ARRAYS, Availability, Candidate, Failure, Skipped
from hotpath.rewriter import parallel
from hotpath.rewriter.devectorize.outline import outline
from hotpath.rewriter.devectorize.transform import devectorize
from hotpath.rewriter.inline import inline_helpers
from hotpath.rewriter.reduction_order import (
    PAIRWISE,
    PRODUCTS,
    integer_names,
    keep_order,
    parallel_reassociations,
    skip_reason,
)
from hotpath.rewriter.source import import_lines, injected_values, module_imports
from hotpath.syntax import parse_module

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from hotpath.config import Config
    from hotpath.rewriter.source import FunctionSource
    from hotpath.signature import Signature

#: fastmath flags that keep NaN and inf semantics: ``nnan``/``ninf`` would let LLVM delete
#: ``isnan`` checks, the classic silent wrong answer, so they are never used.
SAFE_FASTMATH = ("arcp", "contract", "reassoc", "nsz", "afn")

#: The alias generated modules import ``PAIRWISE`` as (a name no user code is likely to bind).
PAIRWISE_ALIAS = "_hotpath_pairwise"
#: The alias generated modules import ``PRODUCTS`` as.
PRODUCTS_ALIAS = "_hotpath_products"

#: Where fused loops allocate their arrays (huge pages, as NumPy does); named, not imported,
#: because it imports Numba and only the generated modules need it.
ALLOCATOR = "hotpath.rewriter.devectorize.hugepages"

#: Where fused float loops take the ``exp``, ``log``, ``hypot`` ... that LLVM vectorizes (named,
#: for the same reason).
VMATH_MODULE = "hotpath.rewriter.devectorize.vmath"


#: The LLVM optimization level a module-sized (outlined) candidate compiles at; Numba's is 3. O3
#: adds non-trivial loop unswitching, argument promotion and a higher inlining threshold to O2, and
#: on the linked module of a kernel with hundreds of loop nests that is 30-45% of the compile:
#: ``vertical_mixing_step`` 76 s -> 40 s, ``isoneutral_mixing`` 45 s -> 31 s, both running as fast
#: (fresh processes, 64k points). Small candidates keep O3: over the 34 vectorized corpus kernels
#: O2 saved no compile time and ran 3% slower (geometric mean of 107 variants; plain ``njit`` of
#: NumPy code lost most: 28.8x -> 17.7x on one). A user's ``NUMBA_OPT`` is always kept.
OUTLINED_OPT_LEVEL = 2
#: The module global through which a candidate declares the level it compiles at.
OPT_LEVEL_GLOBAL = "_hotpath_llvm_opt"


@contextmanager
def compiling_at(level: int | None) -> Iterator[None]:
    """Numba compiles at LLVM ``level`` inside (``None``: its own level, as does a set ``NUMBA_OPT``).

    Numba reads its level when it optimizes a finished module; the compiler lock is held
    throughout, so a compile on another thread neither sees this level nor changes it.
    """
    if level is None or "NUMBA_OPT" in os.environ:
        yield
        return
    from numba.core import config
    from numba.core.compiler_lock import global_compiler_lock

    numba_config: Any = config  # its settings are attributes set from the environment at run time
    with global_compiler_lock:
        saved = numba_config.OPT
        numba_config.OPT = type(saved)(level)  # Numba's own type: its codegen reads more than the int
        try:
            yield
        finally:
            numba_config.OPT = saved


def declared_level(variant: Callable[..., Any]) -> int | None:
    """The optimization level ``variant``'s generated module declares (``OPT_LEVEL_GLOBAL``), if any."""
    py_func = getattr(variant, "py_func", None)
    level = getattr(py_func, "__globals__", {}).get(OPT_LEVEL_GLOBAL)
    return level if isinstance(level, int) else None


@functools.cache
def runtime_digest() -> str:
    """A digest of the modules generated code calls into (their sources, not imported).

    Numba inlines them into a candidate's machine code and keys its on-disk cache by the
    candidate's own file alone: the digest, written in each candidate's header, gives a new
    hotpath's helpers a new candidate file, so no binary built with old helpers is reused.
    """
    digest = hashlib.sha256()
    for module in (ALLOCATOR, VMATH_MODULE, PAIRWISE, PRODUCTS):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin is not None:
            digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()[:16]


def _decorator(options: dict[str, Any], parallel_allowed: bool = True) -> str:
    args = ["cache=True"]
    if options.get("parallel") and parallel_allowed:
        args.append("parallel=True")
    if options.get("fastmath"):
        args.append(f"fastmath={set(SAFE_FASTMATH)!r}")
    if options.get("boundscheck"):
        args.append("boundscheck=True")
    if options.get("error_model"):
        args.append(f"error_model={options['error_model']!r}")
    return f"@numba.njit({', '.join(args)})"


class NumbaBackend:
    """Emits and loads Numba variants."""

    name = "numba"

    def availability(self) -> Availability:
        if importlib.util.find_spec("numba") is None:
            return Availability(False, "numba is not installed (pip install numba)")
        return Availability(True)

    def propose(self, fs: FunctionSource, signature: Signature, config: Config,
                kernels_dir: Path) -> list[Candidate | Skipped]:
        namespace = pickle_namespace(injected_values(fs))
        tree = fs.tree
        allowed = config.allows_fastmath
        integers = integer_names(tree, signature.args)
        # Where reassociation is not allowed, products are NumPy's own calls (an option, so
        # that refinements and helpers keep them).
        base = {"numpy_products": True} if not allowed and self._has_products(fs) else {}
        reasons = self._order(fs, integers, products=_products_alias(base)).reassociations
        parallel_reasons = parallel_reassociations(tree, module_imports(fs), integers)
        has_loops = any(isinstance(n, (ast.For, ast.While)) for n in ast.walk(tree))
        verdicts = [v for _, v in parallel.analyse(tree, integers, reassociate=allowed)]
        loop_notes = tuple(
            f"{v.loop}: {'prange' if v.parallel else 'kept serial'} ({v.reason})" for v in verdicts
        )
        can_parallelize = any(v.parallel for v in verdicts) or not has_loops

        plans: list[tuple[str, dict[str, Any]] | Skipped] = [("numba", dict(base))]
        if reasons and not allowed:
            plans = [Skipped(self.name, "numba", skip_reason(reasons, FASTMATH_MIN_RTOL)),
                     Skipped(self.name, "numba-parallel", skip_reason(reasons, FASTMATH_MIN_RTOL))]
        elif parallel_reasons and not allowed:
            plans.append(Skipped(self.name, "numba-parallel", skip_reason(parallel_reasons, FASTMATH_MIN_RTOL)))
        elif can_parallelize:
            plans.append(("numba-parallel", {**base, "parallel": True}))
        else:
            plans.append(Skipped(self.name, "numba-parallel",
                                 "no loop is free of loop-carried dependencies: "
                                 + "; ".join(loop_notes)))
        if config.allows_fastmath:
            plans.append(("numba-fastmath", {"fastmath": True}))
            if can_parallelize:
                plans.append(("numba-parallel-fastmath", {"parallel": True, "fastmath": True}))
        else:
            plans.append(Skipped(self.name, "numba-fastmath",
                                 f"rtol={config.rtol if config.rtol is not None else 'default'} is too "
                                 "tight for reassociated floating point; pass rtol>=1e-6 or "
                                 "fastmath=True to try it"))

        out: list[Candidate | Skipped] = []
        for plan in plans:
            if isinstance(plan, Skipped):
                out.append(plan)
                continue
            name, options = plan
            out.append(self._candidate(fs, name, options, namespace, kernels_dir, integers=integers,
                                       reassociate=allowed))
        out += self._fused(fs, signature, namespace, kernels_dir, integers, allowed, base)
        return out

    def _has_products(self, fs: FunctionSource) -> bool:
        """Whether the function or a helper it calls has a float matrix product ``PRODUCTS`` can take."""
        modules = module_imports(fs)
        return any(f"{PRODUCTS_ALIAS}." in ast.unparse(keep_order(part.tree, modules, products=PRODUCTS_ALIAS).tree)
                   for part in fs.walk())

    def _order(self, fs: FunctionSource, integers: frozenset[str] = frozenset(),
               main: ast.FunctionDef | None = None, products: str | None = None) -> Any:
        """``keep_order`` of ``main`` (default: the function) with its helpers' reassociations added."""
        modules = module_imports(fs)
        order = keep_order(fs.tree if main is None else main, modules, integers, PAIRWISE_ALIAS, products=products)
        helpers = tuple(r for helper in list(fs.walk())[1:]
                        for r in keep_order(helper.tree, modules, helper=PAIRWISE_ALIAS,
                                            products=products).reassociations)
        return replace(order, reassociations=order.reassociations + helpers)

    def _fused(self, fs: FunctionSource, signature: Signature, namespace: bytes, kernels_dir: Path,
               integers: frozenset[str] = frozenset(), allowed: bool = False,
               base: dict[str, Any] | None = None) -> list[Candidate | Skipped]:
        """``numba-fused`` and ``numba-fused-parallel``, when the devectorizer changed anything."""
        # Small helpers (a where-limiter, an equation of state) become statements and expressions
        # of the function, so their arrays fuse into its loops instead of being allocated per call.
        tree, inlined = inline_helpers(fs.tree, [helper.tree for helper in list(fs.walk())[1:]])
        try:
            rewrite = devectorize(tree, signature.args, module_imports(fs), allocator=ALLOCATOR,
                                  pairwise=PAIRWISE, vmath=VMATH_MODULE)
        except Exception as exc:  # a rewriter bug costs the fused candidates, not the others
            log.exception("devectorizing %s failed", fs.qualname)
            return [Skipped(self.name, "numba-fused", f"devectorizing failed: {type(exc).__name__}: {exc}")]
        if not rewrite.changed:
            return []
        if inlined:
            rewrite = replace(rewrite, notes=(*rewrite.notes, "inlined: " + ", ".join(dict.fromkeys(inlined))))
        base = base or {}
        order = self._order(fs, integers, rewrite.tree, _products_alias(base))
        reasons = rewrite.reassociations + order.reassociations
        if reasons and not allowed:
            reason = skip_reason(reasons, FASTMATH_MIN_RTOL)
            return [Skipped(self.name, "numba-fused", reason), Skipped(self.name, "numba-fused-parallel", reason)]
        rewrite = replace(rewrite, tree=order.tree)
        # The loops spell division as np.divide, so they follow NumPy's semantics (x / 0.0 is inf)
        # while the rest of the function keeps Python's (1.0 / 0.0 raises, as in the original).
        options: dict[str, Any] = {**base, "fused": True}
        # In-place nests assume argument arrays do not overlap; calls where they do take the original.
        adapters = (DISTINCT_ARRAYS,) if rewrite.writes_arguments and len(signature.arrays) >= 2 else ()
        serial = self._candidate(fs, "numba-fused", options, namespace, kernels_dir, rewrite.tree,
                                 rewrite.notes, rewrite.imports)
        out: list[Candidate | Skipped] = [replace(serial, adapters=adapters)]
        verdicts = [v for _, v in parallel.analyse(rewrite.tree, integers, reassociate=allowed)]
        products = parallel_reassociations(rewrite.tree, module_imports(fs), integers)
        if products and not allowed:
            out.append(Skipped(self.name, "numba-fused-parallel", skip_reason(products, FASTMATH_MIN_RTOL)))
        elif any(v.parallel for v in verdicts):
            out.append(self._candidate(fs, "numba-fused-parallel", {**options, "parallel": True}, namespace,
                                       kernels_dir, rewrite.tree, rewrite.notes, rewrite.imports,
                                       rewrite.sequential, integers=integers, reassociate=allowed))
        else:
            out.append(Skipped(self.name, "numba-fused-parallel", "no loop of the fused nests is free of "
                               "loop-carried dependencies: " + "; ".join(f"{v.loop}: {v.reason}" for v in verdicts)))
        return out

    def _candidate(self, fs: FunctionSource, name: str, options: dict[str, Any], namespace: bytes,
                   kernels_dir: Path, main: ast.FunctionDef | None = None, notes: tuple[str, ...] = (),
                   imports: tuple[tuple[str, str], ...] = (), sequential: tuple[str, ...] = (),
                   placed: bool = False, integers: frozenset[str] = frozenset(),
                   reassociate: bool = False) -> Candidate:
        """``placed``: ``main`` already has its ``prange`` loops (a refinement keeps them).
        ``reassociate``: whether a parallel loop may reduce floats (see ``parallel.analyse``)."""
        main = fs.tree if main is None else main
        main = keep_order(main, module_imports(fs), integers, PAIRWISE_ALIAS, products=_products_alias(options)).tree
        imports = (*imports, *_helper_imports(ast.unparse(main)))
        if options.get("parallel") and not placed:
            main, verdicts = parallel.to_prange(main, integers, reassociate)
            main = _keep_serial(main, sequential)
            notes += tuple(f"{v.loop}: {'prange' if v.parallel else 'kept serial'} ({v.reason})"
                           for v in verdicts)
        source = self._emit(fs, name, options, main, imports)
        path = write_module(kernels_dir, f"{fs.module}.{fs.qualname}", name, source, namespace)
        return Candidate(self.name, name, tuple(sorted(options.items())), source, fs.name, path,
                         namespace, notes)

    def _emit(self, fs: FunctionSource, name: str, options: dict[str, Any], main: ast.FunctionDef,
              imports: tuple[tuple[str, str], ...] = ()) -> str:
        injected = sorted(injected_values(fs))
        lines = [
            f"# hotpath candidate {name!r} for {fs.module}.{fs.qualname} (from {fs.filename})",
            "# Generated from the function's source; the original is never modified.",
            f"# Runtime helpers {runtime_digest()}: a new hotpath's helpers make a new file, and a fresh build.",
        ]
        if injected:
            lines.append(f"# Bound by hotpath before import (values, not importable): {', '.join(injected)}")
        helpers = []
        for helper in list(fs.walk())[1:]:
            order = keep_order(helper.tree, module_imports(fs), helper=PAIRWISE_ALIAS,
                               products=_products_alias(options))
            helpers.append(ast.unparse(order.tree) if order.substituted else helper.source)
            imports = (*imports, *_helper_imports(helpers[-1]))
        lines += ["import numba", "from numba import prange  # noqa: F401"]
        lines += import_lines({**module_imports(fs), **dict(imports)})
        for source in helpers:
            lines += ["", "", _decorator(options, parallel_allowed=False), source]
        if options.get("fused"):
            # A module-sized kernel's hundreds of nests compile in far less time as several
            # functions (see hotpath.rewriter.devectorize.outline); small ones are left whole.
            taken = {*module_imports(fs), *dict(imports), *injected, *(part.name for part in fs.walk())}
            outlined = outline(main, taken)
            if outlined.helpers:
                lines += ["", f"{OPT_LEVEL_GLOBAL} = {OUTLINED_OPT_LEVEL}  # module-sized: "
                          "LLVM O3 would cost far more compile time for no speed"]
            for nest in outlined.helpers:
                lines += ["", "", _decorator(options), ast.unparse(nest)]
            main = outlined.main
        lines += ["", "", _decorator(options), ast.unparse(main), ""]
        return "\n".join(lines)

    def refine(self, fs: FunctionSource, candidate: Candidate, failure: Failure,
               kernels_dir: Path) -> Candidate | None:
        options = candidate.options_dict
        if failure.original_raised == "IndexError" and not options.get("boundscheck"):
            # Without bounds checks Numba reads past the end where Python raises IndexError;
            # with them it raises too, at some cost, so it is a second attempt, not the default.
            change, suffix = {"boundscheck": True}, "+boundscheck"
        elif (failure.candidate_raised == "ZeroDivisionError" and failure.original_raised is None
              and not options.get("error_model")):
            # Python floats raise on x / 0.0, NumPy scalars give inf: the original computed on
            # NumPy scalars, so NumPy's error model is the faithful one.
            change, suffix = {"error_model": "numpy"}, "+numpy-errors"  # type: ignore[dict-item]
        else:
            return None
        # The rewritten body, its prange loops and its summation order are in the candidate's own
        # source; the refinement keeps them all.
        module = parse_module(candidate.source)
        main = next(n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == fs.name)
        main.decorator_list = []
        # An outlined candidate's nests go back into the calls to them (their parameters and
        # returned locals are main's own names), and _emit outlines the whole function again.
        own = {part.name for part in fs.walk()}
        nests = {n.name: n.body for n in module.body if isinstance(n, ast.FunctionDef) and n.name not in own}
        body: list[ast.stmt] = []
        for stmt in main.body:
            call = stmt.value if isinstance(stmt, (ast.Assign, ast.Expr)) else None
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in nests:
                nest = nests[call.func.id]
                body += nest[:-1] if isinstance(stmt, ast.Assign) else nest  # less its return
            else:
                body.append(stmt)
        main.body = body
        imports = tuple((a.asname or a.name, a.name) for node in module.body if isinstance(node, ast.Import)
                        for a in node.names if a.name in ("numpy", ALLOCATOR, PAIRWISE, PRODUCTS, VMATH_MODULE))
        return self._candidate(fs, candidate.name + suffix, {**options, **change},
                               pickle_namespace(injected_values(fs)), kernels_dir, main, candidate.notes,
                               imports, placed=True)

    def load(self, candidate: Candidate) -> Callable[..., Any]:
        parallel_variant = bool(candidate.options_dict.get("parallel"))
        if parallel_variant:
            numba_threads.choose_fork_safe()  # before it compiles: see hotpath.kernels.numba_threads
        module = load_module(candidate.path, candidate.namespace)
        variant = getattr(module, candidate.entry)
        if parallel_variant and numba_threads.needs_serializing():
            return numba_threads.Serialized(variant)
        return variant

    def prepare(self, variant: Callable[..., Any], args: Sequence[object]) -> None:
        import numba

        with compiling_at(declared_level(variant)):
            variant.compile(tuple(numba.typeof(a) for a in args))  # type: ignore[attr-defined]

    def binaries(self, candidate: Candidate) -> tuple[Path, ...]:
        return ()  # compiled in the process that loads it

    def build(self, candidate: Candidate) -> bool:
        return False  # nothing is built ahead: it compiles in the process that loads it

    def invocation_errors(self) -> tuple[type[BaseException], ...]:
        from numba.core.errors import NumbaError

        # OverflowError: an int argument too large for int64 is refused while unboxing.
        return (NumbaError, OverflowError)


def _products_alias(options: dict[str, Any]) -> str | None:
    """The alias products are called through, when the variant computes them by NumPy's call."""
    return PRODUCTS_ALIAS if options.get("numpy_products") else None


def _helper_imports(source: str) -> tuple[tuple[str, str], ...]:
    """The summation-order and product modules ``source`` calls, as (alias, module)."""
    return tuple((alias, module) for alias, module in ((PAIRWISE_ALIAS, PAIRWISE), (PRODUCTS_ALIAS, PRODUCTS))
                 if f"{alias}." in source)


def _serial(fn: ast.AST) -> ast.AST:
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "prange":
            node.func.id = "range"
    return fn


def _keep_serial(fn: ast.FunctionDef, sequential: tuple[str, ...]) -> ast.FunctionDef:
    """``fn`` with no ``prange`` in the loops over ``sequential`` variables, nor inside them."""
    for node in ast.walk(fn):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id in sequential:
            _serial(node)
    return fn


BACKEND = NumbaBackend()
