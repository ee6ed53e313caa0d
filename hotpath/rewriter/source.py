"""Recover a function's source and everything it refers to, or say why that is impossible.

The result, ``FunctionSource``, is what every backend emits from: the function's definition
with decorators stripped, the globals and closure values it reads (modules by import, other
values injected by value), and the plain-Python helpers it calls, extracted the same way so
they can be compiled together with it.
"""

from __future__ import annotations

import ast
import builtins
import dis
import hashlib
import inspect
import sysconfig
import textwrap
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotpath.errors import NotRewritable

_GLOBAL_OPS = {"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL"}


@dataclass(frozen=True)
class GlobalRef:
    """A global or closure name the function reads, and how the generated module provides it."""

    name: str
    kind: str  # "module" (emitted as an import), "helper" (compiled alongside), "value" (injected)
    module_name: str | None = None
    value: Any = field(default=None, compare=False, repr=False)


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
        node = ast.parse(self.source).body[0]
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


def _check_supported(fn: Callable[..., Any]) -> types.FunctionType:
    if inspect.ismethod(fn):
        raise NotRewritable(
            f"{fn.__qualname__} is a bound method; decorate a module-level function and pass the "
            "object's arrays to it as arguments"
        )
    if not isinstance(fn, types.FunctionType):
        kind = type(fn).__name__
        raise NotRewritable(
            f"{getattr(fn, '__name__', fn)!r} is a {kind}, not a Python function: hotpath rewrites "
            "functions written in Python (builtins and C functions have no source to rewrite)"
        )
    code = fn.__code__
    if fn.__name__ == "<lambda>":
        raise NotRewritable("lambdas are not rewritten: give the function a name with `def`")
    if code.co_flags & (inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR):
        raise NotRewritable(f"{fn.__qualname__} is a generator; only functions that return are rewritten")
    if code.co_flags & inspect.CO_COROUTINE:
        raise NotRewritable(f"{fn.__qualname__} is a coroutine; only plain functions are rewritten")
    parts = fn.__qualname__.split(".")
    if len(parts) > 1 and parts[-2] != "<locals>":
        raise NotRewritable(
            f"{fn.__qualname__} is defined in a class (a method); decorate a module-level function "
            "and pass the object's arrays to it as arguments"
        )
    for param in inspect.signature(fn).parameters.values():
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            raise NotRewritable(f"keyword-only parameter {param.name!r} is not supported; make it positional")
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            raise NotRewritable(f"*{param.name} is not supported; pass a tuple instead")
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            raise NotRewritable(f"**{param.name} is not supported; pass the values as positional arguments")
    return fn


def _definition(fn: types.FunctionType) -> ast.FunctionDef:
    try:
        raw = inspect.getsource(fn)
    except (OSError, TypeError) as exc:
        raise NotRewritable(
            f"the source of {fn.__qualname__} is not available ({exc}); functions typed into a REPL "
            "or created with exec() cannot be rewritten — put it in a file"
        ) from None
    try:
        module = ast.parse(textwrap.dedent(raw))
    except SyntaxError as exc:
        raise NotRewritable(f"the source of {fn.__qualname__} does not parse on its own: {exc}") from None
    defs = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == fn.__name__]
    if not defs:
        raise NotRewritable(f"no `def {fn.__name__}` found in the source inspect returned")
    definition = defs[0]
    for node in ast.walk(definition):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            raise NotRewritable(
                f"{fn.__qualname__} assigns non-local state (`{type(node).__name__.lower()}`): a "
                "compiled variant could not reproduce that side effect"
            )
    definition.decorator_list = []
    return definition


def extract(fn: Callable[..., Any], _seen: dict[str, FunctionSource] | None = None) -> FunctionSource:
    """Everything a backend needs to emit ``fn``; raises ``NotRewritable`` with the reason."""
    fn = _check_supported(unwrap(fn))
    seen = {} if _seen is None else _seen
    definition = _definition(fn)
    source = ast.unparse(definition)

    namespace: dict[str, Any] = dict(fn.__globals__)
    if fn.__code__.co_freevars:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                namespace[name] = cell.cell_contents
            except ValueError:
                raise NotRewritable(f"closure variable {name!r} is not bound yet") from None
    names = _global_names(fn.__code__) | set(fn.__code__.co_freevars)

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


__all__ = ["FunctionSource", "GlobalRef", "extract", "injected_values", "module_imports", "import_line",
           "import_lines", "conflicts", "unwrap"]
