"""Recover a function's source and everything it refers to, or say why that is impossible.

The result, ``FunctionSource``, is what every backend emits from: the function's definition
with decorators stripped, the globals and closure values it reads (modules by import, other
values injected by value), and the plain-Python helpers it calls, extracted the same way so
they can be compiled together with it.

A value read through an attribute of a global (``P.SCALE`` of a parameters module the user
wrote, ``PARAMS.dt`` of a global object), or as an item of a global dict with a constant key
(``PARAMS["dt"]``, which no compiler types), is injected by value too: the emitted source reads a
name bound to what the attribute or item holds now (``_hp_P__SCALE``, ``_hp_PARAMS__dt``). So a variant is built with the
values the original sees in this process (a worker that imported ``P`` afresh would see the
file's), the generated module's name and the store's key change with them, and
``hotpath.frozen_globals`` watches the attribute like a global name.

Functions with effects a compiled variant would not reproduce are refused, with the effect
named: assigning globals or attributes or items of globals, calling a method that changes a
global, reading a clock, drawing random numbers, printing, logging or other I/O.
"""

from __future__ import annotations

import ast
import builtins
import dis
import hashlib
import inspect
import io
import logging
import random
import sysconfig
import textwrap
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hotpath.errors import NotRewritable
from hotpath.rewriter.supported import check_supported
from hotpath.syntax import parse_module, parse_statements

_GLOBAL_OPS = {"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL"}


@dataclass(frozen=True)
class GlobalRef:
    """A global or closure name the function reads, and how the generated module provides it."""

    name: str
    kind: str  # "module" (emitted as an import), "helper" (compiled alongside), "value" (injected)
    module_name: str | None = None
    value: Any = field(default=None, compare=False, repr=False)
    #: For a value read through attributes of a global, where the original reads it
    #: (``"P.SCALE"``: the global or closure variable first, then the attributes).
    attribute: str | None = None
    #: For a value read as an item of a global dict with a constant key (``PARAMS["dt"]``),
    #: that global's name: the dict is watched as a whole, by contents, so the item is too.
    item_of: str | None = None


class SideEffects(NotRewritable):
    """The function has an effect beyond its result and its arguments (the reason names it)."""


@dataclass(frozen=True)
class FunctionSource:
    """A rewritable function: its stripped definition and what it needs from outside."""

    name: str
    qualname: str
    module: str
    params: tuple[str, ...]
    source: str  # dedented ``def`` with decorators removed
    refs: tuple[GlobalRef, ...]
    helpers: tuple[FunctionSource, ...]
    filename: str

    @property
    def tree(self) -> ast.FunctionDef:
        node = parse_statements(self.source)[0]
        assert isinstance(node, ast.FunctionDef)
        return node

    @property
    def source_hash(self) -> str:
        """SHA-256 over this function's and its helpers' sources and the names they bind."""
        digest = hashlib.sha256()
        for part in self.walk():
            digest.update(part.source.encode())
            for ref in part.refs:
                digest.update(f"{ref.name}:{ref.kind}:{ref.module_name}".encode())
        return digest.hexdigest()

    @property
    def is_user_code(self) -> bool:
        """Defined in the user's files, not in the standard library or an installed package."""
        return not str(Path(self.filename).resolve()).startswith(_LIBRARY_ROOTS)

    def walk(self) -> Iterator[FunctionSource]:
        """This function, then every helper (transitively), each once."""
        seen: set[str] = set()
        stack = [self]
        while stack:
            item = stack.pop()
            if item.qualname in seen:
                continue
            seen.add(item.qualname)
            yield item
            stack.extend(reversed(item.helpers))


def unwrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The user's original function behind a hotpath wrapper, if any."""
    return getattr(fn, "__hotpath_original__", fn)


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get("stdlib"), paths.get("platstdlib"), paths.get("purelib"), paths.get("platlib")}
    return tuple(str(Path(r).resolve()) for r in roots if r)


_LIBRARY_ROOTS = _library_roots()


