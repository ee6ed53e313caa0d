"""Forward type inference for the Cython emitter: which names can be C variables, and as what.

The rule is conservative: a local gets a C type only when *every* assignment to it gives that
type. Anything unknown stays a Python object, which is always correct, only slower. Python's
unbounded integers are the trap: a C integer is used only where the value is an index (a
``range`` loop variable, a shape, arithmetic on those) or comes from an integer array (where
NumPy wraps too); an accumulator built from Python ints stays a Python int.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from hotpath.signature import ArgSpec, Signature
from hotpath.syntax import names_in

#: A Python ``int`` literal: becomes whatever integer type it is combined with.
INTLIT = "int-literal"
#: A name whose type is not settled yet (inference in progress); never reaches the emitter.
PENDING = "pending"
INDEX = "Py_ssize_t"
DOUBLE = "double"
FLOAT = "float"
BINT = "bint"
CDOUBLE = "double complex"
CFLOAT = "float complex"

#: NumPy dtype -> C element type of a typed memoryview. ``bool`` is missing on purpose: a
#: memoryview's buffer format for it ("?") matches no C type Cython accepts.
DTYPE_CTYPES = {
    "float64": DOUBLE, "float32": FLOAT, "complex128": CDOUBLE, "complex64": CFLOAT,
    "int64": "int64_t", "int32": "int32_t", "int16": "int16_t", "int8": "int8_t",
    "uint64": "uint64_t", "uint32": "uint32_t", "uint16": "uint16_t", "uint8": "uint8_t",
}
INTEGER_CTYPES = frozenset({INDEX, "int64_t", "int32_t", "int16_t", "int8_t",
                            "uint64_t", "uint32_t", "uint16_t", "uint8_t"})
FLOAT_CTYPES = (FLOAT, DOUBLE)  # narrow to wide
COMPLEX_CTYPES = (CFLOAT, CDOUBLE)
NUMERIC = INTEGER_CTYPES | set(FLOAT_CTYPES) | set(COMPLEX_CTYPES) | {INTLIT}

#: Where a C value came from in the original: a Python scalar, a NumPy scalar, or either by path.
#: A C double boxes as a Python float; where the original held ``np.float64`` the emitter boxes
#: it as one (``x / 0.0`` gives inf with a warning for one, ZeroDivisionError for the other, and
#: the type of a returned scalar is part of the answer).
PY = "python"
NP = "numpy"
TAGGED = "tagged"
#: An expression's origin: ``PY``, ``NP``, the tagged names it depends on (``NP`` if any of them
#: holds a NumPy scalar, by path), or ``None`` when not known (the emitter leaves it as it was).
Origin = str | frozenset[str] | None

#: ``math`` functions with a C twin of the same value; the emitter wraps each so that it raises
#: exactly where Python's does (``math.sqrt(-1)`` raises, C's returns NaN).
MATH_FUNCTIONS = frozenset({"sqrt", "exp", "log", "sin", "cos", "tan", "fabs", "atan", "tanh",
                            "sinh", "cosh", "atan2", "hypot", "isnan", "isinf", "isfinite"})
MATH_BOOL = frozenset({"isnan", "isinf", "isfinite"})
#: NumPy ufuncs that, on one C scalar, give the C function's value (IEEE: no exceptions).
NUMPY_FUNCTIONS = {"sqrt": "sqrt", "exp": "exp", "log": "log", "sin": "sin", "cos": "cos",
                   "tan": "tan", "fabs": "fabs", "arctan": "atan", "tanh": "tanh", "sinh": "sinh",
                   "cosh": "cosh", "arctan2": "atan2", "hypot": "hypot"}
#: Allocators whose result is a fresh C-contiguous array (unless ``order=`` says otherwise).
ALLOCATORS = frozenset({"zeros", "empty", "ones", "full"})
LIKE_ALLOCATORS = frozenset({"zeros_like", "empty_like", "ones_like", "full_like"})
_DTYPE_NAMES = {"float64": "float64", "float": "float64", "double": "float64", "float_": "float64",
                "float32": "float32", "single": "float32", "int64": "int64", "int32": "int32",
                "int16": "int16", "int8": "int8", "uint8": "uint8", "uint16": "uint16",
                "uint32": "uint32", "uint64": "uint64", "complex128": "complex128",
                "complex": "complex128", "complex64": "complex64", "intp": "int64"}


@dataclass(frozen=True)
class ArrayType:
    """A typed memoryview: element C type, dimensions, layout ("C", "F" or "A"), read-only."""

    ctype: str
    ndim: int
    layout: str
    readonly: bool = False

    def declaration(self) -> str:
        """``double[:, ::1]`` and the like; F order puts the contiguous axis first."""
        axes = [":"] * self.ndim
        if self.layout == "C":
            axes[-1] = "::1"
        elif self.layout == "F":
            axes[0] = "::1"
        const = "const " if self.readonly else ""
        return f"{const}{self.ctype}[{', '.join(axes)}]"


def array_type(spec: ArgSpec) -> ArrayType | None:
    """The memoryview for an observed array argument, or None where none fits (0-d, bool...)."""
    if spec.kind != "array" or not spec.ndim or spec.dtype not in DTYPE_CTYPES:
        return None
    return ArrayType(DTYPE_CTYPES[spec.dtype], spec.ndim, spec.layout or "A", not spec.writeable)


def scalar_type(spec: ArgSpec) -> str | None:
    """C type for a scalar argument. Only ``float`` (a C double exactly); a Python ``int`` may be
    any size, and NumPy scalars have their own arithmetic rules, so those stay objects."""
    return DOUBLE if spec.kind == "object" and spec.type_name == "float" else None


def _is_int(t: str | None) -> bool:
    return t in INTEGER_CTYPES or t == INTLIT


def arithmetic(op: ast.operator, left: str | None, right: str | None) -> str | None:
    """The C type of ``left op right``, or None when it is not a plain C computation."""
    if left is None or right is None or left == BINT or right == BINT:
        return None
    if PENDING in (left, right):
        return PENDING
    if left not in NUMERIC or right not in NUMERIC:
        return None
    if _is_int(left) and _is_int(right):
        if isinstance(op, ast.Div):
            return DOUBLE
        if isinstance(op, (ast.Pow, ast.LShift)):
            return None  # grows past 64 bits where Python's int would not
        if left == INTLIT:
            return right
        if right == INTLIT or left == right:
            return left
        if {left, right} == {INDEX, "int64_t"}:
            return "int64_t"
        return None  # mixed widths and signedness: let Python decide
    if isinstance(op, (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift, ast.MatMult)):
        return None
    kinds = {left, right}
    if kinds & set(COMPLEX_CTYPES):
        if isinstance(op, (ast.FloorDiv, ast.Mod)):
            return None
        return CDOUBLE if (CDOUBLE in kinds or DOUBLE in kinds) else CFLOAT
    return DOUBLE if DOUBLE in kinds else FLOAT


def join(types: Iterable[str | None]) -> str | None:
    """One type for a name assigned several times, or None when they disagree."""
    found = set(types)
    if None in found or not found:
        return None
    if len(found) > 1:
        found.discard(PENDING)
    if len(found) == 1:
        return found.pop()
    if INTLIT in found:
        found.discard(INTLIT)
        if len(found) == 1 and _is_int(next(iter(found))):
            return found.pop()
    return None


@dataclass(frozen=True)
class Scope:
    """What the emitter knows about one function: array aliases, C locals, math mapping."""

    arrays: dict[str, ArrayType]  # names with a typed memoryview alias ``_mv_<name>``
    params: dict[str, str]  # scalar parameters typed in the signature (name -> C type)
    locals: dict[str, str]  # other names declared ``cdef`` (name -> C type)
    math_modules: frozenset[str]  # names bound to the ``math`` module
    numpy_modules: frozenset[str]  # names bound to ``numpy``
    math_values: dict[str, str]  # names bound to a ``math`` function (``from math import sqrt``)
    #: For C-typed locals: what the *original* holds there, ``PY`` (a Python scalar), ``NP`` (a
    #: NumPy scalar) or ``TAGGED`` (either, by path: the emitter keeps a flag beside it).
    origins: dict[str, str] = field(default_factory=dict)


class Env:
    """Types assigned to each name while the fixpoint iteration runs."""

    def __init__(self, scope: Scope, arrays: dict[str, ArrayType]) -> None:
        self.scope = scope
        self.arrays = arrays
        self.types: dict[str, str | None] = dict(scope.params)
        self.origins: dict[str, str | None] = dict(scope.origins)

    def expr(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                return BINT
            if isinstance(value, int):
                return INTLIT if -(2**62) < value < 2**62 else None
            if isinstance(value, float):
                return DOUBLE
            if isinstance(value, complex):
                return CDOUBLE
            return None
        if isinstance(node, ast.Name):
            return self.types.get(node.id)
        if isinstance(node, ast.BinOp):
            return arithmetic(node.op, self.expr(node.left), self.expr(node.right))
        if isinstance(node, ast.UnaryOp):
            inner = self.expr(node.operand)
            if isinstance(node.op, ast.Not):
                return BINT
            if isinstance(node.op, (ast.USub, ast.UAdd)) and (inner in NUMERIC or inner == PENDING):
                return inner
            return None
        if isinstance(node, ast.Compare):
            return BINT
        if isinstance(node, ast.IfExp):
            return join([self.expr(node.body), self.expr(node.orelse)])
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        return None

    def origin(self, node: ast.expr) -> Origin:
        """Whether the original holds a Python or a NumPy scalar where ``node`` is a C value."""
        if isinstance(node, ast.Constant):
            return PY if isinstance(node.value, (bool, int, float, complex)) else None
        if isinstance(node, ast.Name):
            if node.id in self.scope.params:
                return PY  # a scalar parameter is typed only when it is a Python float
            found = self.origins.get(node.id)
            return frozenset({node.id}) if found == TAGGED else found
        if isinstance(node, ast.Subscript):
            if self.shape_of(node):
                return PY
            array = self.element_array(node)
            # float32 and complex elements keep their own width in NumPy's arithmetic: not tracked.
            return NP if array is not None and (array.ctype == DOUBLE or array.ctype in INTEGER_CTYPES) else None
        if isinstance(node, ast.BinOp):
            return combine_origins(self.origin(node.left), self.origin(node.right))
        if isinstance(node, ast.UnaryOp):
            return PY if isinstance(node.op, ast.Not) else self.origin(node.operand)
        if isinstance(node, ast.IfExp):
            body, orelse = self.origin(node.body), self.origin(node.orelse)
            return body if body == orelse and isinstance(body, str) else None
        if isinstance(node, ast.Call) and self.call(node) is not None:
            func = node.func
            if isinstance(func, ast.Name):
                if func.id == "abs" and len(node.args) == 1:
                    return self.origin(node.args[0])
                return PY  # len, float, a math function: Python scalars
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                return NP if func.value.id in self.scope.numpy_modules else PY
        return None

    def element_array(self, node: ast.Subscript) -> ArrayType | None:
        """The aliased array ``node`` reads one element of, if it is such a read."""
        if not isinstance(node.value, ast.Name) or node.value.id not in self.arrays:
            return None
        array = self.arrays[node.value.id]
        index = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if len(index) != array.ndim or not all(_is_int(self.expr(i)) for i in index):
            return None
        return array

    def shape_of(self, node: ast.Subscript) -> bool:
        """``a.shape[k]`` for an aliased array and a constant axis ``0 <= k < ndim``."""
        value = node.value
        return (isinstance(value, ast.Attribute) and value.attr == "shape"
                and isinstance(value.value, ast.Name) and value.value.id in self.arrays
                and isinstance(node.slice, ast.Constant) and type(node.slice.value) is int
                and 0 <= node.slice.value < self.arrays[value.value.id].ndim)

    def subscript(self, node: ast.Subscript) -> str | None:
        if self.shape_of(node):
            return INDEX
        array = self.element_array(node)
        if array is None and isinstance(node.value, ast.Name) and node.value.id in self.arrays:
            # An index not typed yet (the loop variable, during the optimistic pass) must not
            # make the element an object for good: ``acc += a[i]`` is read before ``i`` is typed.
            index = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            types = [self.expr(i) for i in index]
            if len(index) == self.arrays[node.value.id].ndim and PENDING in types \
                    and all(t == PENDING or _is_int(t) for t in types):
                return PENDING
        return array.ctype if array is not None else None

    def call(self, node: ast.Call) -> str | None:
        func = node.func
        if node.keywords:
            return None
        if isinstance(func, ast.Name):
            if func.id == "len" and len(node.args) == 1:
                arg = node.args[0]
                if isinstance(arg, ast.Name) and arg.id in self.arrays:
                    return INDEX
                return None
            if func.id == "float" and len(node.args) == 1 and self.expr(node.args[0]) in NUMERIC:
                return DOUBLE
            if func.id == "abs" and len(node.args) == 1:
                inner = self.expr(node.args[0])
                if inner in COMPLEX_CTYPES:
                    return DOUBLE if inner == CDOUBLE else FLOAT
                return inner if inner in INTEGER_CTYPES or inner in FLOAT_CTYPES else None
            if func.id in self.scope.math_values:
                return self.math_call(self.scope.math_values[func.id], node)
            return None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = func.value.id
            if owner in self.scope.math_modules:
                return self.math_call(func.attr, node)
            if owner in self.scope.numpy_modules and func.attr in NUMPY_FUNCTIONS:
                return DOUBLE if self.numpy_scalar_call(node) else None
        return None

    def math_call(self, name: str, node: ast.Call) -> str | None:
        if name not in MATH_FUNCTIONS:
            return None
        arity = 2 if name in ("atan2", "hypot") else 1
        if len(node.args) != arity or any(isinstance(a, ast.Starred) for a in node.args):
            return None
        return BINT if name in MATH_BOOL else DOUBLE

    def numpy_scalar_call(self, node: ast.Call) -> bool:
        """A NumPy ufunc applied to C doubles (or integers): the C function gives its value."""
        arity = 2 if node.func.attr in ("arctan2", "hypot") else 1  # type: ignore[attr-defined]
        if len(node.args) != arity:
            return False
        return all(self.expr(a) in (DOUBLE, INDEX, "int64_t", "int32_t") for a in node.args)


def _own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of ``body`` outside nested functions, classes and lambdas (other scopes)."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.append(child)


def _has_nested_scope(fn: ast.FunctionDef) -> bool:
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
               for n in ast.walk(fn) if n is not fn)


def _comprehension_names(fn: ast.FunctionDef) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.comprehension):
            names |= names_in(node.target)
    return names


def _allocation(call: ast.expr, scope: Scope, arrays: dict[str, ArrayType]) -> ArrayType | None:
    """The array a NumPy allocator call returns, where its dtype, ndim and layout are evident."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)):
        return None
    owner, name = call.func.value.id, call.func.attr
    keywords = {k.arg: k.value for k in call.keywords}
    if None in keywords or set(keywords) - {"dtype", "order"}:
        return None
    if "order" in keywords:
        order = keywords["order"]
        if not (isinstance(order, ast.Constant) and order.value in ("C", "F")):
            return None
    dtype: str | None = "float64"
    if "dtype" in keywords:
        dtype = _dtype_name(keywords["dtype"], scope)
        if dtype is None:
            return None
    if owner in scope.numpy_modules and name in ALLOCATORS:
        positional = 2 if name == "full" else 1
        if len(call.args) != positional:
            return None
        if name == "full" and "dtype" not in keywords:
            return None  # full's dtype follows its fill value
        shape = call.args[0]
        ndim = len(shape.elts) if isinstance(shape, ast.Tuple) else 1
        if isinstance(shape, (ast.List, ast.Starred)) or ndim == 0:
            return None
        layout = keywords["order"].value if "order" in keywords else "C"  # type: ignore[attr-defined]
        return ArrayType(DTYPE_CTYPES[dtype], ndim, layout if ndim > 1 else "C")  # type: ignore[index]
    if owner in scope.numpy_modules and name in LIKE_ALLOCATORS:
        if not call.args or not isinstance(call.args[0], ast.Name) or call.args[0].id not in arrays:
            return None
        if len(call.args) != (2 if name == "full_like" else 1) or "order" in keywords:
            return None
        source = arrays[call.args[0].id]
        ctype = DTYPE_CTYPES[dtype] if "dtype" in keywords else source.ctype  # type: ignore[index]
        # order="K" (the default) keeps C and F; a strided source gives a new layout we cannot name.
        return ArrayType(ctype, source.ndim, source.layout if source.layout in "CF" else "A")
    if name == "copy" and owner in arrays and not call.args and not keywords:
        source = arrays[owner]
        return ArrayType(source.ctype, source.ndim, "C" if source.ndim > 1 else "C")
    return None


