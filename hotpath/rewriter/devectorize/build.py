"""Lower one NumPy expression (an AST) to the element-wise IR, with its broadcast shape.

The rules, each small and composable:

* a name bound to an array reads it with one fresh loop axis per array axis;
* ``a[lo:hi, k, None]`` reads with offsets, a fixed index, or a new length-1 axis
  (``None``/``np.newaxis``); ``.T`` reverses the axes. Bounds that are not literals
  (``a[1 + ip:n - 1 + ip]`` in ``for ip in range(2)``) are placed on the axis before the loops,
  clamped and counted from the end as NumPy does, since their sign is known only at run time;
* any expression indexed by only ``:``, ``None`` and ``...`` (``x.sum(axis=1)[:, None]``) is
  that expression with length-1 axes inserted: it reads nothing new;
* an operator, ufunc or ``np.where`` broadcasts its operands' shapes right-aligned: a length-1
  axis takes the other operand's axis, two loop axes are unified (they become one loop);
* a reduction (``sum``, ``prod``, ``max``, ``min``, ``mean``, ``any``, ``all``, ``argmax``,
  ``argmin``; ``std``/``var`` rewritten into means, ``count_nonzero`` into a sum of ``!= 0``)
  removes axes from the shape, or keeps them as length 1 with ``keepdims``;
* a boolean selection ``x[mask]`` inside a whole-array reduction is the data gated by the mask
  (``Reduce.mask``), when nothing else meets the compacted values;
* ``np.diff`` of a named array is the difference of two shifted slices; ``.real``, ``.imag``
  and ``np.conj`` are scalar operations on complex elements;
* a floating matrix product (``@``, ``np.dot``, ``np.matmul``) stays a call, computed once
  before the loops into a local the nest reads;
* a scalar that does not touch array data is kept as source text (a loop invariant).

Anything else raises ``Unsupported`` and the statement is left as NumPy code. Each node's dtype
comes from evaluating that very sub-expression with NumPy on stand-ins (see ``oracle``).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hotpath.rewriter.devectorize import ir
from hotpath.rewriter.devectorize.oracle import Oracle, Unknown, dtype_of, is_array, is_weak

#: Ufuncs with a scalar form every backend can call element-wise (NumPy spelling).
UNARY_UFUNCS = {
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "square",
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
    "arccosh", "arctanh", "absolute", "fabs", "negative", "positive", "floor", "ceil", "trunc",
    "rint", "sign", "isnan", "isinf", "isfinite", "reciprocal", "deg2rad", "rad2deg",
    "logical_not",
}
BINARY_UFUNCS = {"maximum", "minimum", "fmax", "fmin", "arctan2", "hypot", "power", "add",
                 "subtract", "multiply", "divide", "true_divide", "logical_and", "logical_or"}
_UFUNC_ALIASES = {"abs": "absolute", "amax": "max", "amin": "min", "degrees": "rad2deg",
                  "radians": "deg2rad", "conjugate": "conj"}
_OPERATOR_UFUNCS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "true_divide": "/",
                    "power": "**", "logical_and": "&", "logical_or": "|"}
REDUCTIONS = {"sum", "prod", "max", "min", "mean", "any", "all", "argmax", "argmin"}
#: Parts of complex numbers, lowered to the scalar's attribute or method.
COMPLEX_PARTS = {"real", "imag", "conj"}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
           ast.Mod: "%", ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_METADATA = {"shape", "ndim", "size", "dtype"}

Shape = tuple[int | None, ...]  # loop axis id per result axis; None is a length-1 axis


class Unsupported(Exception):
    """The expression is outside the rules; the statement stays NumPy code."""


@dataclass(frozen=True)
class Built:
    """An expression lowered to IR, and the loop axis (or length 1) of each result axis."""

    expr: ir.Expr
    shape: Shape


class Builder:
    """Lowers the expressions of one statement; axes unified here become one loop."""

    def __init__(self, oracle: Oracle, inline: Mapping[str, ast.expr] | None = None,
                 same_shape: Mapping[str, str] | None = None, fresh: Callable[[str], str] | None = None) -> None:
        self.oracle = oracle
        # Fresh local names; without them, matrix products are not lowered (see ``_product``).
        self.fresh = fresh
        #: Matrix products left to BLAS: (local name, call), computed before the statement's loops.
        self.calls: list[tuple[str, ast.expr]] = []
        #: Slice bounds known only at run time, placed on their axis: (local name, source text),
        #: computed before the statement's loops, once each.
        self.bounds: dict[str, str] = {}
        self.inline = dict(inline or {})
        # name -> an array known to have the same shape (u_new = u.copy()): extents are spelled
        # with it, so equal lengths are visibly equal and need no run-time broadcast check.
        self.same_shape = dict(same_shape or {})
        self.inlined: dict[str, ir.Expr] = {}
        # Boolean-mask selections (``x[m]``) met while building the operand of a whole-array
        # reduction: (mask, first and last axis id the selection created). None: not allowed here.
        self._selections: list[tuple[ir.Expr, int, int]] | None = None
        #: Lengths that must be equal, no broadcasting (a boolean mask's and its data's): the
        #: nest raises NumPy's IndexError first when they are not.
        self.equal_lengths: list[tuple[str, str]] = []
        self._parent: dict[int, int] = {}
        self._extents: dict[int, list[str]] = {}
        self.authoritative: dict[int, str] = {}

    # -- axes --------------------------------------------------------------------------------
    def new_axis(self, extent: str) -> int:
        axis = len(self._parent)
        self._parent[axis] = axis
        self._extents[axis] = [extent]
        return axis

    def find(self, axis: int) -> int:
        while self._parent[axis] != axis:
            self._parent[axis] = self._parent[self._parent[axis]]
            axis = self._parent[axis]
        return axis

    def unify(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._parent[rb] = ra
            self._extents[ra] += [e for e in self._extents.pop(rb) if e not in self._extents[ra]]
            if rb in self.authoritative:
                self.authoritative.setdefault(ra, self.authoritative.pop(rb))
        return ra

    def extents(self, axis: int) -> list[str]:
        """Distinct source texts of the lengths that meet on ``axis``'s loop."""
        return list(self._extents[self.find(axis)])

    def broadcast(self, shapes: list[Shape]) -> Shape:
        rank = max((len(s) for s in shapes), default=0)
        out: list[int | None] = []
        for position in range(rank):
            axis: int | None = None
            for shape in shapes:
                offset = position - (rank - len(shape))
                if offset < 0 or shape[offset] is None:
                    continue
                axis = shape[offset] if axis is None else self.unify(axis, shape[offset])  # type: ignore[arg-type]
            out.append(axis)
        return self.distinct(tuple(out))

    def distinct(self, shape: Shape) -> Shape:
        """``shape`` itself, checked: ``Unsupported`` when two of its axes would be one loop."""
        roots = [self.find(a) for a in shape if a is not None]
        if len(set(roots)) != len(roots):
            # x * x.T on a square array would need a diagonal: outside the rules.
            raise Unsupported("two axes of one result would share a loop")
        return shape

    # -- expressions -------------------------------------------------------------------------
    def value(self, node: ast.expr) -> Any:
        try:
            return self.oracle.evaluate(node)
        except Unknown as exc:
            flattened = self._unselected(node)
            if flattened is None:
                raise Unsupported(str(exc)) from None
        try:
            # On stand-ins a selection may be empty (``x[x > 5].max()`` raises there): its dtype
            # and rank are those of the flattened data, which selects every element.
            return self.oracle.evaluate(flattened)
        except Unknown as exc:
            raise Unsupported(str(exc)) from None

    def _unselected(self, node: ast.expr) -> ast.expr | None:
        """``node`` with each boolean selection ``d[m]`` replaced by ``d.ravel()``; None if it has none."""
        found = False

        class Flatten(ast.NodeTransformer):
            def visit_Subscript(inner, sub: ast.Subscript) -> ast.expr:  # noqa: N805 - the builder is self
                nonlocal found
                inner.generic_visit(sub)
                if not isinstance(sub.slice, (ast.Tuple, ast.Slice)) and self._is_mask(sub.slice):
                    found = True
                    return ast.Call(ast.Attribute(sub.value, "ravel", ast.Load()), [], [])
                return sub

        flattened = ast.fix_missing_locations(Flatten().visit(copy.deepcopy(node)))
        return flattened if found else None

    def dtype(self, node: ast.expr) -> np.dtype:
        try:
            return dtype_of(self.value(node))
        except Unknown as exc:
            raise Unsupported(str(exc)) from None

    def build_operand(self, node: ast.expr) -> Built:
        """``node`` as the operand of a whole-array reduction would be built: a boolean selection
        (``x[x > 0]``) is allowed in it. For a definition that may be inlined into one."""
        saved, self._selections = self._selections, []
        try:
            return self.build(node)
        finally:
            self._selections = saved

    def build(self, node: ast.expr) -> Built:
        """``node`` as IR; raises ``Unsupported``."""
        built = self._build(node)
        if np.ndim(self.value(node)) != len(built.shape):
            raise Unsupported(f"rank mismatch lowering {ast.unparse(node)}")  # a rule is wrong: refuse
        return built

    def _build(self, node: ast.expr) -> Built:
        if isinstance(node, ast.Name) and node.id in self.inline:
            built = self._build(self.inline[node.id])
            self.inlined[node.id] = built.expr
            return built
        if self._is_invariant(node):
            value = self.value(node)
            return Built(ir.Scalar(dtype_of(value), source=ast.unparse(node), weak=is_weak(value)), ())
        if self._is_product(node):
            return self._product(node)
        if isinstance(node, ast.Name):
            return self.read(node.id, [])
        if isinstance(node, ast.Subscript):
            index = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
            if len(index) == 1 and self._is_mask(index[0]):
                return self._selection(node.value, index[0])
            if isinstance(node.value, ast.Name) and not (node.value.id in self.inline and _new_axes_only(index)):
                return self.read(node.value.id, index)
            return self._new_axes(self._build(node.value), index)
        if isinstance(node, ast.Attribute) and node.attr == "T":
            inner = self._build(node.value)
            return Built(inner.expr, tuple(reversed(inner.shape)))
        if isinstance(node, ast.Attribute) and node.attr in ("real", "imag"):
            return self._complex_part(node, node.attr, node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self._binary(node, _BINOPS[type(node.op)], node.left, node.right)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMPOPS:
            return self._binary(node, _CMPOPS[type(node.ops[0])], node.left, node.comparators[0])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
            inner = self._build(node.operand)
            dtype = self.dtype(node)
            op = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}[type(node.op)]
            if op == "~" and dtype == np.bool_:
                op = "not"
            return Built(ir.Unary(dtype, op=op, operand=inner.expr), inner.shape)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise Unsupported(f"{type(node).__name__} is not lowered")

    def _is_invariant(self, node: ast.expr) -> bool:
        """A scalar that reads no array data: metadata (``x.shape[0]``), parameters, constants."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (int, float, bool, complex))
        parents = {c: p for p in ast.walk(node) for c in ast.iter_child_nodes(p)}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in self.inline:
                return False
            if isinstance(sub, ast.Name) and isinstance(self.oracle.values.get(sub.id), np.ndarray):
                parent = parents.get(sub)
                metadata = (isinstance(parent, ast.Attribute) and parent.attr in _METADATA) or (
                    isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name)
                    and parent.func.id == "len")
                if not metadata:
                    return False
        try:
            value = self.oracle.evaluate(node)
        except Unknown:
            return False
        return isinstance(value, (bool, int, float, complex, np.generic))

    def _slice_bound(self, node: ast.expr) -> int | str:
        """A slice bound as an int (a literal) or the source text of a loop-invariant integer
        (``1 + ip`` inside ``for ip in range(2)``, ``n - k``)."""
        try:
            value = ast.literal_eval(node)
        except ValueError:
            known = self.value(node) if self._is_invariant(node) else None
            if isinstance(known, (int, np.integer)) and not isinstance(known, (bool, np.bool_)):
                return f"({ast.unparse(node)})"
            raise Unsupported(f"slice bound {ast.unparse(node)} is not a constant or a loop-invariant integer") from None
        if not isinstance(value, int) or isinstance(value, bool):
            raise Unsupported("slice bounds must be integers")
        return value

    def _bind(self, text: str) -> str:
        """A local holding ``text`` (bound before the loops), or the text itself where there are no locals."""
        if self.fresh is None:
            return text
        for name, bound in self.bounds.items():
            if bound == text:
                return name
        name = self.fresh("b")
        self.bounds[name] = text
        return name

    def read(self, name: str, index: list[ast.expr]) -> Built:
        """The IR of reading array ``name`` at ``index`` (whole, sliced or indexed)."""
        array = self.oracle.values.get(name)
        if not is_array(array):
            raise Unsupported(f"{name!r} is not a known array")
        if any(isinstance(i, ast.Constant) and i.value is Ellipsis for i in index):
            if sum(isinstance(i, ast.Constant) and i.value is Ellipsis for i in index) > 1:
                raise Unsupported("more than one Ellipsis")
            at = next(k for k, i in enumerate(index) if isinstance(i, ast.Constant) and i.value is Ellipsis)
            used = sum(1 for i in index if not _is_none(i)) - 1
            index = index[:at] + [ast.Slice()] * (array.ndim - used) + index[at + 1:]  # type: ignore[union-attr]
        if sum(1 for i in index if not _is_none(i)) > array.ndim:  # type: ignore[union-attr]
            raise Unsupported("too many indices")
        index = index + [ast.Slice()] * (array.ndim - sum(1 for i in index if not _is_none(i)))  # type: ignore[union-attr]
        reads: list[ir.Index] = []
        shape: list[int | None] = []
        axis = 0
        for item in index:
            if _is_none(item):
                shape.append(None)
                continue
            length = f"{self.same_shape.get(name, name)}.shape[{axis}]"
            if isinstance(item, ast.Slice):
                offset, extent = _slice(item, length, self._slice_bound, self._bind)
                new = self.new_axis(extent)
                reads.append(ir.AxisIndex(new, offset, extent))
                shape.append(new)
            else:
                if not self._is_invariant(item) or not isinstance(self.value(item), (int, np.integer)):
                    raise Unsupported(f"index {ast.unparse(item)} is not a constant-offset slice or an integer")
                reads.append(ir.FixedIndex(ast.unparse(item), length))
            axis += 1
        return Built(ir.Read(array.dtype, name=name, index=tuple(reads)), self.distinct(tuple(shape)))  # type: ignore[union-attr]

    def _new_axes(self, inner: Built, index: list[ast.expr]) -> Built:
        """``E[:, None]`` of any expression ``E``: ``:`` keeps an axis, ``None`` inserts a length-1 one."""
        if not _new_axes_only(index):
            raise Unsupported("an expression is indexed by more than ':', None and '...'")
        kept = sum(1 for i in index if isinstance(i, ast.Slice))
        if kept > len(inner.shape) or sum(1 for i in index if _is_ellipsis(i)) > 1:
            raise Unsupported("too many indices")
        shape: list[int | None] = []
        rest = list(inner.shape)
        for item in index:
            if _is_none(item):
                shape.append(None)
            elif _is_ellipsis(item):
                shape += rest[:len(rest) - kept]
                rest = rest[len(rest) - kept:]
            else:
                shape.append(rest.pop(0))
                kept -= 1
        return Built(inner.expr, tuple(shape + rest))

    def _binary(self, node: ast.expr, op: str, left: ast.expr, right: ast.expr) -> Built:
        a = self._build(left)
        # ``d * d``: one operand built twice would be the same element anyway; building it once
        # lets the emitter see one expression (and compute any reduction in it once).
        b = a if ast.dump(left) == ast.dump(right) else self._build(right)
        dtype = self.dtype(node)
        if op in "+-*" and dtype == np.bool_:
            raise Unsupported("boolean arithmetic")  # NumPy's bool + bool is logical or
        if op == "**" and dtype.kind in "iu":
            exponent = right.value if isinstance(right, ast.Constant) else None
            if not (isinstance(exponent, int) and exponent >= 0):
                raise Unsupported("integer power with a non-constant or negative exponent")
        if op == "**" and isinstance(right, ast.Constant) and right.value == 0.5 and dtype.kind == "f":
            # NumPy computes x ** 0.5 as sqrt(x) (which differs from pow at -inf).
            return Built(ir.Call(dtype, func="sqrt", args=(a.expr,)), self.broadcast([a.shape, b.shape]))
        return Built(ir.Binary(dtype, op=op, left=a.expr, right=b.expr), self.broadcast([a.shape, b.shape]))

    def _numpy_function(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and self.oracle.is_numpy(func.value.id):
            return _UFUNC_ALIASES.get(func.attr, func.attr)
        if isinstance(func, ast.Name) and func.id == "abs" and func.id not in self.oracle.values:
            return "absolute"
        return None

    def _call(self, node: ast.Call) -> Built:
        name = self._numpy_function(node.func)
        if name is not None:
            args = list(node.args)
            if name in REDUCTIONS | {"std", "var"} and args:
                return self._reduction(node, name, args[0], args[1:], node.keywords)
            if name == "count_nonzero" and len(args) == 1:
                return self._reduction(node, "sum", self._nonzero(args[0]), [], node.keywords)
            if name == "diff" and len(args) == 1:
                return self._build(self._difference(node, args[0]))
            if name in COMPLEX_PARTS and len(args) == 1 and not node.keywords:
                return self._complex_part(node, name, args[0])
            if node.keywords:
                raise Unsupported(f"keyword arguments to np.{name}")
            if name == "where" and len(args) == 3:
                parts = [self._build(a) for a in args]
                return Built(ir.Where(self.dtype(node), cond=parts[0].expr, then=parts[1].expr,
                                      other=parts[2].expr), self.broadcast([p.shape for p in parts]))
            if name == "clip" and len(args) == 3:
                return self._build(_clip(node.func, args[0], args[1], args[2]))
            if name in _OPERATOR_UFUNCS and len(args) == 2:
                return self._binary(node, _OPERATOR_UFUNCS[name], args[0], args[1])
            if (name in UNARY_UFUNCS and len(args) == 1) or (name in BINARY_UFUNCS and len(args) == 2):
                parts = [self._build(a) for a in args]
                return Built(ir.Call(self.dtype(node), func=name, args=tuple(p.expr for p in parts)),
                             self.broadcast([p.shape for p in parts]))
            raise Unsupported(f"np.{name} is not lowered")
        if isinstance(node.func, ast.Attribute):  # a method of an array expression
            method = _UFUNC_ALIASES.get(node.func.attr, node.func.attr)
            if method in REDUCTIONS | {"std", "var"}:
                return self._reduction(node, method, node.func.value, list(node.args), node.keywords)
            if method == "clip" and len(node.args) == 2 and not node.keywords:
                numpy = next((a for a, m in self.oracle.modules.items() if m == "numpy"), None)
                if numpy is not None:
                    func = ast.Attribute(ast.Name(numpy, ast.Load()), "clip", ast.Load())
                    return self._build(_clip(func, node.func.value, *node.args))
            if method == "copy" and not node.args and not node.keywords:
                return self._build(node.func.value)
            if method == "conj" and not node.args and not node.keywords:
                return self._complex_part(node, "conj", node.func.value)
        raise Unsupported(f"call {ast.unparse(node.func)} is not lowered")

    def _reduction(self, node: ast.Call, kind: str, operand: ast.expr, args: list[ast.expr],
                   keywords: list[ast.keyword]) -> Built:
        options: dict[str, ast.expr] = {}
        if len(args) > 1:
            raise Unsupported("positional arguments after axis")
        if args:
            options["axis"] = args[0]
        for keyword in keywords:
            if keyword.arg not in ("axis", "keepdims"):
                raise Unsupported(f"{kind}(..., {keyword.arg}=) is not lowered")
            options[keyword.arg] = keyword.value
        if kind in ("std", "var"):
            numpy = next((a for a, m in self.oracle.modules.items() if m == "numpy"), None)
            if numpy is None or self.dtype(operand).kind not in "biuf":
                raise Unsupported(f"{kind} needs numpy imported and a real operand")
            return self._build(_variance(numpy, kind, operand, options))
        try:
            axis = ast.literal_eval(options["axis"]) if "axis" in options else None
            keepdims = ast.literal_eval(options["keepdims"]) if "keepdims" in options else False
        except ValueError:
            raise Unsupported("axis and keepdims must be constants") from None
        if kind in ("argmax", "argmin") and self.dtype(operand).kind not in "biuf":
            raise Unsupported(f"{kind} of complex or non-numeric values")
        selections, self._selections = self._selections, ([] if axis is None and not keepdims else None)
        start = len(self._parent)
        try:
            inner = self._build(operand)
            chosen = self._selections
        finally:
            self._selections = selections
        mask = self._selected(inner.expr, chosen, start) if chosen else None
        if mask is not None and kind in ("argmax", "argmin"):
            raise Unsupported(f"{kind} of a boolean selection")  # its index counts selected elements only
        rank = len(inner.shape)
        if axis is None:
            positions = list(range(rank))
        else:
            positions = [axis] if isinstance(axis, int) else list(axis)
            if not all(isinstance(p, int) and -rank <= p < rank for p in positions):
                raise Unsupported(f"axis {axis!r} out of range")
            positions = sorted({p % rank for p in positions})
        reduced = tuple(self.find(inner.shape[p]) for p in positions if inner.shape[p] is not None)  # type: ignore[arg-type]
        shape: list[int | None] = []
        for position, entry in enumerate(inner.shape):
            if position not in positions:
                shape.append(entry)
            elif keepdims is True:
                shape.append(None)
        if kind in ("argmax", "argmin") and len(reduced) != len(positions):
            raise Unsupported(f"{kind} over a length-1 axis")  # the flat index would skip it
        expr: ir.Expr = ir.Reduce(self.dtype(node), kind=kind, operand=inner.expr, axes=reduced, mask=mask)
        if not reduced:  # only length-1 axes: a reduction of one element is that element
            expr = ir.Reduce(self.dtype(node), kind=kind, operand=inner.expr, axes=(), mask=mask)
        return Built(expr, tuple(shape))

    # -- matrix products: BLAS calls stay calls ----------------------------------------------
    def _is_product(self, node: ast.expr) -> bool:
        """``a @ b``, ``np.dot(a, b)``, ``np.matmul(a, b)``, ``a.dot(b)`` of floating or complex values."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            pass
        elif isinstance(node, ast.Call) and not node.keywords and len(node.args) == (
                1 if isinstance(node.func, ast.Attribute) and node.func.attr == "dot"
                and not (isinstance(node.func.value, ast.Name) and self.oracle.is_numpy(node.func.value.id)) else 2):
            if self._numpy_function(node.func) not in ("dot", "matmul") and not (
                    isinstance(node.func, ast.Attribute) and node.func.attr == "dot"):
                return False
        else:
            return False
        try:
            return self.dtype(node).kind in "fc"  # integer products stay as they are: no BLAS there
        except Unsupported:
            return False

    def _product(self, node: ast.expr) -> Built:
        """A matrix product computed once, before the loops, by the call the author wrote: BLAS
        beats any loop nest at it. Its result is read like an argument array (or a scalar)."""
        if self.fresh is None:
            raise Unsupported("a matrix product where no local can hold it")
        value = self.value(node)
        name = self.fresh("dot")
        self.calls.append((name, node))
        self.oracle.values[name] = value
        if is_array(value):
            return self.read(name, [])
        return Built(ir.Scalar(dtype_of(value), source=name), ())

    # -- boolean selections, counts, differences, complex parts ------------------------------
    def _is_mask(self, item: ast.expr) -> bool:
        """``item`` indexes by a boolean array (``x[x > 0]``) rather than by slices or integers."""
        if isinstance(item, (ast.Slice, ast.Constant)) or _is_none(item):
            return False
        try:
            value = self.oracle.evaluate(item)
        except Unknown:
            return False
        return isinstance(value, np.ndarray) and value.dtype == np.bool_ and value.ndim > 0

    def _selection(self, data: ast.expr, mask: ast.expr) -> Built:
        """``data[mask]`` inside a whole-array reduction: the data, each element gated by the mask.

        NumPy requires the mask's shape to equal the data's exactly (no broadcasting): where the
        two lengths of an axis are spelled alike they agree whatever the input; where each side
        has one length of its own (``x[valid]`` of two arrays) the nest checks they are equal,
        raising NumPy's IndexError otherwise; anything else is not lowered.
        """
        if self._selections is None:
            raise Unsupported("a boolean selection outside a whole-array reduction")
        if self._selections:
            raise Unsupported("two boolean selections in one reduction")
        first = len(self._parent)
        built = self._build(data)
        gate = self._build(mask)
        if len(built.shape) != len(gate.shape) or None in built.shape or None in gate.shape:
            raise Unsupported("the mask's rank or length-1 axes differ from the data's")
        for a, b in zip(built.shape, gate.shape):
            if len(self.extents(a)) != 1 or len(self.extents(b)) != 1:  # type: ignore[arg-type]
                raise Unsupported("the mask's or the data's length is a broadcast of several")
            data_length = self.extents(a)[0]  # type: ignore[arg-type]
            if self.extents(b) != [data_length]:  # type: ignore[arg-type]
                self.equal_lengths.append((self.extents(b)[0], data_length))  # type: ignore[arg-type]
            # Checked equal up front: one length, and no broadcast of either to the other.
            self._extents[self.find(self.unify(a, b))] = [data_length]  # type: ignore[arg-type]
        self._selections.append((gate.expr, first, len(self._parent)))
        return Built(built.expr, self.distinct(built.shape))

    def _selected(self, operand: ir.Expr, chosen: list[tuple[ir.Expr, int, int]], start: int) -> ir.Expr:
        """The mask of the one selection in ``operand``; Unsupported when other arrays meet it.

        ``x[m] * y`` broadcasts ``y`` against the *compacted* selection: only scalars may join
        the selected values, so every array read must come from inside the selection.
        """
        mask, first, last = chosen[0]
        for read in ir.reads(operand):
            for item in read.index:
                if isinstance(item, ir.AxisIndex) and not first <= item.axis < last:
                    raise Unsupported("arrays other than the selection's in a reduction of a selection")
        return mask

    def _nonzero(self, operand: ast.expr) -> ast.expr:
        """``operand != 0`` (NaN counts), or ``operand`` itself when it is already boolean."""
        if self.dtype(operand) == np.bool_:
            return operand
        return ast.Compare(operand, [ast.NotEq()], [ast.Constant(0)])

    def _difference(self, node: ast.Call, operand: ast.expr) -> ast.expr:
        """``np.diff(a)`` of a named array: ``a[..., 1:] - a[..., :-1]`` (``!=`` for booleans)."""
        if not isinstance(operand, ast.Name) or node.keywords:
            raise Unsupported("np.diff of an expression or with options")
        def side(lower: int | None, upper: int | None) -> ast.expr:
            part = ast.Slice(None if lower is None else ast.Constant(lower),
                             None if upper is None else ast.UnaryOp(ast.USub(), ast.Constant(-upper)))
            return ast.Subscript(ast.Name(operand.id, ast.Load()),
                                 ast.Tuple([ast.Constant(Ellipsis), part], ast.Load()), ast.Load())
        later, earlier = side(1, None), side(None, -1)
        if self.dtype(operand) == np.bool_:
            return ast.fix_missing_locations(ast.Compare(later, [ast.NotEq()], [earlier]))
        return ast.fix_missing_locations(ast.BinOp(later, ast.Sub(), earlier))

    def _complex_part(self, node: ast.expr, part: str, operand: ast.expr) -> Built:
        """``z.real``, ``z.imag``, ``np.conj(z)``: a scalar attribute or method per element."""
        inner = self._build(operand)
        if inner.expr.dtype.kind != "c":
            if part == "imag":
                raise Unsupported("the imaginary part of real values")  # a read-only array of zeros
            return inner  # the real part and conjugate of a real value are that value
        return Built(ir.Call(self.dtype(node), func=part, args=(inner.expr,)), inner.shape)

    # -- finishing ---------------------------------------------------------------------------
    def resolve(self, expr: ir.Expr) -> ir.Expr:
        """``expr`` with every axis id replaced by its loop's representative."""
        if isinstance(expr, ir.Read):
            index = tuple(replace(i, axis=self.find(i.axis)) if isinstance(i, ir.AxisIndex) else i
                          for i in expr.index)
            return replace(expr, index=index)
        new = tuple(self.resolve(c) for c in ir.children(expr))
        expr = ir.replace_children(expr, new)
        if isinstance(expr, ir.Reduce):
            expr = replace(expr, axes=tuple(self.find(a) for a in expr.axes))
        return expr

    def resolve_shape(self, shape: Shape) -> Shape:
        return tuple(None if a is None else self.find(a) for a in shape)