def _is_user_function(value: object) -> bool:
    """A plain Python function from the user's code (not a library's), so worth compiling too."""
    value = unwrap(value)  # type: ignore[arg-type]
    if not isinstance(value, types.FunctionType):
        return False
    try:
        filename = str(Path(inspect.getfile(value)).resolve())
    except (TypeError, OSError):
        return False
    return not filename.startswith(_LIBRARY_ROOTS) and value.__name__ != "<lambda>"


def _global_names(code: types.CodeType) -> set[str]:
    names: set[str] = set()
    for instruction in dis.get_instructions(code):
        if instruction.opname in _GLOBAL_OPS:
            names.add(instruction.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _definition(fn: types.FunctionType) -> ast.FunctionDef:
    try:
        raw = inspect.getsource(fn)
    except (OSError, TypeError) as exc:
        raise NotRewritable(
            f"the source of {fn.__qualname__} is not available ({exc}); functions typed into a REPL "
            "or created with exec() cannot be rewritten — put it in a file"
        ) from None
    try:
        module = parse_module(textwrap.dedent(raw))
    except SyntaxError as exc:
        raise NotRewritable(f"the source of {fn.__qualname__} does not parse on its own: {exc}") from None
    defs = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == fn.__name__]
    if not defs:
        raise NotRewritable(f"no `def {fn.__name__}` found in the source inspect returned")
    definition = defs[0]
    definition.decorator_list = []
    return definition


#: Modules whose functions read a clock, draw random numbers or do I/O (by ``__module__``).
_EFFECT_MODULES = {"time": "reads a clock", "random": "draws random numbers",
                   "numpy.random": "draws random numbers", "logging": "logs", "os": "does I/O",
                   "posix": "does I/O", "nt": "does I/O", "io": "does I/O", "_io": "does I/O",
                   "socket": "does I/O", "subprocess": "does I/O", "shutil": "does I/O",
                   "secrets": "draws random numbers", "uuid": "draws random numbers"}
_EFFECT_BUILTINS = {print: "prints", open: "does I/O", input: "does I/O", breakpoint: "does I/O"}
_CLOCK_METHODS = frozenset(("now", "today", "utcnow"))
#: Methods that change the object they are called on (lists, dicts, sets, arrays).
_MUTATORS = frozenset(("append", "extend", "insert", "pop", "remove", "clear", "update", "add", "discard",
                       "setdefault", "popitem", "sort", "reverse", "fill", "put", "resize", "itemset",
                       "setfield", "partition", "byteswap", "setflags", "write", "writelines"))
_STATEFUL = (random.Random, np.random.Generator, np.random.RandomState, np.random.BitGenerator,
             logging.Logger, logging.LoggerAdapter, io.IOBase)


def _effect_of(target: Any) -> str | None:
    """What calling ``target`` does besides returning, if it is a known effect."""
    try:
        known = _EFFECT_BUILTINS.get(target)
    except TypeError:  # unhashable
        known = None
    if known is not None:
        return known
    owner = getattr(target, "__self__", None)
    if isinstance(owner, _STATEFUL):
        return "logs" if isinstance(owner, (logging.Logger, logging.LoggerAdapter)) else (
            "does I/O" if isinstance(owner, io.IOBase) else "draws random numbers")
    module = getattr(target, "__module__", None)
    if not isinstance(module, str):
        module = getattr(owner, "__module__", None) if owner is not None else None
    if not isinstance(module, str):
        return None
    if module == "datetime" and getattr(target, "__name__", "") in _CLOCK_METHODS:
        return "reads a clock"
    for prefix, effect in _EFFECT_MODULES.items():
        if module == prefix or module.startswith(prefix + "."):
            return effect
    return None


def _chain(node: ast.expr) -> tuple[str, list[str]] | None:
    """``("P", ["WEIGHTS"])`` for ``P.WEIGHTS`` (and for ``P.WEIGHTS[i]``, the object indexed)."""
    path: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            path.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            path.clear()  # what is indexed is written; the chain is what holds it
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id, path[::-1]
        else:
            return None