def _dtype_name(node: ast.expr, scope: Scope) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        name = _DTYPE_NAMES.get(node.value)
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in scope.numpy_modules:
        name = _DTYPE_NAMES.get(node.attr)
    elif isinstance(node, ast.Name) and node.id in ("float", "complex"):
        name = _DTYPE_NAMES[node.id]
    else:
        name = None
    return name if name in DTYPE_CTYPES else None


def _targets(node: ast.AST) -> list[tuple[ast.expr, ast.expr | None]]:
    """(target, value) pairs an assignment statement binds; value None when not knowable."""
    if isinstance(node, ast.Assign):
        pairs: list[tuple[ast.expr, ast.expr | None]] = []
        for target in node.targets:
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple) \
                    and len(target.elts) == len(node.value.elts):
                pairs += list(zip(target.elts, node.value.elts))
            else:
                pairs.append((target, node.value))
        return pairs
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return [(node.target, node.value)]
    return []


def combine_origins(left: Origin, right: Origin) -> Origin:
    """The origin of ``left op right``: NumPy's scalar wins (``np.float64 + 1.0`` is
    ``np.float64``, and so is ``np.int64 * 0.5``); two Python scalars give a Python scalar."""
    if left is None or right is None:
        return None
    if PENDING in (left, right):
        return PENDING
    if NP in (left, right):
        return NP
    tags = (left if isinstance(left, frozenset) else frozenset()) | (right if isinstance(right, frozenset) else frozenset())
    return frozenset(tags) if tags else PY


