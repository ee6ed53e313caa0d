"""NumPy's summation order in Pythran variants: ``sum`` and ``mean`` of float64 arrays, bit for bit.

Pythran vectorizes its own reductions (xsimd), adding in another order than NumPy's pairwise
one, so a Pythran variant of a function that sums floats was tried only when the tolerance
allowed reassociation; with the default one, array-style code ending in ``np.sum`` (energies,
losses, norms) got no Pythran candidate, though its element-wise part is where Pythran's SIMD
``sin``, ``cos`` and ``pow`` beat every other backend here.

The functions below are NumPy's ``pairwise_sum`` (``loops_utils.h.src``) written in the Python
Pythran compiles: blocks of at most 128 elements summed with 8 interleaved accumulators
combined as ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))``, longer runs split in two
halves (a multiple of 8 on the left), and the total added to NumPy's identity ``0.0``. Their
source is copied into the generated module, and ``keep_order`` points whole-array float sums
and means at them. They run in plain Python too, which is how the tests check them against NumPy.

They see the run as ``flatten()`` gives it, in C order, which is NumPy's order only where NumPy
walks the same run: any 1-d array (NumPy follows the index order, whatever the stride), and
C-contiguous arrays of more dimensions. ``refusal`` therefore keeps the substitution to float64
arrays whose arguments of two or more dimensions are C-contiguous, to functions that transpose
nothing, and to operands that are a fresh result (an expression, a call that returns a new
array), a parameter, or a subscript of a 1-d parameter: NumPy sums a non-contiguous 2-d view row
by row, not as one run. Anything else keeps its reduction listed, and the candidate skipped at
the default tolerance, as before.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Mapping, Sequence

from hotpath.rewriter.reduction_order import Order, keep_order
from hotpath.signature import ArgSpec, Signature

#: The alias ``keep_order`` writes (``ALIAS.pairwise_sum(x)``); calls to it become plain calls.
ALIAS = "hotpath_pairwise"
#: Attributes and functions that reorder axes or reverse them: a function using one is refused.
_REORDERING = frozenset({"T", "mT", "transpose", "swapaxes", "moveaxis", "rollaxis", "asfortranarray", "rot90",
                         "flip", "fliplr", "flipud"})
#: Calls whose result may be a view of their operand (a sum of one is not a fresh run).
_VIEWS = _REORDERING | {"reshape", "ravel", "view", "squeeze", "diagonal", "broadcast_to", "atleast_2d",
                        "atleast_3d", "expand_dims", "real", "imag", "asarray"}


def hotpath_pairwise_leaf(a, s, n):  # type: ignore[no-untyped-def]
    if n < 8:
        res = a[s]
        for i in range(s + 1, s + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[s], a[s + 1], a[s + 2], a[s + 3]
    r4, r5, r6, r7 = a[s + 4], a[s + 5], a[s + 6], a[s + 7]
    stop = s + n - n % 8
    for i in range(s + 8, stop, 8):
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(stop, s + n):
        res += a[i]
    return res


def hotpath_pairwise_tree(a, s, n):  # type: ignore[no-untyped-def]
    if n <= 128:
        return hotpath_pairwise_leaf(a, s, n)
    half = n // 2
    half -= half % 8
    return hotpath_pairwise_tree(a, s, half) + hotpath_pairwise_tree(a, s + half, n - half)


def hotpath_pairwise_sum(a):  # type: ignore[no-untyped-def]
    v = a.flatten()
    if v.size == 0:
        return 0.0
    return 0.0 + hotpath_pairwise_tree(v, 0, v.size)


def hotpath_pairwise_mean(a):  # type: ignore[no-untyped-def]
    v = a.flatten()
    if v.size == 0:
        return float("nan")
    return (0.0 + hotpath_pairwise_tree(v, 0, v.size)) / v.size


#: The functions above, as the generated module's source.
SOURCE = "\n\n".join(inspect.getsource(f).replace("  # type: ignore[no-untyped-def]", "")
                     for f in (hotpath_pairwise_leaf, hotpath_pairwise_tree, hotpath_pairwise_sum,
                               hotpath_pairwise_mean))


def _arrays(specs: tuple[ArgSpec, ...]) -> list[ArgSpec]:
    out = []
    for spec in specs:
        out += [spec] if spec.kind == "array" else _arrays(spec.items)
    return out


def refusal(trees: Sequence[ast.FunctionDef], signature: Signature) -> str | None:
    """Why the pairwise functions would not add the sums of ``trees`` (the function tuned at
    ``signature``, then its helpers) in NumPy's order; ``None`` if they may."""
    for spec in _arrays(signature.args):
        if spec.dtype is not None and spec.dtype.startswith(("float", "complex")) and spec.dtype != "float64":
            return f"NumPy's order is kept for float64 sums only, not {spec.dtype}"
        if (spec.ndim or 0) >= 2 and spec.layout != "C":
            return f"NumPy sums a {spec.ndim}-d array that is not C-contiguous in another order than one C-order run"
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Attribute) and node.attr in _REORDERING:
            return f"`{ast.unparse(node)}` reorders axes, and with them NumPy's order"
        if isinstance(node, ast.keyword) and node.arg == "order":
            return "an `order=` argument may change a layout, and with it NumPy's order"
    return None


