"""Emit a ``.pyx`` module from a ``FunctionSource`` and the observed ``Signature``.

The function keeps its Python shape; three things change. Each array argument (and each array
the body allocates once) gets a typed memoryview alias ``_mv_<name>``, used only where an
element is read or written with integer indices, so that everything else the body does with the
array (slicing, methods, returning it) still sees the NumPy array. Locals whose type inference
(``hotpath.kernels.cython_types``) settles get ``cdef`` declarations; the rest stay Python
objects. ``math`` calls become C calls wrapped to raise exactly where Python's raise.

A C double stands for two Python types: the original holds ``np.float64`` where the value came
from an array element (or a NumPy call) and a Python float where it came from literals and float
arguments (``cython_types`` infers each local's *origin*). They differ in what a caller sees:
``np.float64(x) / 0.0`` is inf where ``x / 0.0`` raises, and the type of a returned scalar is part
of the answer. So: a ``/`` whose original operand was NumPy's divides as IEEE (whatever the
module's ``cdivision``); a C double that becomes an object (returned, passed to Python code,
stored in an untyped local, combined with an object) is boxed as ``np.float64`` where the original
had one; a local that holds either by path (``worst = 0.0`` ... ``worst = a[i] / a[j]``) carries a
flag saying which; ``int()`` of a C double is Python's (a bare C cast where Cython stores it into
a C integer would not raise for NaN or inf, and would wrap).

Helpers the kernel calls are emitted in the same module as ``def`` functions with their own
typed locals, so a call between them stays inside compiled code.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable
from dataclasses import dataclass

from hotpath.kernels.cython_types import (DOUBLE, FLOAT, INDEX, NP, NUMPY_FUNCTIONS, TAGGED, ArrayType, Env,
                                          Origin, Scope, combine_origins, infer, iterated_array)
from hotpath.rewriter.source import FunctionSource, import_lines, module_imports
from hotpath.signature import Signature
from hotpath.syntax import parse_expression

ALIAS = "_mv_"
#: ``numpy.float64``, bound in every module: a C double is boxed through it where the original
#: holds a NumPy scalar.
BOX = "_hp_float64"
#: ``_hp_np_<name>``: for a double that holds a Python float on some paths and ``np.float64`` on
#: others (``worst = 0.0`` ... ``worst = a[i] - a[j]``), whether it holds NumPy's now.
FLAG = "_hp_np_"
#: IEEE division of two C doubles, whatever the module's ``cdivision``: NumPy's scalar division
#: (inf or NaN, no exception), for a ``/`` whose original operand was a NumPy scalar.
IEEE_DIV = "_hp_ieee_div"
_IEEE_DIV_SOURCE = (f"@cython.cdivision(True)\ncdef inline double {IEEE_DIV}(double a, double b) noexcept:\n"
                    "    return a / b")
#: ``int`` of a C double with Python's semantics (returns the Python int; the store converts it
#: with Cython's overflow check, as NumPy's does).
PY_INT = "_hp_int"
_PY_INT_SOURCE = (f"cdef inline object {PY_INT}(double x):\n"
                  "    if -9.2e18 < x < 9.2e18:  # false for NaN: int() raises below\n"
                  "        return <int64_t>x  # truncation toward zero, as int()\n"
                  "    return int(<object>x)")
#: Builtins whose result is the same for ``np.float64`` and ``float`` arguments: no boxing needed.
_TYPE_BLIND = frozenset({"int", "float", "bool", "len", "range"})
STDINT = ("int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t")

#: The C twin of each ``math`` function, and the Python exception it must raise (Cython source).
#: Python raises ValueError for a domain error and OverflowError for a finite argument whose
#: result overflows; C returns NaN or inf. The wrapper restores Python's behaviour.
_MATH_GUARDS = {
    "sqrt": ("x < 0.0", "ValueError"),
    "log": ("x <= 0.0", "ValueError"),
    "sin": ("isinf(x)", "ValueError"),
    "cos": ("isinf(x)", "ValueError"),
    "tan": ("isinf(x)", "ValueError"),
    "exp": ("isinf(r) and isfinite(x)", "OverflowError"),
    "sinh": ("isinf(r) and isfinite(x)", "OverflowError"),
    "cosh": ("isinf(r) and isfinite(x)", "OverflowError"),
    "fabs": (None, None), "atan": (None, None), "tanh": (None, None),
}
_MATH_BINARY = ("atan2", "hypot")
_MATH_BOOL = ("isnan", "isinf", "isfinite")


@dataclass(frozen=True)
class Directives:
    """Compiler directives of one candidate; each relaxation is verified by the runner."""

    boundscheck: bool = False
    wraparound: bool = False
    cdivision: bool = False

    def header(self) -> str:
        return (f"# cython: language_level=3, boundscheck={self.boundscheck}, "
                f"wraparound={self.wraparound}, cdivision={self.cdivision}, "
                "initializedcheck=True, annotation_typing=False, embedsignature=False")


class _Rewrite(ast.NodeTransformer):
    """Element accesses through the memoryview aliases; C math where it is exact."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.env = Env(scope, scope.arrays)
        self.env.types.update(scope.locals)
        self.math_used: set[str] = set()
        self.c_used: set[str] = set()
        self.counters: list[str] = []  # index variables of rewritten ``for v in array`` loops
        self.ieee_division = False  # whether the module needs IEEE_DIV
        self.python_int = False  # whether it needs PY_INT

    def visit_For(self, node: ast.For) -> ast.AST:
        array = iterated_array(node, self.scope.arrays)
        if array is None:
            return self.generic_visit(node)
        # for v in a  ->  for _hp_k in range(len): v = a[_hp_k]  (the same values, read as C)
        counter = f"_hp_k{len(self.counters)}"
        self.counters.append(counter)
        name = node.iter.id  # type: ignore[attr-defined]
        node = self.generic_visit(node)  # type: ignore[assignment]
        shape = ast.Subscript(ast.Attribute(ast.Name(ALIAS + name, ast.Load()), "shape", ast.Load()),
                              ast.Constant(0), ast.Load())
        read = ast.Assign([node.target], ast.Subscript(ast.Name(ALIAS + name, ast.Load()),
                                                       ast.Name(counter, ast.Load()), ast.Load()), lineno=0)
        return ast.copy_location(ast.For(ast.Name(counter, ast.Store()),
                                         ast.Call(ast.Name("range", ast.Load()), [shape], []),
                                         [read, *node.body], node.orelse, lineno=0), node)

    # --- boxing: where a C double becomes a Python object, it is the object the original had ---
    # Decisions are taken on the original nodes before their children are rewritten (the rewrite
    # changes nodes in place, and the rewritten ones name the memoryview aliases).

    def boxing(self, original: ast.expr) -> Origin:
        """How ``original`` must be boxed where it meets Python objects: ``NP`` (always as
        ``np.float64``), tagged names (as ``np.float64`` when one of their flags is set), or
        ``None`` (as Cython does: a C double of a Python float, or an origin not known)."""
        if self.env.expr(original) != DOUBLE:
            return None
        origin = self.env.origin(original)
        return origin if origin == NP or (isinstance(origin, frozenset) and origin) else None

    def boxed(self, plan: Origin, rewritten: ast.expr) -> ast.expr:
        if plan is None:
            return rewritten
        box = ast.Call(ast.Name(BOX, ast.Load()), [rewritten], [])
        if isinstance(plan, frozenset):
            return ast.IfExp(self.flag_test(plan), box, rewritten)
        return box

    def visit_boxed(self, original: ast.expr) -> ast.expr:
        plan = self.boxing(original)
        return self.boxed(plan, self.visit(original))

    @staticmethod
    def flag_test(names: frozenset[str]) -> ast.expr:
        flags: list[ast.expr] = [ast.Name(FLAG + n, ast.Load()) for n in sorted(names)]
        return flags[0] if len(flags) == 1 else ast.BoolOp(ast.Or(), flags)

    def flag_value(self, origin: Origin) -> ast.expr:
        if isinstance(origin, frozenset):
            return self.flag_test(origin) if origin else ast.Constant(False)
        return ast.Constant(origin == NP)

    def is_c_target(self, target: ast.expr) -> bool:
        """A C local, or an element stored through a memoryview: a C double stays a C double."""
        if isinstance(target, ast.Name):
            return target.id in self.scope.locals or target.id in self.scope.params
        if isinstance(target, (ast.Tuple, ast.List)):
            return all(self.is_c_target(e) for e in target.elts)
        return isinstance(target, ast.Subscript) and self.env.element_array(target) is not None

    def visit_Return(self, node: ast.Return) -> ast.AST:
        if node.value is not None:
            node.value = self.visit_boxed(node.value)
        return node

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        if node.value is not None:
            node.value = self.visit_boxed(node.value)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        # A C double meeting a Python object computes in Python: with NumPy's scalar where the
        # original had one (``np.float64(x) / 0.0`` is inf; ``x / 0.0`` raises).
        left, right = self.env.expr(node.left), self.env.expr(node.right)
        plan_left = self.boxing(node.left) if left == DOUBLE and right is None else None
        plan_right = self.boxing(node.right) if right == DOUBLE and left is None else None
        # A C division divides as the original did: NumPy's (IEEE) where an operand was NumPy's
        # scalar, Python's (ZeroDivisionError, Cython's default) where both were Python's.
        ieee: Origin = None
        if isinstance(node.op, ast.Div) and self.env.expr(node) == DOUBLE:
            ieee = self.env.origin(node)
        node.left = self.boxed(plan_left, self.visit(node.left))
        node.right = self.boxed(plan_right, self.visit(node.right))
        if ieee == NP or (isinstance(ieee, frozenset) and ieee):
            self.ieee_division = True
            call = ast.Call(ast.Name(IEEE_DIV, ast.Load()), [node.left, node.right], [])
            if isinstance(ieee, frozenset):
                return ast.copy_location(ast.IfExp(self.flag_test(ieee), call, node), node)
            return ast.copy_location(call, node)
        return node

    def visit_Tuple(self, node: ast.Tuple) -> ast.AST:
        return self.box_elements(node)

    def visit_List(self, node: ast.List) -> ast.AST:
        return self.box_elements(node)

    def box_elements(self, node: ast.Tuple | ast.List) -> ast.AST:
        if not isinstance(node.ctx, ast.Load):
            return self.generic_visit(node)
        node.elts = [self.visit_boxed(e) for e in node.elts]
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST | list[ast.stmt]:
        tagged = [t.id for t in node.targets if isinstance(t, ast.Name) and self.scope.origins.get(t.id) == TAGGED]
        flag = self.flag_value(self.env.origin(node.value)) if tagged else None
        into_c = all(self.is_c_target(t) for t in node.targets)
        if into_c and isinstance(node.value, (ast.Tuple, ast.List)):
            node.value.elts = [self.visit(e) for e in node.value.elts]  # C to C: no boxing between
        else:
            # Stored as an object (an untyped local, a list, an attribute): the object the original stores.
            node.value = self.visit(node.value) if into_c else self.visit_boxed(node.value)
        node.targets = [self.visit(t) for t in node.targets]
        if flag is None:
            return node
        return [node, *(ast.Assign([ast.Name(FLAG + name, ast.Store())], flag, lineno=0) for name in tagged)]

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST | list[ast.stmt]:
        target = node.target
        if isinstance(node.op, ast.Div) and self.is_c_target(target) and _pure(target):
            # ``t /= v`` as ``t = t / v`` (the same for C scalars and elements, the target read
            # once more), so that the division is the original's (see visit_BinOp).
            load = ast.copy_location(_as_load(target), target)
            division = ast.copy_location(ast.BinOp(load, ast.Div(), node.value), node)
            return self.visit_Assign(ast.copy_location(ast.Assign([target], division, lineno=node.lineno), node))
        flag = None
        if isinstance(target, ast.Name) and self.scope.origins.get(target.id) == TAGGED:
            flag = self.flag_value(combine_origins(self.env.origin(ast.Name(target.id, ast.Load())),
                                                   self.env.origin(node.value)))
        name = target.id if isinstance(target, ast.Name) else ""
        into_c = self.is_c_target(target)
        node.value = self.visit(node.value) if into_c else self.visit_boxed(node.value)
        node.target = self.visit(target)
        if flag is None:
            return node
        return [node, ast.Assign([ast.Name(FLAG + name, ast.Store())], flag, lineno=0)]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return node  # a nested function is its own scope: left as written

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if self.env.shape_of(node):
            owner = node.value.value.id  # type: ignore[attr-defined]
            return ast.copy_location(ast.Subscript(
                ast.Attribute(ast.Name(ALIAS + owner, ast.Load()), "shape", ast.Load()),
                node.slice, node.ctx), node)
        if self.env.element_array(node) is not None:
            name = node.value.id  # type: ignore[attr-defined]
            index = self.visit(node.slice)
            return ast.copy_location(ast.Subscript(ast.Name(ALIAS + name, ast.Load()), index, node.ctx), node)
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        kind = self.env.call(node)
        if isinstance(func, ast.Name) and func.id == "len" and kind is not None:
            owner = node.args[0].id  # type: ignore[attr-defined]
            return ast.copy_location(ast.Subscript(
                ast.Attribute(ast.Name(ALIAS + owner, ast.Load()), "shape", ast.Load()),
                ast.Constant(0), ast.Load()), node)
        if (isinstance(func, ast.Name) and func.id == "int" and len(node.args) == 1 and not node.keywords
                and self.env.expr(node.args[0]) in (DOUBLE, FLOAT)):
            # Cython turns int(<C double>) stored into a C integer into a bare C cast (no ValueError
            # for NaN, no OverflowError for inf, wrapped where Python's int grows): Python's int.
            self.python_int = True
            return ast.copy_location(ast.Call(ast.Name(PY_INT, ast.Load()), [self.visit(node.args[0])], []), node)
        name = None
        if kind is not None:
            if isinstance(func, ast.Name) and func.id in self.scope.math_values:
                name = "_hp_math_" + self.scope.math_values[func.id]
                self.math_used.add(self.scope.math_values[func.id])
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                if func.value.id in self.scope.math_modules:
                    name = "_hp_math_" + func.attr
                    self.math_used.add(func.attr)
                elif func.value.id in self.scope.numpy_modules:
                    # A NumPy ufunc on C scalars follows IEEE (NaN, inf, no exception): the
                    # C function gives the same value, as a C double.
                    name = "_c_" + NUMPY_FUNCTIONS[func.attr]
                    self.c_used.add(NUMPY_FUNCTIONS[func.attr])
        if kind is None and not self.type_blind(func):
            # Passed to Python code (a helper, a method, print): the object the original passes.
            node.func = self.visit(func)
            node.args = [self.visit_boxed(a) for a in node.args]
            node.keywords = [self.visit(k) for k in node.keywords]
            return node
        node = self.generic_visit(node)  # type: ignore[assignment]
        if name is not None:
            node.func = ast.Name(name, ast.Load())
        return node

    def type_blind(self, func: ast.expr) -> bool:
        """Builtins and ``math`` functions that give the same for ``np.float64`` and ``float``."""
        if isinstance(func, ast.Name):
            return func.id in _TYPE_BLIND or func.id in self.scope.math_values
        return (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id in self.scope.math_modules)


