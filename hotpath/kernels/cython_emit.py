"""Emit a ``.pyx`` module from a ``FunctionSource`` and the observed ``Signature``.

The function keeps its Python shape; three things change. Each array argument (and each array
the body allocates once) gets a typed memoryview alias ``_mv_<name>``, used only where an
element is read or written with integer indices, so that everything else the body does with the
array (slicing, methods, returning it) still sees the NumPy array. Locals whose type inference
(``hotpath.kernels.cython_types``) settles get ``cdef`` declarations; the rest stay Python
objects. ``math`` calls become C calls wrapped to raise exactly where Python's raise.

Helpers the kernel calls are emitted in the same module as ``def`` functions with their own
typed locals, so a call between them stays inside compiled code.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable
from dataclasses import dataclass

from hotpath.kernels.cython_types import (INDEX, NUMPY_FUNCTIONS, ArrayType, Scope, Env, infer,
                                          iterated_array)
from hotpath.rewriter.source import FunctionSource, import_lines, module_imports
from hotpath.signature import Signature

ALIAS = "_mv_"
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
        node = self.generic_visit(node)  # type: ignore[assignment]
        if name is not None:
            node.func = ast.Name(name, ast.Load())
        return node


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
    if not body:
        body = [ast.Pass()]
    lines += [_indent(ast.unparse(s)) for s in body]
    typed = tuple(f"{n}: {a.declaration()}" for n, a in scope.arrays.items()) + tuple(
        f"{n}: {t}" for n, t in sorted({**scope.params, **scope.locals}.items()))
    return EmittedFunction("\n".join(lines), frozenset(rewrite.math_used), frozenset(rewrite.c_used), typed)


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
    # Globals bound by value after import; declared here so that Cython knows them as globals.
    lines += [f"{name} = None" for name in injected]
    for name in math_used:
        lines += ["", "", _math_wrapper(name)]
    for function in functions:
        lines += ["", "", function.source]
    notes = ("typed: " + (", ".join(main.typed) if main.typed else "nothing (every name stays a Python object)"),)
    return "\n".join(lines) + "\n", notes


__all__ = ["ArrayType", "Directives", "emit_module", "emit_function"]
