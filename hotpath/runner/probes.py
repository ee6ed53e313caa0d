"""Value probes: verification inputs chosen from what the function does, one argument leaf at a time.

The generic edge cases (``hotpath.runner.inputs``) poke NaN or huge values into every array at
once. The semantics a compiler changes sit elsewhere too: Python ints that grow past int64 in
``**``, ``<<``, ``*`` chains and sums; ``math.exp(710)`` raising where compiled code gives inf;
``math.log(0)``, ``x // 0``, negative integer exponents; sums whose order matters (terms of
±1e16 and 1: ``cancellation`` in sums across elements, ``accumulation`` in arrays updated
through slices); NaN at the first or last position of a comparison; out-of-range indices; a flag
tuned with ``False``; a boolean mask that selects nothing, everything, or does not match the
array's length (NumPy raises, compiled code reads as far as the mask goes); two arrays of an
element-wise operation whose lengths do not broadcast (NumPy raises ValueError, compiled code may
read past one of them or raise something else); ties in a max, an argmax or a sort (NumPy keeps
the first, a vectorized search may not). This module reads the function's AST (and its helpers') to find which of
those appear and which argument *leaves* (a scalar argument, a scalar inside a tuple, one array,
one list of numbers) flow into them, then builds cases that change exactly one leaf each, in
the captured call's signature, and labels each with a ``Probe`` (the leaf and the range of
values it held). Every read leaf also gets a ladder of magnitudes of both signs, so that a value
guard can find the widest interval a candidate was verified on.

Case names are ``rule/leaf/value`` (``exp-domain/x/710.0``); ``rule_of`` in ``inputs`` reads the
rule back for reports.
"""

from __future__ import annotations

import ast
import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hotpath.runner.inputs import (CAPTURED, VALUE_CASES, InputCase, LeafPath, Probe, array_bytes, at, generic_cases,
                                   like_layout, probe_of, shrunk)
from hotpath.signature import signature_of
from hotpath.syntax import names_in

if TYPE_CHECKING:
    from hotpath.rewriter.source import FunctionSource

#: The names of the cases whose arrays were resized so that they no longer broadcast start so.
BROADCAST_CASES = "broadcast/"
#: The cases whose element-wise operands hold special values together (``_special_values``); the
#: NaN and infinity cases are named after the operand that holds them.
SPECIAL_FINITE, SPECIAL_NAN, SPECIAL_INF = "special-values/finite", "special-values/nan/", "special-values/inf/"
SPECIAL_NONFINITE = (SPECIAL_NAN, SPECIAL_INF)
#: At most this many probe cases per function: every candidate is verified on all of them.
MAX_PROBES = 64
#: Lengths at which a sum's order shows (NumPy sums pairwise in blocks of 128).
CANCELLATION_LENGTH = 1000
#: Moderate probes (ties, element-wise sums) of arguments larger than this are cut down: each case
#: is copied for every candidate and its outcome travels back from the sandbox.
MODERATE_BYTES = 8 << 20
#: The axis lengths a grid's long axes are cut to, in turn, until it fits ``MODERATE_BYTES``:
#: 32 still fills several vector lanes and leaves an interior inside a stencil's halo.
_GRID_AXES = (256, 64, 32)

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
_INT_LADDER = (2**7, 2**15, 2**31, 2**62)
_BIG_INTS = (2**64, 2**100)  # Python ints only: beyond any fixed width
_FLOAT_LADDER = (1.0, 1e3, 710.0, 1e150, math.inf)
#: Loop bounds above this would make the original run for minutes; a case is not worth that.
_LOOP_BOUND_CAP = 2**15
#: Exponents and shift amounts above this would make Python build gigantic integers.
_EXPONENT_CAP = 2**7

# Callee names (the last attribute: ``math.exp``, ``np.exp`` and ``exp`` alike) by the rule
# whose values hit them. A user function of the same name only adds a few cases.
_EXP_LIKE = {"exp", "expm1", "exp2", "cosh", "sinh", "ldexp", "gamma"}
_LOG_LIKE = {"log", "log10", "log2", "log1p", "sqrt", "acos", "asin", "acosh", "atanh", "arccos",
             "arcsin", "arccosh", "arctanh", "lgamma", "isqrt"}
# Their cost grows with the argument's value, in C where no time limit interrupts: treated like
# exponents (small positive values only, negatives for the domain).
_GROWING = {"factorial", "comb", "perm"}
_POW_LIKE = {"pow", "power", "float_power"}
_DIVIDE_LIKE = {"divmod", "mod", "remainder", "floor_divide", "fmod", "true_divide", "divide", "gcd", "lcm"}
_REDUCE_LIKE = {"sum", "dot", "vdot", "inner", "matmul", "mean", "cumsum", "prod", "cumprod", "nansum",
                "average", "std", "var", "einsum", "tensordot", "trapz", "trapezoid", "norm", "fsum"}