def _pure(target: ast.expr) -> bool:
    """Reading ``target`` again has no effect: names, constants and arithmetic on them."""
    return all(isinstance(n, (ast.Name, ast.Constant, ast.Subscript, ast.BinOp, ast.UnaryOp, ast.Tuple,
                              ast.expr_context, ast.operator, ast.unaryop)) for n in ast.walk(target))


def _as_load(target: ast.expr) -> ast.expr:
    """A copy of the store target ``target`` that reads it."""
    copied = parse_expression(ast.unparse(target))
    return copied


def _insert_aliases(body: list[ast.stmt], allocated: Iterable[str]) -> list[ast.stmt]:
    """After ``out = np.zeros(...)`` at the top level, bind ``_mv_out = out``."""
    wanted = set(allocated)
    out: list[ast.stmt] = []
    for statement in body:
        out.append(statement)
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id in wanted:
            name = statement.targets[0].id
            out.append(ast.Assign([ast.Name(ALIAS + name, ast.Store())], ast.Name(name, ast.Load()), lineno=0))
    return out


@dataclass(frozen=True)
class EmittedFunction:
    source: str
    math_used: frozenset[str]
    c_used: frozenset[str]
    typed: tuple[str, ...]  # notes: what got a C type
    ieee_division: bool = False  # it calls IEEE_DIV
    python_int: bool = False  # it calls PY_INT