def _resolve(namespace: dict[str, Any], root: str, path: list[str]) -> Any:
    value = namespace.get(root, getattr(builtins, root, None))
    for attr in path:
        try:
            value = getattr(value, attr)
        except Exception:
            return None
    return value


def _side_effects(fn: types.FunctionType, definition: ast.FunctionDef, namespace: dict[str, Any],
                  global_names: set[str]) -> None:
    """Raise ``SideEffects`` naming the first effect beyond the result and the arguments.

    A compiled variant returns the same numbers but would not reproduce these: a counter in a
    global, the state of a random generator, a clock read, a line printed or logged.
    """
    def refuse(node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", 0) + fn.__code__.co_firstlineno - 1
        raise SideEffects(f"{fn.__qualname__} {what} (line {line}): a compiled variant would not reproduce "
                          "that side effect, so it keeps running as the original")

    def written_global(target: ast.expr) -> str | None:
        found = _chain(target) if isinstance(target, (ast.Attribute, ast.Subscript)) else None
        if found is None or found[0] not in global_names:
            return None
        root = namespace.get(found[0])
        if isinstance(root, types.ModuleType) and not found[1] and isinstance(target, ast.Subscript):
            return None
        return ".".join((found[0], *found[1])) if found[1] else found[0]

    for node in ast.walk(definition):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            refuse(node, f"assigns non-local state (`{type(node).__name__.lower()} {', '.join(node.names)}`)")
        targets: list[ast.expr] = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for item in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]):
                name = written_global(item)
                if name is not None:
                    refuse(node, f"writes into the global {name!r}")
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "out":
                name = written_global(ast.Subscript(keyword.value, ast.Constant(0))) \
                    if isinstance(keyword.value, ast.Name) else written_global(keyword.value)
                if name is not None:
                    refuse(node, f"writes into the global {name!r} (out=)")
        found = _chain(node.func)
        if found is None or (found[0] not in global_names and not hasattr(builtins, found[0])):
            continue
        root, path = found
        if path and path[-1] in _MUTATORS and root in global_names \
                and not isinstance(_resolve(namespace, root, path[:-1]), types.ModuleType):
            refuse(node, f"changes the global {'.'.join((root, *path[:-1]))!r} (.{path[-1]}())")
        effect = _effect_of(_resolve(namespace, root, path))
        if effect is not None:
            refuse(node, f"{effect}: it calls {'.'.join((root, *path))}()")


def _holds_state(value: Any) -> bool:
    """Whether ``value``'s attributes are state of the user's that may change between calls (a
    parameters module, a global object or class), as opposed to a library or a plain value."""
    if isinstance(value, types.ModuleType):
        filename = getattr(value, "__file__", None)
        return bool(filename) and not str(Path(filename).resolve()).startswith(_LIBRARY_ROOTS)  # type: ignore[arg-type]
    if isinstance(value, type):
        return _holds_state(inspect.getmodule(value))
    return not (_is_data(value) or callable(value) or isinstance(value, (list, dict, set, frozenset, bytearray)))


