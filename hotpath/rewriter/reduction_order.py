"""Float reductions whose order a compiled variant would change, and NumPy's order where it can be kept.

NumPy sums a float array pairwise (``np.sum``, ``.sum()``, ``np.mean``) and hands ``np.dot`` and
``@`` to its BLAS; Numba sums sequentially and calls another BLAS, Pythran vectorizes its sums,
a parallel loop combines per-thread partial sums. Each order gives another rounding, and on
inputs with cancellation (``1e16, 1.0, -1e16``) another answer, far outside the default
tolerance. A candidate whose float reductions are added in another order than the original's
is therefore a *reassociating* variant, tried only when the tolerance allows fastmath
(``Config.allows_fastmath``), unless the rewrite reproduces the original's order.

``keep_order`` does that for Numba: a whole-array ``np.sum(x)``, ``x.sum()``, ``np.mean(x)``
or ``x.mean()`` calls ``hotpath.rewriter.devectorize.pairwise`` (NumPy's order, bit for bit);
with ``products`` set, a float ``a @ b``, ``np.dot``, ``np.matmul`` or ``a.dot(b)`` calls
``hotpath.rewriter.devectorize.numpy_products``, which runs NumPy's own call (its BLAS, its
order); every other float reduction is listed with a one-line description. ``reassociations`` only
lists them (for backends that cannot substitute). Integer (and boolean) reductions are exact
in any order and are left alone, where the signature shows the operand is integral.
"""

from __future__ import annotations

import ast
import copy
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The module whose ``pairwise_sum``/``pairwise_mean`` keep NumPy's order in Numba code.
PAIRWISE = "hotpath.rewriter.devectorize.pairwise"
#: The module whose ``matmul``/``dot`` run NumPy's own matrix products from Numba code.
PRODUCTS = "hotpath.rewriter.devectorize.numpy_products"

#: Whole-array reductions ``keep_order`` can route to the pairwise helpers.
_SUBSTITUTED = {"sum": "pairwise_sum", "mean": "pairwise_mean"}
#: NumPy functions and methods that add floats in an order the compiled code does not reproduce.
#: Not ``cumsum``: NumPy accumulates one term after another (``np.add.accumulate``), as Numba's
#: and Pythran's do, so each partial sum is the same number.
_REDUCING = {"sum", "mean", "nansum", "nanmean", "average", "var", "std", "nanvar", "nanstd",
             "nancumsum", "dot", "vdot", "inner", "matmul", "tensordot", "einsum", "trace", "norm",
             "trapz", "trapezoid", "cov", "corrcoef", "convolve", "correlate"}
_METHODS = {"sum", "mean", "var", "std", "dot", "trace"}
_INT_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.BitAnd, ast.BitOr, ast.BitXor,
            ast.LShift, ast.RShift)
#: Python 3.12's ``sum()`` of floats is compensated (Neumaier); compiled code adds plainly.
BUILTIN_SUM_COMPENSATED = sys.version_info >= (3, 12)


@dataclass(frozen=True)
class Order:
    """A function with NumPy's order kept where it could be, and the reductions where it could not."""

    tree: ast.FunctionDef
    reassociations: tuple[str, ...]  # e.g. "np.dot(X, w): BLAS call of another library"
    substituted: bool  # some reduction now calls the pairwise helpers, or a product NumPy's


def integer_names(fn: ast.FunctionDef, args: Sequence[Any]) -> frozenset[str]:
    """Parameters whose signature shows integers or booleans (``ArgSpec``s), and never rebound."""
    rebound = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    out = set()
    for param, spec in zip(fn.args.args, args):
        if param.arg in rebound:
            continue
        if spec.kind == "array" and spec.dtype is not None and np.dtype(spec.dtype).kind in "biu":
            out.add(param.arg)
        elif spec.kind == "object" and (spec.type_name in ("int", "bool") or spec.type_name.startswith(
                ("numpy.int", "numpy.uint", "numpy.bool"))):
            out.add(param.arg)
    return frozenset(out)