def _origins(env: Env, names: dict[str, str], assignments: dict[str, list[tuple[str, ast.AST]]],
             simple: set[str]) -> dict[str, str]:
    """Each C-typed local's origin: ``PY``, ``NP``, or ``TAGGED`` where both reach it by path (only
    for doubles assigned by plain ``name = ...`` and ``name op= ...``, where the emitter can set a
    flag beside it). Names left out are not known: the emitter boxes them as before."""
    env.origins = {name: PENDING for name in names}

    def found(name: str, kind: str, item: ast.AST) -> Origin:
        if kind == "range":
            return PY
        if kind == "element":
            array = iterated_array(item, env.arrays)
            return NP if array is not None and (array.ctype == DOUBLE or array.ctype in INTEGER_CTYPES) else None
        if kind == "value":
            return env.origin(item) if isinstance(item, ast.expr) else None
        if kind == "aug" and isinstance(item, ast.AugAssign):
            return combine_origins(env.origin(ast.Name(name, ast.Load())), env.origin(item.value))
        return None

    def settle(name: str) -> str | None:
        seen: set[str] = set()
        for kind, item in assignments[name]:
            origin = found(name, kind, item)
            if origin is None:
                return None
            if origin == PENDING:
                continue
            seen |= {TAGGED} if isinstance(origin, frozenset) else {origin}
        if not seen:
            return PENDING
        if len(seen) == 1 and TAGGED not in seen:
            return seen.pop()
        return TAGGED if names[name] == DOUBLE and name in simple else None

    order = {PENDING: 0, PY: 1, NP: 1, TAGGED: 2, None: 3}
    changed = True
    while changed:  # each name only climbs PENDING -> PY/NP -> TAGGED -> unknown: this ends
        changed = False
        for name in sorted(names):
            old, new = env.origins[name], settle(name)
            if old in (PY, NP) and new in (PY, NP) and new != old:
                new = TAGGED if names[name] == DOUBLE and name in simple else None
            if new != old and order[new] >= order[old]:
                env.origins[name], changed = new, True
    return {name: o for name, o in env.origins.items() if o in (PY, NP, TAGGED)}


