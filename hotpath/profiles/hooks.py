"""Running a script as ``__main__`` with some of its functions (and its modules') wrapped.

No source file is changed. For the script itself, its syntax tree gets one statement after
every module-level ``def`` (also inside module-level ``if``/``try``/``with``/``for`` blocks):
``name = __hotpath_wrap__(name)``, so a function is wrapped the moment it is defined, before
any later code can call it or take a reference to it. Line numbers are untouched (tracebacks,
``inspect.getsource`` and hotpath's own source extraction read the real file). For modules the
script imports, an import hook wraps the chosen functions right after the module has run.

``Wrapper`` decides per function: it receives the module name, the file and the function, and
returns the function itself or its replacement.
"""

from __future__ import annotations

import ast
import builtins
import importlib.abc
import importlib.machinery
import sys
import traceback
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

WRAP_NAME = "__hotpath_wrap__"

#: (module name, file, function) -> the function or its replacement.
Wrapper = Callable[[str, str, Any], Any]


class _AddWrapCalls(ast.NodeTransformer):
    """After each module-level ``def NAME``, insert ``NAME = __hotpath_wrap__(NAME)``."""

    def _block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for node in body:
            result.append(self.visit(node))
            if isinstance(node, ast.FunctionDef):
                call = ast.Assign(targets=[ast.Name(node.name, ast.Store())],
                                  value=ast.Call(ast.Name(WRAP_NAME, ast.Load()), [ast.Name(node.name, ast.Load())], []))
                end = node.end_lineno or node.lineno
                for part in ast.walk(call):
                    part.lineno, part.end_lineno, part.col_offset, part.end_col_offset = end, end, 0, 0  # type: ignore[attr-defined]
                result.append(call)
        return result

    def visit_Module(self, node: ast.Module) -> ast.Module:
        node.body = self._block(node.body)
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            return node  # not module level any more
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(node, field, self._block(block))
        for handler in getattr(node, "handlers", []) or []:
            handler.body = self._block(handler.body)
        return node


def compile_script(path: Path) -> types.CodeType:
    """The script's code with a wrap call after each module-level ``def``."""
    source = path.read_bytes()
    tree = ast.parse(source, filename=str(path))
    tree = _AddWrapCalls().visit(tree)
    return compile(tree, str(path), "exec", dont_inherit=True)


class _WrappingLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader, wrapper: Wrapper) -> None:
        self._inner = inner
        self._wrapper = wrapper

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._inner.exec_module(module)
        wrap_module(module, self._wrapper)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code, ... for inspect and linecache
        return getattr(self._inner, name)


class ImportHook(importlib.abc.MetaPathFinder):
    """Wraps functions of modules whose file ``wanted(name, file)`` accepts, as they load."""

    def __init__(self, wanted: Callable[[str, str], bool], wrapper: Wrapper) -> None:
        self._wanted = wanted
        self._wrapper = wrapper

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or spec.loader is None or not spec.origin.endswith(".py"):
            return None
        if not self._wanted(fullname, str(Path(spec.origin).resolve())):
            return None
        spec.loader = _WrappingLoader(spec.loader, self._wrapper)
        return spec


def wrap_module(module: types.ModuleType, wrapper: Wrapper) -> None:
    """Replace the module's own top-level functions with what ``wrapper`` makes of them."""
    filename = str(Path(getattr(module, "__file__", "") or "").resolve())
    for name, value in list(vars(module).items()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            replacement = wrapper(module.__name__, filename, value)
            if replacement is not value:
                setattr(module, name, replacement)


def run_script(path: str, argv: Sequence[str], wrapper: Wrapper,
               wanted_module: Callable[[str, str], bool] | None = None) -> int:
    """Run ``path`` as ``__main__`` with ``argv``; returns its exit status (``SystemExit`` honoured).

    An exception from the script is printed the way Python prints it (the frames of this
    runner left out) and gives status 1; ``KeyboardInterrupt`` propagates.
    """
    script = Path(path).resolve()
    code = compile_script(script)
    filename = str(script)

    def wrap(fn: Any) -> Any:
        if isinstance(fn, types.FunctionType) and fn.__module__ == "__main__":
            return wrapper("__main__", filename, fn)
        return fn

    main = types.ModuleType("__main__")
    main.__dict__.update({"__file__": str(path), "__builtins__": builtins, "__spec__": None,
                          "__loader__": None, "__package__": None, "__cached__": None, WRAP_NAME: wrap})
    sys.argv[:] = [str(path), *argv]
    if sys.path:
        sys.path[0] = str(script.parent)  # as `python script.py` sets it
    else:
        sys.path.append(str(script.parent))
    sys.modules["__main__"] = main
    hook = ImportHook(wanted_module, wrapper) if wanted_module is not None else None
    if hook is not None:
        sys.meta_path.insert(0, hook)
    try:
        exec(code, main.__dict__)
    except SystemExit as exc:
        return _exit_status(exc.code)
    except Exception as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != filename:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb)
        return 1
    finally:
        if hook is not None and hook in sys.meta_path:
            sys.meta_path.remove(hook)
    return 0


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # what Python itself does with sys.exit("message")
    return 1
