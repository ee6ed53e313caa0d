"""What the cost model knows about a function before trying anything: its shape, as numbers.

Features come from the AST of the function and its helpers (loop nests, array operations by
kind, Python-object use, branches in inner loops, in-place writes to arguments), from the
argument signature (dtypes, ndim, layout) and, when known, from the arguments' sizes, the
original's time per call and the profile's Python share. Every feature is a plain float so the
vector can be written to JSON and read back by any later version.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np

from hotpath.rewriter import parallel
from hotpath.rewriter.source import FunctionSource
from hotpath.signature import ArgSpec, Signature

#: Value of a feature that is not known for this call (no arguments, no profile).
UNKNOWN = -1.0

_ELEMENTWISE = frozenset({
    "sqrt", "exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "arctan", "arctan2", "abs",
    "absolute", "fabs", "maximum", "minimum", "where", "clip", "floor", "ceil", "sign", "power", "square",
    "isnan", "isfinite", "hypot", "logaddexp", "exp2", "log2", "log10", "round", "rint", "erf",
})
_REDUCTION = frozenset({
    "sum", "mean", "max", "min", "argmax", "argmin", "prod", "std", "var", "cumsum", "cumprod", "any",
    "all", "nansum", "nanmax", "nanmin", "median", "norm", "amax", "amin", "count_nonzero", "bincount",
})
_BLAS = frozenset({"dot", "matmul", "einsum", "outer", "inner", "tensordot", "vdot", "solve", "inv", "cholesky"})
_ALLOCATION = frozenset({"zeros", "empty", "ones", "full", "zeros_like", "empty_like", "ones_like",
                         "full_like", "array", "arange", "linspace", "copy", "asarray"})
_OBJECT_METHODS = frozenset({"append", "extend", "items", "keys", "values", "pop", "get", "setdefault",
                             "join", "split", "format", "add", "update"})


@dataclass(frozen=True)
class FunctionFeatures:
    """The numeric description of one function at one signature (all floats, JSON-safe)."""

    loop_depth: float = 0.0  # deepest nest of for/while loops
    loops: float = 0.0
    while_loops: float = 0.0
    range_loops: float = 0.0
    const_trip_log10: float = 0.0  # log10 of the largest constant range() bound (trip-count hint)
    parallel_loops: float = 0.0  # loops the prange analysis cleared
    inner_branches: float = 0.0  # if/ternaries inside innermost loops
    elementwise_calls: float = 0.0
    reduction_calls: float = 0.0
    blas_calls: float = 0.0  # dot/matmul/@/einsum/linalg
    allocations: float = 0.0
    slices: float = 0.0
    fancy_indexing: float = 0.0  # boolean masks and index arrays
    subscripts: float = 0.0
    arithmetic: float = 0.0
    integer_ops: float = 0.0  # // % << >> & | ^: integer-heavy code, where int64 wrap-around bites
    math_calls: float = 0.0
    python_objects: float = 0.0  # list/dict/set displays, comprehensions, their methods, try blocks
    helpers: float = 0.0
    statements: float = 0.0
    returns_tuple: float = 0.0
    mutates_inputs: float = 0.0  # writes through a subscript of a parameter
    args: float = 0.0
    arrays: float = 0.0
    max_ndim: float = 0.0
    float32: float = 0.0
    int_arrays: float = 0.0
    bool_arrays: float = 0.0
    complex_arrays: float = 0.0
    non_contiguous: float = 0.0
    int_scalars: float = 0.0
    float_scalars: float = 0.0
    object_args: float = 0.0
    elements_log10: float = UNKNOWN  # total array elements over all arguments
    largest_log10: float = UNKNOWN
    baseline_log10_s: float = UNKNOWN  # the original's seconds per call
    python_share: float = UNKNOWN  # fraction of the function's time in Python bytecode (profile)

    def as_dict(self) -> dict[str, float]:
        """Name -> value, in field order (the model's column order)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> FunctionFeatures:
        """Rebuild from ``as_dict`` output; unknown keys are ignored, missing ones keep defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in values.items() if k in known})


def names() -> tuple[str, ...]:
    """Feature names, in column order."""
    return tuple(f.name for f in fields(FunctionFeatures))


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _module_of(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute):
        return func.value.attr  # np.linalg.norm -> "linalg"
    return None


def _loop_stats(node: ast.AST, depth: int, out: dict[str, float]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.For, ast.While)):
            out["loop_depth"] = max(out["loop_depth"], depth + 1)
            if not any(isinstance(n, (ast.For, ast.While)) for n in ast.walk(child) if n is not child):
                out["inner_branches"] += sum(isinstance(n, (ast.If, ast.IfExp)) for n in ast.walk(child))
            _loop_stats(child, depth + 1, out)
        else:
            _loop_stats(child, depth, out)


def _trip_hint(loop: ast.For) -> float:
    call = loop.iter
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "range"):
        return 0.0
    bounds = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, int)]
    return math.log10(max(bounds)) if bounds and max(bounds) > 0 else 0.0


def ast_features(parts: Iterable[FunctionSource], params: set[str]) -> dict[str, float]:
    out: dict[str, float] = {k: 0.0 for k in ("loop_depth", "loops", "while_loops", "range_loops",
                                              "const_trip_log10", "parallel_loops", "inner_branches",
                                              "elementwise_calls", "reduction_calls", "blas_calls",
                                              "allocations", "slices", "fancy_indexing", "subscripts",
                                              "arithmetic", "integer_ops", "math_calls", "python_objects",
                                              "helpers", "statements", "returns_tuple", "mutates_inputs")}
    for position, part in enumerate(parts):
        tree = part.tree
        out["helpers"] += 1.0 if position else 0.0
        _loop_stats(tree, 0, out)
        out["parallel_loops"] += sum(v.parallel for _, v in parallel.analyse(tree))
        for node in ast.walk(tree):
            if isinstance(node, ast.stmt):
                out["statements"] += 1
            if isinstance(node, ast.For):
                out["loops"] += 1
                hint = _trip_hint(node)
                out["range_loops"] += 1 if isinstance(node.iter, ast.Call) and _call_name(node.iter) == "range" else 0
                out["const_trip_log10"] = max(out["const_trip_log10"], hint)
            elif isinstance(node, ast.While):
                out["loops"] += 1
                out["while_loops"] += 1
            elif isinstance(node, ast.Call):
                name, module = _call_name(node), _module_of(node)
                if module == "math":
                    out["math_calls"] += 1
                elif name in _BLAS or module == "linalg":
                    out["blas_calls"] += 1
                elif name in _REDUCTION:
                    out["reduction_calls"] += 1
                elif name in _ELEMENTWISE:
                    out["elementwise_calls"] += 1
                elif name in _ALLOCATION:
                    out["allocations"] += 1
                elif name in _OBJECT_METHODS and isinstance(node.func, ast.Attribute):
                    out["python_objects"] += 1
            elif isinstance(node, ast.BinOp):
                if isinstance(node.op, ast.MatMult):
                    out["blas_calls"] += 1
                elif isinstance(node.op, (ast.FloorDiv, ast.Mod, ast.LShift, ast.RShift, ast.BitAnd,
                                          ast.BitOr, ast.BitXor)):
                    out["integer_ops"] += 1
                else:
                    out["arithmetic"] += 1
            elif isinstance(node, ast.AugAssign):
                out["arithmetic"] += 1
                if isinstance(node.op, (ast.FloorDiv, ast.Mod, ast.LShift, ast.RShift, ast.BitAnd,
                                        ast.BitOr, ast.BitXor)):
                    out["integer_ops"] += 1
            elif isinstance(node, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp,
                                   ast.GeneratorExp, ast.Try)):
                out["python_objects"] += 1
            elif isinstance(node, ast.Subscript):
                out["subscripts"] += 1
                key = node.slice
                if isinstance(key, ast.Slice) or (isinstance(key, ast.Tuple)
                                                  and any(isinstance(e, ast.Slice) for e in key.elts)):
                    out["slices"] += 1
                elif isinstance(key, (ast.Compare, ast.BoolOp, ast.List)) or (
                        isinstance(key, ast.UnaryOp) and isinstance(key.op, ast.Invert)):
                    out["fancy_indexing"] += 1
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
                out["returns_tuple"] = 1.0
        if position == 0:  # writes through the function's own parameters (helpers' are its locals)
            for node in ast.walk(tree):
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AugAssign) else [])
                for target in targets:
                    if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                            and target.value.id in params):
                        out["mutates_inputs"] = 1.0
    return out


def _flatten(specs: Iterable[ArgSpec]) -> list[ArgSpec]:
    flat: list[ArgSpec] = []
    for spec in specs:
        flat.append(spec)
        flat.extend(_flatten(spec.items))
    return flat


def _signature_features(signature: Signature) -> dict[str, float]:
    specs = _flatten(signature.args)
    arrays = [s for s in specs if s.kind == "array"]
    kinds = [np.dtype(s.dtype).kind for s in arrays if s.dtype]
    return {
        "args": float(len(signature.args)),
        "arrays": float(len(arrays)),
        "max_ndim": float(max((s.ndim or 0 for s in arrays), default=0)),
        "float32": float(any(s.dtype in ("float32", "float16") for s in arrays)),
        "int_arrays": float(sum(k in "iu" for k in kinds)),
        "bool_arrays": float(sum(k == "b" for k in kinds)),
        "complex_arrays": float(sum(k == "c" for k in kinds)),
        "non_contiguous": float(sum(s.layout != "C" for s in arrays)),
        "int_scalars": float(sum(s.type_name in ("int", "bool", "numpy.int64") for s in specs)),
        "float_scalars": float(sum(s.type_name in ("float", "numpy.float64") for s in specs)),
        "object_args": float(sum(s.kind == "object" and s.type_name not in ("int", "float", "bool", "complex",
                                                                            "numpy.int64", "numpy.float64")
                                 for s in specs)),
    }


def _size_features(args: Sequence[object]) -> dict[str, float]:
    sizes: list[int] = []
    stack = list(args)
    while stack:
        value = stack.pop()
        if isinstance(value, np.ndarray):
            sizes.append(value.size)
        elif isinstance(value, (tuple, list)) and len(value) < 64:
            stack.extend(value)
    if not sizes:
        return {"elements_log10": 0.0, "largest_log10": 0.0}
    return {"elements_log10": math.log10(1 + sum(sizes)), "largest_log10": math.log10(1 + max(sizes))}


def features_of(fs: FunctionSource, signature: Signature, args: Sequence[object] | None = None,
                baseline_s: float | None = None, python_share: float | None = None) -> FunctionFeatures:
    """The features of ``fs`` called with ``signature`` (and, when given, these very arguments)."""
    values = ast_features(fs.walk(), set(fs.params))
    values.update(_signature_features(signature))
    if args is not None:
        values.update(_size_features(args))
    if baseline_s is not None and baseline_s > 0:
        values["baseline_log10_s"] = math.log10(baseline_s)
    if python_share is not None:
        values["python_share"] = float(python_share)
    return FunctionFeatures(**{k: float(v) for k, v in values.items()})
