"""Can hotpath rewrite a function it only knows by file, name and line? And if not, why not?

The profile names functions in files the ``hotpath`` process has not imported (and must not:
importing a script runs it). So the check compiles just that one ``def`` (inside stubs of its
enclosing classes, decorators dropped, line numbers kept) with permissive stand-ins for every
global it reads, and asks the rewriter's own ``extract`` — the reasons are the ones tuning would
give (generators, methods, keyword-only or variadic parameters, ``global`` statements ...).
What only a real run can tell (a global that is never defined, unpicklable arguments) is
found out when the function is captured and tuned.
"""

from __future__ import annotations

import ast
import sysconfig
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotpath.errors import NotRewritable
from hotpath.rewriter.source import extract


@dataclass(frozen=True)
class Verdict:
    rewritable: bool
    reason: str | None = None


class _StandIn:
    """Whatever a global turns out to be: attribute access and calls give another stand-in."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self

    def __getitem__(self, key: Any) -> Any:
        return self


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(str(Path(p).resolve()) for p in {paths.get("stdlib"), paths.get("purelib"), paths.get("platlib")} if p)


def _find(tree: ast.Module, qualname: str, line: int) -> list[ast.AST] | None:
    """The chain of nodes (classes ..., the def) for ``qualname`` defined at ``line``."""
    parts = qualname.split(".")

    def search(body: list[ast.stmt], remaining: list[str], chain: list[ast.AST]) -> list[ast.AST] | None:
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and remaining == [node.name]:
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if line in (node.lineno, first) or line <= 0:
                    return [*chain, node]
            if isinstance(node, ast.ClassDef) and len(remaining) > 1 and node.name == remaining[0]:
                found = search(node.body, remaining[1:], [*chain, node])
                if found:
                    return found
        return None

    return search(tree.body, parts, [])


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def check(file: str, qualname: str, line: int) -> Verdict:
    """Whether ``qualname`` (defined at ``line`` of ``file``) can be rewritten, with the reason if not."""
    path = Path(file)
    if str(path.resolve()).startswith(_library_roots()):
        return Verdict(False, "library code (the standard library or an installed package), not the program's own")
    if "<locals>" in qualname:
        return Verdict(False, "defined inside another function: only module-level functions are wrapped")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError) as exc:
        return Verdict(False, f"its source cannot be read ({exc})")
    chain = _find(tree, qualname, line)
    if chain is None:
        return Verdict(False, f"no `def {qualname.split('.')[-1]}` at line {line} of {path.name} (edited since?)")
    definition = chain[-1]
    if isinstance(definition, ast.AsyncFunctionDef):
        return Verdict(False, f"{qualname} is a coroutine; only plain functions are rewritten")
    stub: ast.stmt = ast.FunctionDef(**{f: getattr(definition, f) for f in definition._fields}) \
        if isinstance(definition, ast.FunctionDef) else definition  # type: ignore[assignment]
    stub.decorator_list = []  # type: ignore[attr-defined]
    ast.copy_location(stub, definition)
    for outer in reversed(chain[:-1]):
        assert isinstance(outer, ast.ClassDef)
        stub = ast.copy_location(ast.ClassDef(name=outer.name, bases=[], keywords=[], body=[stub],
                                              decorator_list=[]), outer)
    module = ast.fix_missing_locations(ast.Module(body=[stub], type_ignores=[]))
    try:
        code = compile(module, str(path), "exec")
        namespace: dict[str, Any] = {name: _StandIn() for name in _names(code)}
        namespace["__name__"] = "__hotpath_check__"
        exec(code, namespace)
        fn: Any = namespace[chain[0].name]  # type: ignore[attr-defined]
        for outer in chain[1:]:
            fn = getattr(fn, outer.name)  # type: ignore[attr-defined]
        if isinstance(fn, types.FunctionType):
            fn.__module__ = "__hotpath_check__"
        extract(fn)
    except NotRewritable as exc:
        return Verdict(False, exc.reason)
    except Exception as exc:  # the stub itself could not be built: say so, do not guess
        return Verdict(False, f"could not be checked ({type(exc).__name__}: {exc})")
    return Verdict(True)