def integral(node: ast.expr, integers: frozenset[str]) -> bool:
    """Whether ``node`` certainly holds integers or booleans (``integers``: names known to)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (bool, int))
    if isinstance(node, ast.Name):
        return node.id in integers
    if isinstance(node, ast.Subscript):
        return integral(node.value, integers)
    if isinstance(node, ast.BinOp) and isinstance(node.op, _INT_OPS):
        return integral(node.left, integers) and integral(node.right, integers)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.Not) or integral(node.operand, integers)
    if isinstance(node, (ast.Compare, ast.BoolOp)):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in ("len", "int", "bool")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                                  "intp", "bool_", "isnan", "isinf", "isfinite")
    return False


def _operands(call: ast.Call, method: bool) -> list[ast.expr]:
    """What a reduction adds up: the array of ``x.sum()``, ``x.dot(y)``; the arguments of ``np.dot``."""
    if method and isinstance(call.func, ast.Attribute):
        return [call.func.value, *call.args]
    return list(call.args)


class _Finder(ast.NodeTransformer):
    def __init__(self, numpy: frozenset[str], integers: frozenset[str], helper: str | None,
                 builtin_sum: bool, products: str | None = None) -> None:
        self.builtin_sum = builtin_sum
        self.products = products
        self.numpy = numpy
        self.integers = integers
        self.helper = helper
        self.reasons: list[str] = []
        self.substituted = False

    def _numpy_name(self, func: ast.expr) -> str | None:
        """``sum`` for ``np.sum``, ``norm`` for ``np.linalg.norm``; None for other callees."""
        if isinstance(func, ast.Attribute):
            root = func.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in self.numpy:
                return func.attr
        return None

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.MatMult) and not (integral(node.left, self.integers)
                                                     and integral(node.right, self.integers)):
            if self.products is not None:
                return self._numpy_product("matmul", [node.left, node.right], node)
            self.reasons.append(f"{ast.unparse(node)}: a matrix product in another BLAS or loop order")
        return node

    def _numpy_product(self, kind: str, operands: list[ast.expr], node: ast.AST) -> ast.AST:
        self.substituted = True
        func = ast.Attribute(ast.Name(self.products, ast.Load()), kind, ast.Load())  # type: ignore[arg-type]
        return ast.copy_location(ast.Call(func, operands, []), node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        name = self._numpy_name(node.func)
        method = (node.func.attr if name is None and isinstance(node.func, ast.Attribute)
                  and node.func.attr in _METHODS else None)
        builtin = isinstance(node.func, ast.Name) and node.func.id == "sum"
        kind = name if name in _REDUCING else method
        if kind is None and not builtin:
            return node
        operands = _operands(node, name is None and not builtin)
        if operands and all(integral(o, self.integers) for o in operands):
            return node  # integer sums are exact in any order
        if builtin:
            if not self.builtin_sum:
                self.reasons.append(f"{ast.unparse(node)}: Python adds one term after another"
                                    + (", compensated for floats" if BUILTIN_SUM_COMPENSATED else ""))
            return node
        whole = ((name is not None and len(node.args) == 1 and not isinstance(node.args[0], ast.Starred))
                 or (method is not None and not node.args)) and not node.keywords
        if kind in ("dot", "matmul") and self.products is not None and len(operands) == 2 and not node.keywords:
            return self._numpy_product(kind, operands, node)
        if kind in _SUBSTITUTED and whole and self.helper is not None:
            self.substituted = True
            func = ast.Attribute(ast.Name(self.helper, ast.Load()), _SUBSTITUTED[kind], ast.Load())
            return ast.copy_location(ast.Call(func, [operands[0]], []), node)
        self.reasons.append(f"{ast.unparse(node)}: {_why(kind)}")  # type: ignore[arg-type]
        return node


def _why(kind: str) -> str:
    if kind in ("dot", "vdot", "inner", "matmul", "tensordot", "einsum"):
        return "a dot product in another BLAS or loop order"
    return "summed in another order than NumPy's pairwise one"


def keep_order(fn: ast.FunctionDef, modules: Mapping[str, str], integers: frozenset[str] = frozenset(),
               helper: str | None = None, builtin_sum: bool = not BUILTIN_SUM_COMPENSATED,
               products: str | None = None) -> Order:
    """``fn`` with whole-array float sums and means calling ``helper`` (an alias of ``PAIRWISE``;
    ``None``: nothing substituted), float matrix products calling ``products`` (an alias of
    ``PRODUCTS``; ``None``: listed), and the float reductions whose order it does not keep.
    ``builtin_sum``: whether the compiler adds ``sum()``'s terms one after another, as Python does."""
    numpy = frozenset(alias for alias, module in modules.items() if module == "numpy" or module.startswith("numpy."))
    finder = _Finder(numpy, integers, helper, builtin_sum, products)
    tree = finder.visit(copy.deepcopy(fn))
    ast.fix_missing_locations(tree)
    return Order(tree, tuple(dict.fromkeys(finder.reasons)), finder.substituted)


def reassociations(fn: ast.FunctionDef, modules: Mapping[str, str],
                   integers: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The float reductions of ``fn`` a compiler free to order its sums may reassociate
    (every NumPy reduction and ``sum()`` of floats; loops it leaves in their order)."""
    return keep_order(fn, modules, integers, builtin_sum=False).reassociations


def parallel_reassociations(fn: ast.FunctionDef, modules: Mapping[str, str],
                            integers: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Float products Numba's ``parallel=True`` turns into per-thread partial products.

    NumPy multiplies one term after another, and so does a serial compiled loop; a parallel
    reduction does not. (Sums are ``keep_order``'s: they call the pairwise helpers, which the
    parallel pass leaves alone.)
    """
    numpy = frozenset(alias for alias, module in modules.items() if module == "numpy")
    out = []
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "prod"):
            continue
        is_numpy = isinstance(node.func.value, ast.Name) and node.func.value.id in numpy
        operands = list(node.args[:1]) if is_numpy else [node.func.value]
        if operands and not all(integral(o, integers) for o in operands):
            out.append(f"{ast.unparse(node)}: multiplied in per-thread parts")
    return tuple(out)


def skip_reason(reasons: tuple[str, ...] | list[str], min_rtol: float) -> str:
    """The ``Skipped`` reason of a candidate that reassociates these reductions."""
    shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    return (f"reassociates a float reduction ({shown}); tried only when rtol >= {min_rtol:g} "
            "or fastmath=True")