def _strip_annotations(fn: ast.FunctionDef) -> None:
    fn.returns = None
    for arg in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs:
        arg.annotation = None


def emit_function(fn: ast.FunctionDef, signature: Signature | None, math_modules: frozenset[str],
                  numpy_modules: frozenset[str], math_values: dict[str, str]) -> EmittedFunction:
    """One ``def`` with typed memoryview aliases, ``cdef`` locals and C math."""
    _strip_annotations(fn)
    scope = infer(fn, signature, math_modules, numpy_modules, math_values)
    params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    allocated = [n for n in scope.arrays if n not in params]
    rewrite = _Rewrite(scope)
    body = [rewrite.visit(s) for s in fn.body]
    body = _insert_aliases(body, allocated)

    docstring: list[ast.stmt] = []
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        docstring, body = body[:1], body[1:]

    defaults = fn.args.defaults
    first_default = len(params) - len(defaults)
    rendered = []
    for i, name in enumerate(params):
        text = f"{scope.params[name]} {name}" if name in scope.params else name
        if i >= first_default:
            text += f"={ast.unparse(defaults[i - first_default])}"
        rendered.append(text)
        if fn.args.posonlyargs and i == len(fn.args.posonlyargs) - 1:
            rendered.append("/")

    lines = [f"def {fn.name}({', '.join(rendered)}):"]
    lines += [_indent(ast.unparse(s)) for s in docstring]
    for name, array in scope.arrays.items():
        if name in params:
            lines.append(f"    cdef {array.declaration()} {ALIAS}{name} = {name}")
        else:
            lines.append(f"    cdef {array.declaration()} {ALIAS}{name}")
    for name, ctype in sorted({**scope.locals, **{c: INDEX for c in rewrite.counters}}.items()):
        lines.append(f"    cdef {ctype} {name}")
    for name in sorted(n for n, o in scope.origins.items() if o == TAGGED):
        lines.append(f"    cdef bint {FLAG}{name} = False")
    if not body:
        body = [ast.Pass()]
    lines += [_indent(ast.unparse(s)) for s in body]
    typed = tuple(f"{n}: {a.declaration()}" for n, a in scope.arrays.items()) + tuple(
        f"{n}: {t}" for n, t in sorted({**scope.params, **scope.locals}.items()))
    return EmittedFunction("\n".join(lines), frozenset(rewrite.math_used), frozenset(rewrite.c_used), typed,
                           rewrite.ieee_division, rewrite.python_int)


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.splitlines())