def _simply_assigned(fn: ast.FunctionDef) -> set[str]:
    """Names bound only by ``name = value`` (one target) and ``name op= value``."""
    plain: set[int] = set()  # the target nodes of those statements
    for node in _own_nodes(fn.body):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            plain.add(id(node.targets[0]))
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            plain.add(id(node.target))
    simple: set[str] = set()
    other: set[str] = set()
    for node in _own_nodes(fn.body):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            (simple if id(node) in plain else other).add(node.id)
    return simple - other


def infer(fn: ast.FunctionDef, signature: Signature | None, math_modules: frozenset[str],
          numpy_modules: frozenset[str], math_values: dict[str, str]) -> Scope:
    """Types for ``fn``'s parameters (from ``signature``) and locals (from their assignments)."""
    params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    specs = signature.args if signature is not None and len(signature.args) == len(params) else ()
    arrays: dict[str, ArrayType] = {}
    scalar_params: dict[str, str] = {}
    assigned = {n.id for n in _own_nodes(fn.body) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    for name, spec in zip(params, specs):
        array = array_type(spec)
        if array is not None and name not in assigned:
            arrays[name] = array  # a rebound parameter cannot keep a view of the first array
        ctype = scalar_type(spec)
        if ctype is not None:
            scalar_params[name] = ctype
    scope = Scope(arrays, scalar_params, {}, math_modules, numpy_modules, math_values)
    if _has_nested_scope(fn):
        return scope  # closures capture names; keep every local a Python object

    excluded = _comprehension_names(fn) | set(params)
    # Arrays allocated once, at the top level of the body, get an alias too.
    stores: dict[str, int] = {}
    for node in _own_nodes(fn.body):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            stores[node.id] = stores.get(node.id, 0) + 1
    for statement in fn.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            name = statement.targets[0].id
            if stores.get(name) == 1 and name not in excluded:
                allocated = _allocation(statement.value, scope, arrays)
                if allocated is not None:
                    arrays[name] = allocated
    excluded |= set(arrays)

    assignments: dict[str, list[tuple[str, ast.AST]]] = {}
    for node in _own_nodes(fn.body):
        for target, value in _targets(node):
            if isinstance(target, ast.Name):
                assignments.setdefault(target.id, []).append(("value", value))  # type: ignore[arg-type]
            elif isinstance(target, (ast.Tuple, ast.List)) and _unpacks_shape(target, value, arrays):
                for name in target.elts:  # type: ignore[assignment]
                    assignments.setdefault(name.id, []).append(("range", node))  # type: ignore[attr-defined]
            else:
                for name in _unpacked(target):
                    assignments.setdefault(name, []).append(("unknown", node))
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            assignments.setdefault(node.target.id, []).append(("aug", node))
        elif isinstance(node, ast.For):
            names = _unpacked(node.target)
            is_range = (isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Name)
                        and node.iter.func.id == "range" and not node.iter.keywords
                        and isinstance(node.target, ast.Name))
            element = iterated_array(node, arrays)
            for name in names:
                if element is not None:
                    assignments.setdefault(name, []).append(("element", node))
                else:
                    assignments.setdefault(name, []).append(("range" if is_range else "unknown", node))
        elif isinstance(node, (ast.With, ast.AsyncWith, ast.ExceptHandler, ast.NamedExpr, ast.Delete,
                               ast.Import, ast.ImportFrom, ast.AsyncFor, ast.MatchAs, ast.MatchStar)):
            for name in _bound_names(node):
                assignments.setdefault(name, []).append(("unknown", node))

    env = Env(scope, arrays)
    candidates = {name for name in assignments if name not in excluded}
    for name in candidates:
        env.types[name] = PENDING

    def settle(name: str) -> str | None:
        found: list[str | None] = []
        for kind, item in assignments[name]:
            if kind == "range":
                found.append(INDEX)
            elif kind == "element":
                found.append(iterated_array(item, arrays).ctype)  # type: ignore[union-attr]
            elif kind == "value":
                found.append(env.expr(item) if item is not None else None)  # type: ignore[arg-type]
            elif kind == "aug":
                assert isinstance(item, ast.AugAssign)
                found.append(_augmented(env, name, item))
            else:
                found.append(None)
        return join(found)

    # Optimistic pass: names not typed yet (PENDING) do not veto; a fixpoint types loops whose
    # accumulator is read before its type is known.
    for _ in range(12):
        changed = False
        for name in sorted(candidates):
            guess = settle(name)
            if guess != env.types[name]:
                env.types[name], changed = guess, True
        if not changed:
            break
    # Pessimistic pass: every guess must hold with the others settled; one that does not
    # becomes a Python object, which may undo others, until nothing changes.
    for name in candidates:
        if env.types[name] == PENDING:
            env.types[name] = None
    changed = True
    while changed:
        changed = False
        for name in sorted(candidates):
            if env.types[name] is not None and settle(name) != env.types[name]:
                env.types[name], changed = None, True
    final = {name: t for name in candidates if (t := env.types[name]) not in (None, INTLIT)}
    # Python ints that never meet an index or an array (INTLIT) stay Python ints, except
    # counters: set from literals and only stepped by literals, they cannot outgrow 64 bits.
    for name in candidates:
        if env.types[name] == INTLIT and all(_is_counter_step(kind, item) for kind, item in assignments[name]):
            final[name] = INDEX
    origins = _origins(env, final, assignments, _simply_assigned(fn))
    return Scope(arrays, scalar_params, final, math_modules, numpy_modules, math_values, origins)