def _fresh(operand: ast.expr, one_d: frozenset[str], params: frozenset[str]) -> bool:
    """Does ``operand`` hold a new C-order array, a parameter, or a view of a 1-d parameter?"""
    if isinstance(operand, (ast.BinOp, ast.UnaryOp, ast.Compare)):
        return True
    if isinstance(operand, ast.Call):
        func = operand.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        return name is not None and name not in _VIEWS
    if isinstance(operand, ast.Name):
        return operand.id in params
    if isinstance(operand, ast.Subscript):
        return isinstance(operand.value, ast.Name) and operand.value.id in one_d
    return False


class _Plain(ast.NodeTransformer):
    """``hotpath_pairwise.pairwise_sum(x)`` -> ``hotpath_pairwise_sum(x)``; records the operands."""

    def __init__(self) -> None:
        self.operands: list[ast.expr] = []

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == ALIAS:
            self.operands += node.args
            return ast.copy_location(ast.Call(ast.Name(f"hotpath_{func.attr}", ast.Load()), node.args, []), node)
        return node


def keep_numpy_order(trees: Sequence[ast.FunctionDef], signature: Signature, modules: Mapping[str, str],
                     integers: frozenset[str]) -> list[Order]:
    """``trees`` (the function tuned at ``signature``, then its helpers) with their whole-array
    float sums and means calling this module's functions where that keeps NumPy's order
    (``Order.substituted``), each with the reductions still reassociated."""
    unchanged = [keep_order(tree, modules, integers) for tree in trees]
    if refusal(trees, signature) is not None or not any(order.reassociations for order in unchanged):
        return unchanged
    out = []
    for index, tree in enumerate(trees):
        order = keep_order(tree, modules, integers, helper=ALIAS)
        plain = _Plain()
        renamed = plain.visit(order.tree)
        # A helper's parameters are whatever its callers pass: only the tuned function's are known.
        rebound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        params = frozenset(a.arg for a in tree.args.args) - rebound if index == 0 else frozenset()
        one_d = frozenset(p.arg for p, spec in zip(tree.args.args, signature.args)
                          if spec.kind == "array" and spec.ndim == 1) & params
        if not all(_fresh(operand, one_d, params) for operand in plain.operands):
            return unchanged
        out.append(Order(renamed, order.reassociations, order.substituted))
    return out


__all__ = ["ALIAS", "SOURCE", "hotpath_pairwise_mean", "hotpath_pairwise_sum", "keep_numpy_order", "refusal"]