def _math_wrapper(name: str) -> str:
    if name in _MATH_BOOL:
        return f"cdef inline bint _hp_math_{name}(double x) noexcept:\n    return {name}(x)"
    if name in _MATH_BINARY:
        return f"cdef inline double _hp_math_{name}(double x, double y) noexcept:\n    return _c_{name}(x, y)"
    condition, error = _MATH_GUARDS[name]
    lines = [f"cdef inline double _hp_math_{name}(double x) except? -1.0:",
             f"    cdef double r = _c_{name}(x)"]
    if condition is not None:
        message = "math domain error" if error == "ValueError" else "math range error"
        lines += [f"    if {condition}:", f"        raise {error}({message!r})"]
    lines.append("    return r")
    return "\n".join(lines)


def _imports(fs: FunctionSource) -> list[str]:
    return import_lines(module_imports(fs))


def _module_names(fs: FunctionSource) -> tuple[frozenset[str], frozenset[str], dict[str, str]]:
    imports = module_imports(fs)
    math_modules = frozenset(a for a, m in imports.items() if m == "math")
    numpy_modules = frozenset(a for a, m in imports.items() if m == "numpy")
    math_values: dict[str, str] = {}
    for part in fs.walk():
        for ref in part.refs:
            if ref.kind == "value" and getattr(ref.value, "__name__", None) in _math_names() \
                    and getattr(math, ref.value.__name__, None) is ref.value:
                math_values[ref.name] = ref.value.__name__  # type: ignore[union-attr]
    return math_modules, numpy_modules, math_values