def _is_none(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and node.value is None) or (
        isinstance(node, ast.Attribute) and node.attr == "newaxis")


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


def _new_axes_only(index: list[ast.expr]) -> bool:
    """Only full slices, ``None``/``np.newaxis`` and ``...``: a view that reads nothing new."""
    return all(_is_none(i) or _is_ellipsis(i) or (isinstance(i, ast.Slice) and i.lower is None
                                                   and i.upper is None and i.step is None) for i in index)


def _slice(item: ast.Slice, length: str, bound: Callable[[ast.expr], int | str],
           bind: Callable[[str], str]) -> tuple[str, str]:
    """(offset, extent) source texts of ``item`` over an axis of ``length``; ``bound`` reads a
    bound as an int literal or the source text of an integer known only at run time, ``bind``
    names such a bound's place on the axis."""
    if item.step is not None and bound(item.step) != 1:
        raise Unsupported("slices with a step are not lowered")
    lo = None if item.lower is None else bound(item.lower)
    hi = None if item.upper is None else bound(item.upper)
    if isinstance(lo, str) or isinstance(hi, str):
        # Signs known only at run time: NumPy's own normalization, a negative bound counting from
        # the end and both clamped to the axis; hoisted out of the loops by LLVM.
        start = "0" if lo is None else bind(_normalized(str(lo), length))
        stop = length if hi is None else bind(_normalized(str(hi), length))
        return start, f"max({stop} - {start}, 0)"
    if (lo is None or lo >= 0) and (hi is None or hi < 0):
        # The common stencil shape, written so that u[:-2], u[1:-1] and u[2:] get equal text:
        # equal text is how the emitter knows two extents agree without a run-time check.
        trim = (lo or 0) - (hi or 0)
        return str(lo or 0), (length if trim == 0 else f"max({length} - {trim}, 0)")
    start = "0" if lo is None else (str(lo) if lo >= 0 else f"max({length} - {-lo}, 0)")
    stop = length if hi is None else (f"min({hi}, {length})" if hi >= 0 else f"{length} - {-hi}")
    return start, f"max({stop} - {start}, 0)"