_COMPARE_LIKE = {"max", "min", "maximum", "minimum", "argmax", "argmin", "sort", "argsort", "clip", "fmax",
                 "fmin", "nanmax", "nanmin", "where", "median", "percentile", "quantile", "searchsorted",
                 "isclose", "allclose", "sign", "sorted", "round", "floor", "ceil", "trunc", "int"}
# Calls whose result depends on which of equal values comes first: a compiled search that scans
# in another order (SIMD lanes, a fused loop that keeps the last) returns another index.
_TIE_LIKE = {"max", "min", "amax", "amin", "argmax", "argmin", "nanmax", "nanmin", "nanargmax", "nanargmin",
             "sort", "argsort", "sorted", "partition", "argpartition", "lexsort", "unique", "searchsorted",
             "median", "nanmedian", "percentile", "quantile", "ptp", "maximum", "minimum"}
# Calls that take a boolean array to select with, as ``x[mask]`` does.
_MASK_LIKE = {"where", "extract", "compress", "place", "putmask", "copyto", "select"}
_META_ATTRS = {"shape", "size", "ndim", "dtype", "itemsize", "nbytes", "flags"}


@dataclass(frozen=True)
class Leaf:
    """One numeric value (or array, or list of numbers) inside the arguments."""

    path: LeafPath
    name: str  # "x", "params[1]": for case names
    value: Any

    @property
    def kind(self) -> str:
        """"b", "i", "u" or "f": the value's number kind, as NumPy's ``dtype.kind``."""
        value = self.value
        if type(value) is np.ndarray:
            return str(value.dtype.kind)
        if type(value) is list:
            value = value[0]
        if isinstance(value, (bool, np.bool_)):
            return "b"
        if isinstance(value, (int, np.integer)):
            return "u" if isinstance(value, np.unsignedinteger) else "i"
        return "f"

    @property
    def python_int(self) -> bool:
        """Python ints (scalars or list items) grow without bound; fixed-width ints wrap."""
        value = self.value[0] if type(self.value) is list else self.value
        return type(value) is int


def _is_number(value: object) -> bool:
    return type(value) in (int, float, bool) or isinstance(value, (np.integer, np.floating, np.bool_))


def leaves(args: tuple[Any, ...], params: tuple[str, ...] = ()) -> list[Leaf]:
    """Every numeric leaf of ``args``, each array or list once even where it is passed twice."""
    found: list[Leaf] = []
    seen: set[int] = set()

    def visit(path: LeafPath, name: str, value: Any) -> None:
        kind = type(value)
        if kind is tuple:
            for i, item in enumerate(value):
                visit(path + (i,), f"{name}[{i}]", item)
        elif kind is list:
            if value and id(value) not in seen and all(type(v) is type(value[0]) for v in value) \
                    and _is_number(value[0]) and type(value[0]) in (int, float, bool):
                seen.add(id(value))
                found.append(Leaf(path, name, value))
        elif kind is np.ndarray:
            if value.ndim >= 1 and value.dtype.kind in "biuf" and id(value) not in seen:
                seen.add(id(value))
                found.append(Leaf(path, name, value))
        elif _is_number(value):
            found.append(Leaf(path, name, value))

    for i, arg in enumerate(args):
        visit((i,), params[i] if i < len(params) else f"arg{i}", arg)
    return found


def with_leaf(args: tuple[Any, ...], path: LeafPath, new: Any) -> tuple[Any, ...]:
    """``args`` with the leaf at ``path`` replaced by ``new``.

    An array replacement takes the old array's layout and write flag; an array passed twice
    stays one array (aliasing preserved). The other arrays are shared, not copied: every call
    runs on a fresh copy of its case (``outcome.run_case``), and a probe of a 16-element vector
    beside a 160 MB matrix must not hold a second matrix. Everything else is copied as it was.
    """
    target = at(args, path)
    if type(target) is np.ndarray:
        new = like_layout(np.asarray(new, dtype=target.dtype), target)
    arrays: dict[int, Any] = {}
    memo: dict[int, Any] = {}

    def rebuild(here: LeafPath, value: Any) -> Any:
        if here == path:
            return new
        kind = type(value)
        if kind is tuple:
            return tuple(rebuild(here + (i,), item) for i, item in enumerate(value))
        if kind is np.ndarray:
            if id(value) not in arrays:
                arrays[id(value)] = new if value is target else value
            return arrays[id(value)]
        return copy.deepcopy(value, memo)

    return tuple(rebuild((i,), arg) for i, arg in enumerate(args))