def _math_names() -> frozenset[str]:
    return frozenset(_MATH_GUARDS) | frozenset(_MATH_BINARY) | frozenset(_MATH_BOOL)


def emit_module(fs: FunctionSource, signature: Signature, directives: Directives, title: str,
                injected: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """The whole ``.pyx``: header, imports, math wrappers, helpers, then the kernel.

    Returns the source and notes on what was typed (for ``Trial`` notes).
    """
    math_modules, numpy_modules, math_values = _module_names(fs)
    functions: list[EmittedFunction] = []
    for helper in list(fs.walk())[1:]:
        functions.append(emit_function(helper.tree, None, math_modules, numpy_modules, math_values))
    main = emit_function(fs.tree, signature, math_modules, numpy_modules, math_values)
    functions.append(main)
    math_used = sorted(set().union(*(f.math_used for f in functions)))
    c_used = set().union(*(f.c_used for f in functions))
    c_used |= {m for m in math_used if m not in _MATH_BOOL}

    lines = [directives.header(),
             f"# hotpath candidate {title!r} for {fs.module}.{fs.qualname} (from {fs.filename})",
             "# Generated from the function's source; the original is never modified."]
    injected = sorted(injected)
    if injected:
        lines.append(f"# Bound by hotpath after import (values, not importable): {', '.join(injected)}")
    lines += ["cimport cython", f"from libc.stdint cimport {', '.join(STDINT)}"]
    c_imports = [f"{name} as _c_{name}" for name in sorted(c_used)]
    if math_used:
        c_imports += ["isinf", "isfinite", "isnan"]
    if c_imports:
        lines.append(f"from libc.math cimport {', '.join(c_imports)}")
    lines += _imports(fs)
    lines.append(f"from numpy import float64 as {BOX}")
    # Globals bound by value after import; declared here so that Cython knows them as globals.
    lines += [f"{name} = None" for name in injected]
    for name in math_used:
        lines += ["", "", _math_wrapper(name)]
    if any(f.ieee_division for f in functions):
        lines += ["", "", _IEEE_DIV_SOURCE]
    if any(f.python_int for f in functions):
        lines += ["", "", _PY_INT_SOURCE]
    for function in functions:
        lines += ["", "", function.source]
    notes = ("typed: " + (", ".join(main.typed) if main.typed else "nothing (every name stays a Python object)"),)
    return "\n".join(lines) + "\n", notes


__all__ = ["ArrayType", "Directives", "emit_module", "emit_function"]
