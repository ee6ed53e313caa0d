"""Forward substitution of cheap element-wise locals: recompute at each use, do not materialize.

Lab code names its masks and masked copies and reads them in several reductions::

    valid = np.isfinite(x) & (w > 0)
    ww = np.where(valid, w, 0.0)
    total = ww.sum()
    mean = (ww * x).sum() / total

Single-use locals are fused by the driver (``transform``); a local read by several statements
would be materialized, one full write and read of memory per use, for a few flops per element.
This pass substitutes the defining expression into every use when recomputing it is exactly
the same value and cheap:

* the expression is element-wise and cheap: names, numeric constants, ``+ - * & | ~``,
  comparisons, constant-index subscripts of names and a few NumPy ufuncs that cannot fail on
  values (``where``, ``isfinite``, ``abs``, ``maximum``, ...); no division, power, reduction or
  transcendental call (those are worth computing once);
* the name is bound once in the function and every read of it is in the simple statements
  that follow in the same block, before any other statement: only assignments to names and
  ``return``, none rebinding a name the expression reads, none calling anything but NumPy
  ufuncs, reductions and non-mutating array methods without ``out=`` (so no array the
  expression reads can change before a use);
* the statements before the first use are themselves cheap, or sums, means, products,
  ``any``/``all`` of cheap expressions: like the expression, they can fail only on operands
  that do not broadcast (``ValueError``), so a failing call fails with the original's error.

The substituted expressions then go through the same rules as if the author had written them
inline; where a use is not lowered, NumPy evaluates the expression there, with the same result.
"""

from __future__ import annotations

import ast
import copy

import numpy as np

from hotpath.rewriter.devectorize.oracle import BUILTIN_FUNCTIONS
from hotpath.syntax import names_in
from hotpath.vocabulary import ARRAY_METHODS

#: NumPy functions a cheap definition may call: element-wise, no floating-point exception to keep.
CHEAP_CALLS = {"where", "isfinite", "isnan", "isinf", "abs", "absolute", "fabs", "maximum", "minimum",
               "fmax", "fmin", "logical_and", "logical_or", "logical_not", "logical_xor", "negative",
               "positive", "sign"}
_CHEAP_OPS = (ast.Add, ast.Sub, ast.Mult, ast.BitAnd, ast.BitOr, ast.BitXor)
_PURE_METHODS = ARRAY_METHODS - {"round"}
_QUIET_REDUCTIONS = {"sum", "mean", "prod", "any", "all"}


def substitute(fn: ast.FunctionDef, modules: dict[str, str]) -> ast.FunctionDef:
    """``fn`` (a copy) with cheap multi-use locals substituted into their uses."""
    fn = copy.deepcopy(fn)
    numpy = {alias for alias, module in modules.items() if module == "numpy"}
    params = {a.arg for a in fn.args.args}
    for node in ast.walk(fn):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                _block(fn, block, numpy, params)
    return fn


def _block(fn: ast.FunctionDef, block: list[ast.stmt], numpy: set[str], params: set[str]) -> None:
    position = 0
    while position < len(block):
        stmt = block[position]
        name = _candidate(fn, stmt, numpy, params)
        span = _span(fn, block, position, name, numpy) if name is not None else None
        if span is None:
            position += 1
            continue
        value = stmt.value  # type: ignore[attr-defined]
        for later in block[position + 1:position + 1 + span]:
            _replace(later, name, value)  # type: ignore[arg-type]
        del block[position]
        # The statement now at ``position`` may itself be a candidate that reads ``value``.
        position = max(position - 1, 0)


def _candidate(fn: ast.FunctionDef, stmt: ast.stmt, numpy: set[str], params: set[str]) -> str | None:
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return None
    name = stmt.targets[0].id
    if name in params or _stores(fn, name) != 1 or not _cheap(stmt.value, numpy):
        return None
    if not any(isinstance(n, (ast.Call, ast.Compare, ast.BinOp, ast.UnaryOp)) for n in ast.walk(stmt.value)):
        return None  # a bare name or view: nothing to fuse
    if name in names_in(stmt.value):
        return None
    return name