def _augmented(env: Env, name: str, node: ast.AugAssign) -> str | None:
    current = env.types.get(name)
    added = env.expr(node.value)
    result = arithmetic(node.op, current, added)
    if result == INDEX and not (added == INTLIT and isinstance(node.op, (ast.Add, ast.Sub))):
        # An index-typed accumulator of Python ints could outgrow 64 bits where Python's would
        # not; counting by a constant step cannot, in any loop that finishes.
        return None
    return result


def iterated_array(node: ast.AST, arrays: dict[str, ArrayType]) -> ArrayType | None:
    """``for v in a`` over an aliased 1-D array ``a``: the array (the emitter indexes it)."""
    if (isinstance(node, ast.For) and isinstance(node.target, ast.Name) and isinstance(node.iter, ast.Name)
            and node.iter.id in arrays and arrays[node.iter.id].ndim == 1):
        return arrays[node.iter.id]
    return None


def _is_counter_step(kind: str, item: ast.AST | None) -> bool:
    literal = (lambda v: isinstance(v, ast.Constant) and type(v.value) is int and abs(v.value) < 2**31)
    if kind == "value":
        return literal(item)
    if kind == "aug":
        return isinstance(item, ast.AugAssign) and isinstance(item.op, (ast.Add, ast.Sub)) and literal(item.value)
    return False


