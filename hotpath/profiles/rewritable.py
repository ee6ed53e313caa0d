"""Can hotpath rewrite a function it only knows by file, name and line? And if not, why not?

The profile names functions in files the ``hotpath`` process has not imported (and must not:
importing a script runs it). So the check compiles just that one ``def`` (inside stubs of its
enclosing classes, decorators dropped, line numbers kept) with permissive stand-ins for every
global it reads, and asks the rewriter's own ``extract`` — the reasons are the ones tuning would
give (generators, methods, keyword-only or variadic parameters, ``global`` statements ...).
What only a real run can tell (a global that is never defined, unpicklable arguments) is
found out when the function is captured and tuned.

The stand-ins hide what a global is, so the effects the rewriter refuses with the real module in
hand (printing, logging, a clock) would pass here. The function's text is read for them instead,
together with the script's imports: a function that parses arguments (``argparse``, ``sys.argv``),
prints, reads or writes files, logs or calls into ``sys`` is the program's glue — a script's
``main()``, whose time in a profile is its callees' — and is marked not rewritable, naming the call.
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
from hotpath.syntax import parse_module


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


#: What a call into these modules (by the module the script imported them from) does: a function
#: that does it is the program's driver or glue, not a numeric kernel. Clocks, random draws and
#: logging are refused by the rewriter as well, with the real module in hand; this check reads
#: only the script's text, so it goes by its imports.
_GLUE_MODULES = {"argparse": "parses command-line arguments", "getopt": "parses command-line arguments",
                 "optparse": "parses command-line arguments", "click": "parses command-line arguments",
                 "typer": "parses command-line arguments", "sys": "works on the interpreter (sys)",
                 "logging": "logs", "os": "does I/O", "io": "does I/O",
                 "pathlib": "does I/O", "shutil": "does I/O", "subprocess": "does I/O", "socket": "does I/O",
                 "json": "reads or writes data", "csv": "reads or writes data", "pickle": "reads or writes data",
                 "time": "reads a clock", "random": "draws random numbers", "numpy.random": "draws random numbers"}
_GLUE_BUILTINS = {"print": "prints", "open": "does I/O", "input": "reads standard input", "breakpoint": "stops in a debugger"}
_NUMPY_IO = frozenset(("save", "savez", "savez_compressed", "savetxt", "load", "loadtxt", "genfromtxt", "fromfile"))
_GLUE_METHODS = {"parse_args": "parses command-line arguments", "parse_known_args": "parses command-line arguments",
                 "tofile": "does I/O"}


def _imports(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """The script's module-level names that stand for a module or what one made (bound name ->
    dotted origin: ``np`` -> ``numpy``, ``log = logging.getLogger()`` -> ``logging.getLogger``),
    and the other names it binds at module level (which may shadow a builtin)."""
    imported: dict[str, str] = {}
    bound: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            return  # what a function binds is its own
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                imported[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, ast.Call) and (made := _dotted(node.value.func)) is not None \
                and made[0] in imported:
            imported[node.targets[0].id] = ".".join((imported[made[0]], *made[1]))
            return
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for statement in tree.body:
        visit(statement)
    return imported, bound


def _dotted(node: ast.expr) -> tuple[str, list[str]] | None:
    """``("np", ["random", "rand"])`` for ``np.random.rand``; ``None`` for anything not a name chain."""
    path: list[str] = []
    while isinstance(node, ast.Attribute):
        path.append(node.attr)
        node = node.value
    return (node.id, path[::-1]) if isinstance(node, ast.Name) else None


def _glue(tree: ast.Module, definition: ast.FunctionDef, qualname: str) -> str | None:
    """Why ``definition`` is the program's glue (argument parsing, I/O, logging, the interpreter)
    rather than a numeric kernel, from its text and the script's imports; ``None`` when it is not.

    Such a function is where a profile puts a script's ``main()`` (its time is its callees'), and
    compiling it would remove nothing while the effects it exists for could not be reproduced."""
    imported, bound = _imports(tree)
    arguments = definition.args
    local = {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                             *(x for x in (arguments.vararg, arguments.kwarg) if x is not None))}
    local |= {n.id for n in ast.walk(definition) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}

    def said(what: str, name: str, node: ast.AST) -> str:
        return (f"{qualname} {what} ({name} at line {getattr(node, 'lineno', definition.lineno)}): "
                "program glue, not a numeric kernel")

    for node in ast.walk(definition):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr in ("argv", "stdin") \
                and node.value.id not in local and imported.get(node.value.id) == "sys":
            return said("reads the command line" if node.attr == "argv" else "reads standard input",
                        f"sys.{node.attr}", node)
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in _GLUE_METHODS:
            return said(_GLUE_METHODS[node.func.attr], f".{node.func.attr}()", node)
        found = _dotted(node.func)
        if found is None or found[0] in local:
            continue
        root, path = found
        name = ".".join((root, *path))
        if not path and root in _GLUE_BUILTINS and root not in bound and root not in imported:
            return said(_GLUE_BUILTINS[root], f"{root}()", node)
        origin = imported.get(root)
        if origin is None:
            continue
        full = ".".join((origin, *path))
        if full.startswith("numpy.") and full.split(".")[-1] in _NUMPY_IO and full.count(".") == 1:
            return said("reads or writes files", f"{name}()", node)
        for module, what in _GLUE_MODULES.items():
            if full == module or full.startswith(module + "."):
                return said(what, f"{name}()", node)
    return None


def check(file: str, qualname: str, line: int) -> Verdict:
    """Whether ``qualname`` (defined at ``line`` of ``file``) can be rewritten, with the reason if not."""
    path = Path(file)
    if str(path.resolve()).startswith(_library_roots()):
        return Verdict(False, "library code (the standard library or an installed package), not the program's own")
    if "<locals>" in qualname:
        return Verdict(False, "defined inside another function: only module-level functions are wrapped")
    try:
        tree = parse_module(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError) as exc:
        return Verdict(False, f"its source cannot be read ({exc})")
    chain = _find(tree, qualname, line)
    if chain is None:
        return Verdict(False, f"no `def {qualname.split('.')[-1]}` at line {line} of {path.name} (edited since?)")
    definition = chain[-1]
    if isinstance(definition, ast.AsyncFunctionDef):
        return Verdict(False, f"{qualname} is a coroutine; only plain functions are rewritten")
    glue = _glue(tree, definition, qualname) if isinstance(definition, ast.FunctionDef) else None
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
        return Verdict(False, exc.reason)  # what tuning would say comes first
    except Exception as exc:  # the stub itself could not be built: say so, do not guess
        return Verdict(False, glue or f"could not be checked ({type(exc).__name__}: {exc})")
    return Verdict(glue is None, glue)