def _is_data(value: Any) -> bool:
    """A value a compiler can fold or bind as it is: numbers, strings, arrays, tuples of those."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic, np.ndarray)):
        return True
    return type(value) is tuple and all(map(_is_data, value))


def _inline_attributes(definition: ast.FunctionDef, namespace: dict[str, Any], roots: set[str],
                       names: set[str]) -> dict[str, GlobalRef]:
    """Replace each read of data through attributes of a global (``P.SCALE``), and of a global
    dict's item under a constant key (``PARAMS["dt"]``), with a name bound to the value it reads
    now; returns those names' references."""
    inlined: dict[str, GlobalRef] = {}

    class Inline(ast.NodeTransformer):
        def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
            if not isinstance(node.ctx, ast.Load):
                return self.generic_visit(node)
            path: list[str] = []
            base: ast.expr = node
            while isinstance(base, ast.Attribute):
                path.append(base.attr)
                base = base.value
            if not isinstance(base, ast.Name) or base.id not in roots:
                return self.generic_visit(node)
            path.reverse()
            value, used = namespace[base.id], 0
            while used < len(path) and _holds_state(value):
                try:
                    value = getattr(value, path[used])
                except Exception:
                    return self.generic_visit(node)
                used += 1
            if used == 0 or not _is_data(value):
                return self.generic_visit(node)
            name = "_hp_" + "__".join((base.id, *path[:used]))
            inlined[name] = GlobalRef(name, "value", value=value, attribute=".".join((base.id, *path[:used])))
            new: ast.expr = ast.copy_location(ast.Name(name, ast.Load()), node)
            for attr in path[used:]:
                new = ast.copy_location(ast.Attribute(new, attr, ast.Load()), node)
            return new

        def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
            base, key = node.value, node.slice
            if not (isinstance(node.ctx, ast.Load) and isinstance(base, ast.Name) and isinstance(key, ast.Constant)
                    and base.id in names and type(namespace.get(base.id)) is dict):
                return self.generic_visit(node)
            table = namespace[base.id]
            try:
                value = table[key.value]
            except (KeyError, TypeError):  # the original raises here: leave it to do so
                return self.generic_visit(node)
            if not _is_data(value):
                return self.generic_visit(node)
            label = str(key.value)
            if not label.isidentifier():
                label = "k" + hashlib.sha1(repr(key.value).encode()).hexdigest()[:8]
            name = f"_hp_{base.id}__{label}"
            inlined[name] = GlobalRef(name, "value", value=value, item_of=base.id)
            return ast.copy_location(ast.Name(name, ast.Load()), node)

    Inline().visit(definition)
    return inlined


def _foldable(value: Any) -> bool:
    """A module-level number a literal spells exactly: a finite Python ``int`` or ``float``
    (not a NumPy scalar, whose dtype a literal would lose; not a bool, which reads as a flag)."""
    if type(value) is int:
        return abs(value) < 2**63  # a larger one stays a Python int in the original's arithmetic
    return type(value) is float and np.isfinite(value)