def changed_leaf(base: tuple[Any, ...], case: tuple[Any, ...]) -> Probe | None:
    """The probe of a case that differs from ``base`` in exactly one leaf's values, else None."""
    before, after = leaves(base), leaves(case)
    if [leaf.path for leaf in before] != [leaf.path for leaf in after]:
        return None
    changed = [new for old, new in zip(before, after) if not _same_values(old.value, new.value)]
    if len(changed) != 1:
        return None
    return probe_of(changed[0].path, changed[0].value)


def _same_values(a: Any, b: Any) -> bool:
    if type(a) is np.ndarray or type(b) is np.ndarray:
        return (type(a) is type(b) and a.shape == b.shape
                and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(_same_values(x, y) for x, y in zip(a, b))
    if a != a:  # NaN
        return b != b
    # -0.0 == 0.0, yet it is a different value to a function that divides by it.
    return bool(a == b) and (a != 0 or math.copysign(1, a) == math.copysign(1, b))


# --- what the function does, per leaf ------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What the AST says about the leaves: the rules each one reaches, and how it is used."""

    rules: dict[LeafPath, frozenset[str]]
    read: frozenset[LeafPath]  # leaves whose values the function reads (not only writes or sizes)
    loop_bounds: frozenset[LeafPath]  # leaves that bound a ``range`` loop
    exponents: frozenset[LeafPath]  # leaves that end up as an exponent or shift amount
    families: frozenset[str]  # every rule found anywhere, helpers included

    def of(self, path: LeafPath) -> frozenset[str]:
        """The rules ``path`` reaches (a leaf inside a tuple reaches its tuple's rules too)."""
        found: set[str] = set()
        for prefix, rules in self.rules.items():
            if path[:len(prefix)] == prefix:
                found |= rules
        return frozenset(found)

    def reads(self, path: LeafPath) -> bool:
        return any(path[:len(p)] == p or p[:len(path)] == path for p in self.read)


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


class _Flow:
    """Which argument leaves each local name's value comes from (a fixed point over assignments)."""

    def __init__(self, tree: ast.FunctionDef, params: tuple[str, ...]) -> None:
        self.alias: dict[str, LeafPath] = {p: (i,) for i, p in enumerate(params)}
        self.deps: dict[str, set[str]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
                self._bind(node.target, node.value)
            elif isinstance(node, (ast.For, ast.comprehension)):
                self._bind(node.target, node.iter, exact=False)
            elif isinstance(node, ast.NamedExpr):
                self._bind(node.target, node.value)

    def _bind(self, target: ast.expr, value: ast.expr, exact: bool = True) -> None:
        if isinstance(target, ast.Name):
            if exact and target.id not in self.alias:
                path = self._exact(value)
                if path is not None and target.id not in self.deps:
                    self.alias[target.id] = path
                    return
            self.deps.setdefault(target.id, set()).update(names_in(value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            base = self._exact(value) if exact else None
            for i, element in enumerate(target.elts):
                if base is not None and isinstance(element, ast.Name) and element.id not in self.alias:
                    self.alias[element.id] = base + (i,)
                else:
                    for name in names_in(element):
                        self.deps.setdefault(name, set()).update(names_in(value))

    def _exact(self, value: ast.expr) -> LeafPath | None:
        if isinstance(value, ast.Name):
            return self.alias.get(value.id)
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name) \
                and isinstance(value.slice, ast.Constant) and type(value.slice.value) is int:
            base = self.alias.get(value.value.id)
            if base is not None and value.slice.value >= 0:
                return base + (value.slice.value,)
        return None

    def roots(self, expr: ast.AST) -> set[LeafPath]:
        """The argument leaves (or tuples of leaves) ``expr``'s value depends on."""
        exact = self._exact(expr) if isinstance(expr, ast.expr) else None
        if exact is not None:
            return {exact}
        found: set[LeafPath] = set()
        seen: set[str] = set()
        stack = list(names_in(expr))
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.alias:
                found.add(self.alias[name])
            stack.extend(self.deps.get(name, ()))
        for node in ast.walk(expr):
            if isinstance(node, ast.Subscript):
                path = self._exact(node)
                if path is not None:
                    found.discard(path[:-1])
                    found.add(path)
        return found


def _array_operand(expr: ast.AST) -> bool:
    """A whole array or a slice of one (``a[i]`` is an element)."""
    return isinstance(expr, ast.Name) or (isinstance(expr, ast.Subscript) and _sliced(expr))


def _broadcasts(name: str) -> bool:
    """Does NumPy's ``name`` combine its array arguments element-wise (``arctan2``, ``maximum``, ``where``)?"""
    function = getattr(np, name, None)
    return (isinstance(function, np.ufunc) and function.nin >= 2) or name in ("where", "clip")


def _operands(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """(rule, expression) pairs: the sub-expressions whose values a rule's probes should vary."""
    if isinstance(node, ast.BinOp) and not isinstance(node.op, ast.MatMult):
        # Whole arrays and slices meet element-wise here; ``a[i] * b[i]`` is two elements.
        yield from (("broadcast", side) for side in (node.left, node.right) if _array_operand(side))
    if isinstance(node, ast.Call) and _broadcasts(_callee(node)):
        operands = [node.func.value, *node.args] if isinstance(node.func, ast.Attribute) else node.args
        yield from (("broadcast", a) for a in operands if _array_operand(a))
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            yield "exponent", node.right
            yield "overflow", node.left
            yield "pow", node.left
        elif isinstance(node.op, (ast.LShift, ast.RShift)):
            yield "shift", node.right
            yield "overflow", node.left
        elif isinstance(node.op, ast.Mult):
            yield "overflow", node
        elif isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
            yield "divisor", node.right
            yield "overflow", node.left
        elif isinstance(node.op, ast.MatMult):
            yield "cancellation", node
    elif isinstance(node, ast.AugAssign):
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
            yield "overflow", node.value
            yield ("accumulation" if _elementwise(node) else "cancellation"), node.value
        elif isinstance(node.op, ast.Pow):
            yield "exponent", node.value
        elif isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
            yield "divisor", node.value
        elif isinstance(node.op, (ast.LShift, ast.RShift)):
            yield "shift", node.value
    elif isinstance(node, ast.Call):
        name = _callee(node)
        args = list(node.args)
        if isinstance(node.func, ast.Attribute):  # x.sum(), x.max(): the receiver is an operand
            args.insert(0, node.func.value)
        if name in _EXP_LIKE:
            yield from (("exp-domain", a) for a in args)
        elif name in _LOG_LIKE:
            yield from (("log-domain", a) for a in args)
        elif name in _GROWING:
            yield from (("exponent", a) for a in args)
        elif name in _POW_LIKE:
            yield from (("pow", a) for a in args[:1])
            yield from (("exponent", a) for a in args[1:2])
        elif name in _DIVIDE_LIKE:
            yield from (("divisor", a) for a in args[1:2])
        elif name in _REDUCE_LIKE:
            yield from (("cancellation", a) for a in args)
            yield from (("overflow", a) for a in args)
        if name in _COMPARE_LIKE:
            yield from (("nan-position", a) for a in args)
        if name in _TIE_LIKE:
            yield from (("ties", a) for a in args)
        if name in _MASK_LIKE:
            yield from (("mask", a) for a in args)
        # ``where=`` of a ufunc or reduction (``np.sum(x, where=ok)``) selects like a mask.
        yield from (("mask", k.value) for k in node.keywords if k.arg == "where")
    elif isinstance(node, ast.Compare):
        yield "nan-position", node
    elif isinstance(node, ast.Subscript):
        yield "index", node.slice
        yield "mask", node.slice  # a boolean array there selects: only bool leaves get its cases
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Invert, ast.Not)):
        yield "flag", node.operand


def _elementwise(node: ast.AugAssign) -> bool:
    """Whether ``node`` updates an array element by element (``a[1:-1] += ...``,
    ``flux += dx[1:] * u[:-1]``): each element then sums a chain as long as the loop around it,
    whatever the arrays' length, where ``total += x[i]`` sums across elements."""
    return _sliced(node.target) or _sliced(node.value)


def _sliced(expr: ast.AST) -> bool:
    """Whether ``expr`` is an array expression: a slice (or ``np.newaxis``) subscript outside any
    call or ``@``, either of which may reduce it to a scalar."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call) or (isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)):
            continue
        if isinstance(node, ast.Subscript):
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if any(isinstance(p, ast.Slice) or (isinstance(p, ast.Constant) and p.value is None)
                   or (isinstance(p, ast.Attribute) and p.attr == "newaxis") for p in parts):
                return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def _is_meta_use(node: ast.Name, parents: dict[int, ast.AST]) -> bool:
    """A use that does not read the values: a write target, a size, a pass-through return."""
    parent = parents.get(id(node))
    if isinstance(parent, ast.Subscript) and parent.value is node and isinstance(parent.ctx, ast.Store):
        return True
    if isinstance(parent, ast.Attribute) and parent.attr in _META_ATTRS:
        return True
    if isinstance(parent, ast.Call) and _callee(parent) == "len" and node in parent.args:
        return True
    return isinstance(parent, ast.Return)


def analyse(fs: FunctionSource, args: tuple[Any, ...]) -> Usage:
    """Which rules each argument leaf reaches in ``fs`` (the function and its user helpers)."""
    tree = fs.tree
    params = tuple(a.arg for a in tree.args.args)
    flow = _Flow(tree, params)
    rules: dict[LeafPath, set[str]] = {}
    families: set[str] = set()
    every = {(i,) for i in range(len(args))}
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    for part in fs.walk():
        own = part is fs
        for node in ast.walk(part.tree):
            for rule, expr in _operands(node):
                families.add(rule)
                # A helper's parameters are not resolved: its rules reach every argument.
                for root in (flow.roots(expr) if own else every):
                    rules.setdefault(root, set()).add(rule)

    loop_bounds: set[LeafPath] = set()
    read: set[LeafPath] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node) == "range":
            for arg in node.args:
                loop_bounds |= flow.roots(arg)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and not _is_meta_use(node, parents):
            read |= flow.roots(node)
    exponents = {path for path, found in rules.items() if found & {"exponent", "shift"}}
    return Usage({p: frozenset(r) for p, r in rules.items()}, frozenset(read), frozenset(loop_bounds),
                 frozenset(exponents), frozenset(families))


# --- the values ---------------------------------------------------------------------------------


def _rule_values(rule: str, kind: str, length: int) -> tuple[Any, ...]:
    """The values a rule tries on a leaf of number ``kind`` (``length``: the arrays' size)."""
    if kind in "iu":
        return {
            "exponent": (-1, -2, 0, 63, 64),
            "shift": (63, 64, -1),
            "overflow": (3037000500, -3037000500),  # squares just past int64
            "divisor": (0, -1),
            "index": (length, -1, -(length + 1)),
            "log-domain": (0, -1),
            "exp-domain": (710, -745),
        }.get(rule, ())
    if kind == "f":
        return {
            "exp-domain": (709.8, -745.2, -746.0, 1e308, -1e308),
            "log-domain": (-1e-300, -1.5, 1.0, 1.0000001),
            "pow": (1e200, -8.0, 0.5),
            "exponent": (0.5, -0.5, -1.0, 1e3, -1e3),
            "divisor": (0.0, -0.0, -1.0),
        }.get(rule, ())
    return ()


def _ladder(leaf: Leaf) -> tuple[Any, ...]:
    """Magnitudes of both signs, so a guard can find the widest interval that was verified."""
    kind = leaf.kind
    if kind == "b":
        return ()
    if kind == "f":
        values: list[Any] = [0.0, -0.0, math.nan]
        for m in _FLOAT_LADDER:
            values += [m, -m]
        return tuple(values)
    values = []
    for m in _INT_LADDER:
        values += [m, -m]
    values += [INT64_MAX, INT64_MIN]
    if leaf.python_int:
        for m in _BIG_INTS:
            values += [m, -m]
    return tuple(values)


def _affordable(value: Any, leaf: Leaf, usage: Usage) -> bool:
    """Whether the original can run on ``value`` in reasonable time (negatives always can)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return True
    if leaf.path in usage.exponents:
        return value <= _EXPONENT_CAP
    if leaf.path in usage.loop_bounds:
        return value <= _LOOP_BOUND_CAP
    return True


def _fits(value: Any, leaf: Leaf) -> bool:
    """Whether ``value`` can be held by the leaf's type without changing the signature."""
    template = leaf.value
    if type(template) is np.ndarray:
        dtype = template.dtype
    elif type(template) is list:
        return type(value) is type(template[0]) or (type(template[0]) is float and type(value) is float)
    elif isinstance(template, np.generic):
        dtype = template.dtype
    else:
        return True
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return isinstance(value, int) and info.min <= value <= info.max
    if dtype.kind == "f":
        return isinstance(value, float) and (not math.isfinite(value) or abs(value) <= float(np.finfo(dtype).max))
    return dtype.kind == "b"


def _filled(leaf: Leaf, value: Any) -> Any:
    """The leaf's shape and type, every element ``value``."""
    template = leaf.value
    if type(template) is np.ndarray:
        return np.full(template.shape, value, dtype=template.dtype)
    if type(template) is list:
        return [value] * len(template)
    if isinstance(template, np.generic):
        return type(template)(value)
    return type(template)(value)


def _label(value: Any) -> str:
    if type(value) is int and abs(value) >= 2**15:
        sign = "-" if value < 0 else ""
        magnitude = abs(value)
        if magnitude & (magnitude - 1) == 0:
            return f"{sign}2**{magnitude.bit_length() - 1}"
        if (magnitude + 1) & magnitude == 0:
            return f"{sign}2**{magnitude.bit_length()}-1"
    return repr(value)


def _cancellation(n: int, dtype: Any = float) -> np.ndarray:
    # Large opposite terms with ones between: the exact sum is a count of the ones; a sum in
    # another order loses some of them (or gains nothing) in the large terms' rounding.
    pattern = np.array([1e16, 1.0, -1e16, 1.0, -1e16, 1e16, 1.0], dtype=np.float64)
    return np.resize(pattern, n).astype(dtype)


def _nan_at(leaf: Leaf, where: str) -> Any:
    values = np.array(leaf.value, dtype=float, copy=True).reshape(-1) if type(leaf.value) is list \
        else np.array(leaf.value, copy=True).reshape(-1)
    index = {"first": 0, "middle": values.size // 2, "last": values.size - 1}[where]
    values[index] = np.nan
    if type(leaf.value) is list:
        return [float(v) for v in values]
    return values.reshape(leaf.value.shape)


def _tied(template: Any) -> dict[str, Any]:
    """Values of ``template``'s shape and type (an array or a list of numbers) with ties, by label.

    Only the template's own smallest, middle and largest values are used, so a failing case
    overlaps the captured range and no value guard can claim to route it away: ties are not a
    range. ``levels``: every value rounded to the nearest of the three where the data put it,
    so each extreme repeats at many positions; ``few``: the middle value everywhere but the
    extremes at three positions each, the first of them neither at the start nor in lane 0.
    """
    array = np.array(template)
    flat = array.reshape(-1)
    if flat.size < 3 or array.dtype.kind not in "iuf":
        return {}
    finite = flat[np.isfinite(flat)] if array.dtype.kind == "f" else flat
    if finite.size == 0:
        return {}
    low, high = finite.min().item(), finite.max().item()
    if not low < high:
        return {}
    middle = low / 2 + high / 2 if array.dtype.kind == "f" else (low + high) // 2
    levels = np.array([low, middle, high], dtype=array.dtype)
    with np.errstate(all="ignore"):
        step = np.round((flat.astype(np.float64) - float(low)) / (float(high) - float(low)) * 2.0)
    step = np.clip(np.nan_to_num(step, nan=1.0), 0, 2).astype(np.intp)
    found = {"levels": levels[step]}
    n = flat.size
    if n >= 7:
        few = np.full(n, levels[1], dtype=array.dtype)
        few[[n // 3, n // 2, n - 1]] = levels[2]
        few[[1, n // 3 + 1, n - 2]] = levels[0]
        found["few"] = few
    if type(template) is list:
        kind = type(template[0])
        return {label: [kind(v) for v in values.tolist()] for label, values in found.items()}
    return {label: values.reshape(array.shape) for label, values in found.items()}


def _resized_masks(mask: np.ndarray) -> dict[str, np.ndarray]:
    """All-True masks one element shorter and longer (along the first axis) than ``mask``: NumPy
    raises IndexError where the mask does not match what it selects from; compiled code reads
    only as far as the mask goes, or past the array's end."""
    n = mask.shape[0]
    found = {"longer": np.ones((n + 1,) + mask.shape[1:], dtype=mask.dtype)}
    if n >= 1:
        found["shorter"] = np.ones((n - 1,) + mask.shape[1:], dtype=mask.dtype)
    return found


def _resized(array: np.ndarray, lengths: set[int]) -> dict[str, np.ndarray]:
    """``array`` one row longer and one shorter, where neither length broadcasts against the
    other arrays' ``lengths`` (1 broadcasts; an equal length is no mismatch)."""
    n = array.shape[0]
    found = {}
    for label, length in (("longer", n + 1), ("shorter", n - 1)):
        if length > 1 and length not in lengths:
            found[label] = like_layout(np.resize(array, (length,) + array.shape[1:]), array)
    return found


def _moderate(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``args`` shrunk to ``CANCELLATION_LENGTH`` where longer: long enough for vector lanes and
    blocked loops to show, short enough to run every candidate on. A grid with no axis that long
    (a 100^3 ocean) has its long axes cut further until the arguments fit ``MODERATE_BYTES``."""
    moderate = shrunk(args, CANCELLATION_LENGTH) or args
    for axis in _GRID_AXES:
        if array_bytes(moderate) <= MODERATE_BYTES:
            break
        moderate = shrunk(args, axis) or moderate
    return moderate


def _array_size(leaf: Leaf) -> int:
    value = leaf.value
    return value.size if type(value) is np.ndarray else len(value) if type(value) is list else 1


def generate(fs: FunctionSource, args: tuple[Any, ...], small: tuple[Any, ...]) -> list[InputCase]:
    """Probe cases for ``fs`` called on ``args``: one leaf changed each, at most ``MAX_PROBES``.

    ``small`` is ``args`` with every array shrunk alike (as the generic value cases use); most
    probes start from it so they cost little. Cancellation probes keep the captured length (and
    try ``CANCELLATION_LENGTH``), since summation order shows only in long sums.
    """
    signature = signature_of(args)
    usage = analyse(fs, args)
    params = tuple(a.arg for a in fs.tree.args.args)
    small_leaves = leaves(small, params)
    length = max((d for leaf in small_leaves if type(leaf.value) is np.ndarray for d in leaf.value.shape),
                 default=0)
    # The shrunk arguments some rules start from: views, the same for every leaf.
    longer, moderate = shrunk(args, CANCELLATION_LENGTH), _moderate(args)
    # Rule cases first, then ladders; within each, leaves take turns so a cap cuts evenly.
    first: list[list[InputCase]] = []
    second: list[list[InputCase]] = []
    broadcast: list[InputCase] = []
    for leaf in small_leaves:
        if not usage.reads(leaf.path):
            continue  # an output buffer or a size: its values are never read
        rules = usage.of(leaf.path)
        tried: set[str] = set()
        made: list[InputCase] = []

        def add(rule: str, base: tuple[Any, ...], value: Any, label: str, into: list[InputCase],
                leaf: Leaf = leaf, tried: set[str] = tried) -> None:
            if label in tried:
                return
            tried.add(label)
            case_args = with_leaf(base, leaf.path, value)
            if signature_of(case_args) != signature:
                return
            into.append(InputCase(f"{rule}/{leaf.name}/{label}", case_args,
                                  probe_of(leaf.path, at(case_args, leaf.path))))

        kind = leaf.kind
        if kind == "b":
            flipped = (~leaf.value if type(leaf.value) is np.ndarray
                       else [not v for v in leaf.value] if type(leaf.value) is list
                       else type(leaf.value)(not leaf.value))
            add("flag", small, flipped, "flipped", made)
        for rule in sorted(rules):
            for value in _rule_values(rule, kind, length):
                if _fits(value, leaf) and _affordable(value, leaf, usage):
                    add(rule, small, _filled(leaf, value), _label(value), made)
        sequence = type(leaf.value) in (np.ndarray, list) and kind == "f"
        if sequence and rules & {"cancellation", "accumulation"}:
            # A sum across elements (a reduction, a scalar accumulator) shows its order only when
            # long: the captured length and CANCELLATION_LENGTH. An array updated element by
            # element sums chains as long as its loop at any length: moderate arguments show the
            # same, and a 100^3 grid's copies would cost seconds per candidate.
            rule = "cancellation" if "cancellation" in rules else "accumulation"
            bases = [args, longer] if rule == "cancellation" else [moderate]
            sizes: dict[int, tuple[Any, ...]] = {}
            for base in filter(None, bases):
                sizes.setdefault(_array_size(Leaf(leaf.path, leaf.name, at(base, leaf.path))), base)
            for _, base in sorted(sizes.items()):
                template = at(base, leaf.path)
                shape = template.shape if type(template) is np.ndarray else (len(template),)
                values = _cancellation(int(np.prod(shape)), getattr(template, "dtype", float)).reshape(shape)
                if type(template) is list:
                    values = [float(v) for v in values]  # type: ignore[assignment]
                add(rule, base, values, f"n={int(np.prod(shape))}", made)
        if sequence and "nan-position" in rules and _array_size(leaf) >= 3:
            for where in ("first", "middle", "last"):
                add("nan-position", small, _nan_at(leaf, where), where, made)
        if type(leaf.value) is np.ndarray and kind == "b" and "mask" in rules:
            # Selecting nothing (an empty max raises) and everything; then masks whose length
            # does not match: a size changed, so no probe, and no guard can route them away.
            add("mask", small, np.zeros(leaf.value.shape, dtype=bool), "all-false", made)
            add("mask", small, np.ones(leaf.value.shape, dtype=bool), "all-true", made)
            for label, mask in _resized_masks(leaf.value).items():
                resized = with_leaf(small, leaf.path, mask)
                if signature_of(resized) == signature:
                    made.append(InputCase(f"mask/{leaf.name}/{label}", resized))
        if type(leaf.value) in (np.ndarray, list) and "ties" in rules:
            for label, values in _tied(at(moderate, leaf.path)).items():
                add("ties", moderate, values, label, made)
        if type(leaf.value) is np.ndarray and kind in "iu" and "index" in rules and leaf.value.ndim == 1:
            empty = with_leaf(small, leaf.path, leaf.value[:0])
            if signature_of(empty) == signature:
                made.append(InputCase(f"index/{leaf.name}/empty", empty))  # a size changed: no probe
        if type(leaf.value) is np.ndarray and leaf.value.ndim and "broadcast" in rules and kind in "iufc":
            # Resized along the first axis, beside another array of an element-wise operation: a
            # size changed, so no probe (no guard can route such calls away); cases of their own.
            others = [o for o in small_leaves if o.path != leaf.path and type(o.value) is np.ndarray
                      and o.value.ndim and "broadcast" in usage.of(o.path)]
            if others:
                for label, array in _resized(leaf.value, {o.value.shape[0] for o in others}).items():
                    case_args = with_leaf(small, leaf.path, array)
                    if signature_of(case_args) == signature:
                        broadcast.append(InputCase(f"{BROADCAST_CASES}{leaf.name}/{label}", case_args))
        first.append(made)
        ladder: list[InputCase] = []
        for value in _ladder(leaf):
            if _fits(value, leaf) and _affordable(value, leaf, usage):
                add("range", small, _filled(leaf, value), _label(value), ladder)
        second.append(ladder)
    # Lengths that do not broadcast last: a function of many arrays keeps its value probes.
    cases = _take_turns(first) + _take_turns(second) + broadcast
    # Special values first: they catch what no guard can route away.
    return (_special_values(moderate, leaves(moderate, params), usage, signature) + cases)[:MAX_PROBES]


def _special_values(moderate: tuple[Any, ...], moderate_leaves: list[Leaf], usage: Usage,
                    signature: Any) -> list[InputCase]:
    """The float arrays of element-wise operations filled together with special values, at a
    moderate length.

    Compiled code computes the body of a long array in SIMD lanes and the tail one element at a
    time, and the two need not agree with NumPy on the same values: Pythran's ``maximum`` drops
    a NaN in its vector body (not in a short array, nor in the tail), its ``arctan2`` of two
    signed zeros gives NaN. Probes change one leaf at a time, mostly in short arrays, so no probe
    pairs a zero with a zero, nor puts a NaN in a vector body. Here each float array operand (up
    to three) cycles through 0, -0.0, 1, -1 and 0.5 with a period that grows fivefold from one
    operand to the next, so every combination meets along the whole length (``SPECIAL_FINITE``:
    no guard can route it away); then, one operand at a time, the same with one NaN, and with one
    +inf and one -inf, in the middle of the array (``SPECIAL_NONFINITE``: a finite-value guard
    routes those to the original). One operand at a time, since a NaN anywhere else, or
    ``inf * 0``, would make the original's result NaN and hide the one the variant dropped."""
    operands = [leaf for leaf in moderate_leaves if type(leaf.value) is np.ndarray and leaf.kind == "f"
                and "broadcast" in usage.of(leaf.path) and leaf.value.size >= 8][:3]
    cycles = {leaf.path: np.resize(np.repeat(np.array([0.0, -0.0, 1.0, -1.0, 0.5]), 5 ** rank),
                                   leaf.value.shape).astype(leaf.value.dtype)
              for rank, leaf in enumerate(operands)}

    def case(name: str, changed: Leaf | None = None, values: tuple[float, ...] = ()) -> InputCase | None:
        case_args = moderate
        for leaf in operands:
            filled = cycles[leaf.path]
            if leaf is changed:
                filled = filled.copy()
                flat = filled.reshape(-1)
                for offset, value in enumerate(values):
                    flat[flat.size // 2 + flat.size // 4 * offset] = value
            case_args = with_leaf(case_args, leaf.path, like_layout(filled, leaf.value))
        return InputCase(name, case_args) if signature_of(case_args) == signature else None

    made = [case(SPECIAL_FINITE)] if operands else []
    for leaf in operands:
        made += [case(f"{SPECIAL_NAN}{leaf.name}", leaf, (np.nan,)),
                 case(f"{SPECIAL_INF}{leaf.name}", leaf, (np.inf, -np.inf))]
    return [c for c in made if c is not None]


def _take_turns(groups: list[list[InputCase]]) -> list[InputCase]:
    out: list[InputCase] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out += [g[i] for g in groups if i < len(g)]
    return out


__all__ = ["BROADCAST_CASES", "SPECIAL_FINITE", "SPECIAL_NONFINITE", "Leaf", "Usage", "MAX_PROBES", "analyse", "changed_leaf", "generate", "leaves",
           "with_leaf"]


def derive_cases(args: tuple[Any, ...], edge_cases: bool = True, fs: FunctionSource | None = None) -> list[InputCase]:
    """The captured call plus edge cases that share its signature, each named for reports.

    The generic ones come from ``hotpath.runner.inputs.generic_cases``; with ``fs`` (the
    function's source) the value probes of this module are added: inputs chosen from what the
    function does, one argument leaf changed in each.
    """
    cases = [InputCase(CAPTURED, args)]
    if not edge_cases:
        return cases
    small, generic = generic_cases(args)
    for case in generic:
        # A value case that changed one leaf of the small arguments is a probe like the
        # generated ones; the size cases change every array's length and are not.
        probe = changed_leaf(small, case.args) if case.name in VALUE_CASES else None
        cases.append(InputCase(case.name, case.args, probe))
    if fs is not None:
        cases += generate(fs, args, small)
    return cases