def _span(fn: ast.FunctionDef, block: list[ast.stmt], position: int, name: str, numpy: set[str]) -> int | None:
    """How many statements after ``position`` to substitute into, or None when it is not safe."""
    total = _loads(fn, name)
    if total < 2:
        return None  # single-use locals are the driver's (it also checks the loops they land in)
    reads = names_in(block[position].value)  # type: ignore[attr-defined]
    seen = 0
    for count, later in enumerate(block[position + 1:], 1):
        if not _pure_simple(later, numpy):
            return None
        if seen == 0 and _loads(later, name) == 0 and not (isinstance(later, ast.Assign)
                                                            and _cheap(later.value, numpy, quiet=True)):
            return None  # it could raise an error of its own before the first use
        targets = {t.id for t in getattr(later, "targets", [getattr(later, "target", None)]) if isinstance(t, ast.Name)}
        seen += _loads(later, name)
        if targets & (reads | {name}):
            return None
        if seen == total:
            return count
    return None


def _pure_simple(stmt: ast.stmt, numpy: set[str]) -> bool:
    """An assignment to a name or a return whose value calls nothing that could write memory."""
    if isinstance(stmt, ast.Assign):
        if not all(isinstance(t, ast.Name) for t in stmt.targets):
            return False
    elif not isinstance(stmt, ast.Return):
        return False
    value = stmt.value
    if value is None:
        return True
    for node in ast.walk(value):
        if isinstance(node, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
            return False
        if not isinstance(node, ast.Call):
            continue
        if any(k.arg in (None, "out") for k in node.keywords):
            return False
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in numpy:
            member = getattr(np, func.attr, None)
            if not (isinstance(member, np.ufunc) or func.attr in _PURE_METHODS | {"where", "clip"}):
                return False
        elif isinstance(func, ast.Attribute):
            if func.attr not in _PURE_METHODS:
                return False
        elif not (isinstance(func, ast.Name) and func.id in BUILTIN_FUNCTIONS):
            return False
    return True


def _cheap(node: ast.expr, numpy: set[str], quiet: bool = False) -> bool:
    """Element-wise and unable to fail but on operands that do not broadcast (or by dtype, on
    every call alike); ``quiet`` also allows ``sum``, ``mean``, ``prod``, ``any`` and ``all``."""
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float, bool))
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, _CHEAP_OPS) and _cheap(node.left, numpy, quiet) and _cheap(node.right, numpy, quiet)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)) and _cheap(node.operand, numpy, quiet)
    if isinstance(node, ast.Compare):
        return len(node.ops) == 1 and _cheap(node.left, numpy, quiet) and _cheap(node.comparators[0], numpy, quiet)
    if isinstance(node, ast.Subscript):  # slices never raise; integer indices may
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return isinstance(node.value, ast.Name) and all(_quiet_index(i) for i in items)
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    func = node.func
    module = isinstance(func.value, ast.Name) and func.value.id in numpy
    if module and func.attr in CHEAP_CALLS:
        return not node.keywords and all(_cheap(a, numpy, quiet) for a in node.args)
    if quiet and func.attr in _QUIET_REDUCTIONS and not node.keywords:
        operands = node.args[:1] if module else [func.value]
        options = node.args[1:] if module else node.args
        return (len(operands) == 1 and all(isinstance(o, ast.Constant) and isinstance(o.value, int) for o in options)
                and _cheap(operands[0], numpy, quiet))
    return False


def _quiet_index(item: ast.expr) -> bool:
    if isinstance(item, ast.Constant):
        return item.value is None or item.value is Ellipsis
    if isinstance(item, ast.Attribute):
        return item.attr == "newaxis"
    if isinstance(item, ast.Slice):
        return all(b is None or isinstance(b, ast.Constant) and isinstance(b.value, int)
                   or isinstance(b, ast.UnaryOp) and isinstance(b.op, ast.USub) and isinstance(b.operand, ast.Constant)
                   for b in (item.lower, item.upper, item.step))
    return False


def _stores(fn: ast.FunctionDef, name: str) -> int:
    count = sum(1 for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id == name and not isinstance(n.ctx, ast.Load))
    return count + sum(1 for a in fn.args.args if a.arg == name)


def _loads(tree: ast.AST, name: str) -> int:
    count = sum(1 for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load))
    return count + sum(1 for n in ast.walk(tree) if isinstance(n, ast.AugAssign)
                       and isinstance(n.target, ast.Name) and n.target.id == name)


def _replace(stmt: ast.stmt, name: str, value: ast.expr) -> None:
    class Replace(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            if node.id == name and isinstance(node.ctx, ast.Load):
                return copy.deepcopy(value)
            return node

    Replace().visit(stmt)