def _fold_constants(definition: ast.FunctionDef, namespace: dict[str, Any], names: set[str]) -> None:
    """Replace each read of a global or closure number (``grav``, ``rho_0``, dozens of model
    coefficients) with its value as a literal, in place.

    A literal tells every later stage what a name cannot: that ``dt * drag`` is float arithmetic
    (so no int-growth analysis refuses it), and which constants a compiler may fold. The global
    stays among the references, so the variant's key changes and ``hotpath.frozen_globals``
    watches it as before. A name the function also binds (a local, a comprehension variable) is
    left alone: which scope a read resolves to is then not the AST's to say.
    """
    bound = {n.id for n in ast.walk(definition) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {a.arg for a in ast.walk(definition) if isinstance(a, ast.arg)}
    values = {name: namespace[name] for name in names - bound
              if name in namespace and _foldable(namespace[name])}
    if not values:
        return

    class Fold(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if not isinstance(node.ctx, ast.Load) or node.id not in values:
                return node
            value = values[node.id]
            literal: ast.expr = ast.Constant(abs(value))
            if value < 0 or (value == 0 and str(value).startswith("-")):  # -0.0 too
                # As a unary minus, which ``ast.unparse`` parenthesizes where it binds differently
                # (``c ** 2`` with c = -2.0 must stay (-2.0) ** 2).
                literal = ast.UnaryOp(ast.USub(), literal)
            return ast.copy_location(literal, node)

    Fold().visit(definition)
    ast.fix_missing_locations(definition)


def extract(fn: Callable[..., Any], _seen: dict[str, FunctionSource] | None = None) -> FunctionSource:
    """Everything a backend needs to emit ``fn``; raises ``NotRewritable`` with the reason."""
    fn = check_supported(unwrap(fn))
    seen = {} if _seen is None else _seen
    definition = _definition(fn)

    namespace: dict[str, Any] = dict(fn.__globals__)
    if fn.__code__.co_freevars:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                namespace[name] = cell.cell_contents
            except ValueError:
                raise NotRewritable(f"closure variable {name!r} is not bound yet") from None
    names = _global_names(fn.__code__) | set(fn.__code__.co_freevars)
    _side_effects(fn, definition, namespace, names & set(namespace))
    roots = {name for name in names if name in namespace and _holds_state(namespace[name])}
    inlined = _inline_attributes(definition, namespace, roots, names)
    _fold_constants(definition, namespace, names)
    source = ast.unparse(definition)

    refs: list[GlobalRef] = []
    helpers: list[FunctionSource] = []
    key = f"{fn.__module__}.{fn.__qualname__}"
    placeholder = FunctionSource(fn.__name__, fn.__qualname__, fn.__module__, (), source, (), (), "")
    seen[key] = placeholder  # recursion and mutual recursion stop here
    for name in sorted(names):
        if name not in namespace:
            if hasattr(builtins, name):
                continue
            raise NotRewritable(f"{fn.__qualname__} reads {name!r}, which is not defined yet")
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            refs.append(GlobalRef(name, "module", module_name=value.__name__))
        elif _is_user_function(value) and unwrap(value) is not fn:
            helper = unwrap(value)
            helper_key = f"{helper.__module__}.{helper.__qualname__}"
            try:
                extracted = seen.get(helper_key) or extract(helper, seen)
            except SideEffects as exc:
                raise SideEffects(f"{fn.__qualname__} calls {name}, which has a side effect: {exc.reason}") from None
            except NotRewritable:
                refs.append(GlobalRef(name, "value", value=value))  # the backend may still cope
                continue
            if extracted.name != name:
                refs.append(GlobalRef(name, "value", value=value))
                continue
            refs.append(GlobalRef(name, "helper", value=helper))
            if extracted is not placeholder:
                helpers.append(extracted)
        elif unwrap(value) is fn:
            continue  # a recursive call binds to the compiled function itself
        else:
            refs.append(GlobalRef(name, "value", value=value))

    refs.extend(inlined[name] for name in sorted(inlined))
    params = tuple(inspect.signature(fn).parameters)
    result = FunctionSource(
        name=fn.__name__,
        qualname=fn.__qualname__,
        module=fn.__module__,
        params=params,
        source=source,
        refs=tuple(refs),
        helpers=tuple(h for h in helpers if h.source),
        filename=inspect.getsourcefile(fn) or "<unknown>",
    )
    seen[key] = result
    return result


def injected_values(fs: FunctionSource) -> dict[str, Any]:
    """Name -> value for every ``value`` reference of ``fs`` and its helpers."""
    values: dict[str, Any] = {}
    for part in fs.walk():
        for ref in part.refs:
            if ref.kind == "value":
                values[ref.name] = ref.value
    return values


def module_imports(fs: FunctionSource) -> dict[str, str]:
    """Name -> module name for every module ``fs`` and its helpers read."""
    return {ref.name: ref.module_name for part in fs.walk() for ref in part.refs
            if ref.kind == "module" and ref.module_name}


def import_line(alias: str, module: str) -> str:
    """The ``import`` statement that binds ``alias`` to ``module``, as the original's globals did."""
    if alias == module:
        return f"import {module}"
    if "." in module and module.rsplit(".", 1)[1] == alias:
        return f"from {module.rsplit('.', 1)[0]} import {alias}"
    return f"import {module} as {alias}"


def import_lines(imports: dict[str, str]) -> list[str]:
    """``import`` statements for alias -> module, sorted by alias."""
    return [import_line(alias, module) for alias, module in sorted(imports.items())]


def conflicts(fs: FunctionSource) -> list[str]:
    """Names bound to different things in different helpers; one generated module can't hold both."""
    bound: dict[str, object] = {}
    clashes: list[str] = []
    for part in fs.walk():
        for ref in part.refs:
            token = ref.module_name if ref.kind == "module" else id(ref.value)
            if ref.name in bound and bound[ref.name] != token:
                clashes.append(ref.name)
            bound[ref.name] = token
    return clashes


__all__ = ["FunctionSource", "GlobalRef", "SideEffects", "extract", "injected_values", "module_imports", "import_line",
           "import_lines", "conflicts", "unwrap"]