def _unpacked(target: ast.expr) -> list[str]:
    """Names an assignment target binds (``a[i] = ...`` binds none: it stores into ``a``)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for elt in target.elts for name in _unpacked(elt)]
    if isinstance(target, ast.Starred):
        return _unpacked(target.value)
    return []


def _unpacks_shape(target: ast.Tuple | ast.List, value: ast.expr | None, arrays: dict[str, ArrayType]) -> bool:
    """``n, m = a.shape`` for an array of known ndim: each name is an index."""
    return (isinstance(value, ast.Attribute) and value.attr == "shape" and isinstance(value.value, ast.Name)
            and value.value.id in arrays and len(target.elts) == arrays[value.value.id].ndim
            and all(isinstance(e, ast.Name) for e in target.elts))


def _bound_names(node: ast.AST) -> list[str]:
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [n.id for item in node.items if item.optional_vars is not None
                for n in ast.walk(item.optional_vars) if isinstance(n, ast.Name)]
    if isinstance(node, ast.ExceptHandler):
        return [node.name] if node.name else []
    if isinstance(node, ast.NamedExpr):
        return [node.target.id]
    if isinstance(node, ast.Delete):
        return [name for t in node.targets for name in _unpacked(t)]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if isinstance(node, (ast.MatchAs, ast.MatchStar)):
        return [node.name] if node.name else []
    return []