def _normalized(bound: str, length: str) -> str:
    """Where a slice bound known only at run time falls on an axis of ``length``, as NumPy places it."""
    # Branch-free: a conditional expression is three basic blocks to Numba, whose SSA and
    # liveness passes grow faster than linearly in them (100 s of compile for 40 such slices).
    return f"min(max({bound} + {length} * ({bound} < 0), 0), {length})"


def _clip(func: ast.expr, value: ast.expr, lo: ast.expr, hi: ast.expr) -> ast.expr:
    assert isinstance(func, ast.Attribute)
    module = func.value

    def call(name: str, *args: ast.expr) -> ast.Call:
        return ast.Call(ast.Attribute(copy.deepcopy(module), name, ast.Load()), list(args), [])

    return ast.fix_missing_locations(call("minimum", call("maximum", value, lo), hi))


def _variance(numpy: str, kind: str, operand: ast.expr, options: dict[str, ast.expr]) -> ast.expr:
    """``x.var(axis)`` as NumPy computes it for real ``x``: ``mean(d * d, axis)`` with
    ``d = x - mean(x, axis, keepdims=True)``; ``std`` is its square root."""
    axis = [ast.keyword("axis", options["axis"])] if "axis" in options else []
    keep = [ast.keyword("keepdims", options["keepdims"])] if "keepdims" in options else []

    def np_call(name: str, args: list[ast.expr], keywords: list[ast.keyword]) -> ast.Call:
        return ast.Call(ast.Attribute(ast.Name(numpy, ast.Load()), name, ast.Load()), args, keywords)

    centered = ast.BinOp(copy.deepcopy(operand), ast.Sub(),
                         np_call("mean", [copy.deepcopy(operand)], axis + [ast.keyword("keepdims", ast.Constant(True))]))
    squared = ast.BinOp(centered, ast.Mult(), copy.deepcopy(centered))
    result: ast.expr = np_call("mean", [squared], axis + keep)
    if kind == "std":
        result = np_call("sqrt", [result], [])
    return ast.fix_missing_locations(result)
