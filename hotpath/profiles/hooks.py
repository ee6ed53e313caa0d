"""Running a script (or a module, as ``python -m`` does) as ``__main__`` with some of its
functions (and its modules') wrapped.

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
import contextlib
import importlib.machinery
import os
import sys
import traceback
import types
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from hotpath.syntax import parse_module

if TYPE_CHECKING:  # not at run time: importlib.abc brings importlib.resources, tempfile, shutil ... into
    import importlib.abc  # every plain `hotpath run`; the import system takes any loader or finder object

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


def compile_script(path: str | os.PathLike[str]) -> types.CodeType:
    """The script's code with a wrap call after each module-level ``def``."""
    with open(path, "rb") as file:
        source = file.read()
    tree = parse_module(source, filename=str(path))
    tree = _AddWrapCalls().visit(tree)
    return compile(tree, str(path), "exec", dont_inherit=True)


class _WrappingLoader:
    """``inner`` with ``wrapper`` applied to the module it has run (an ``importlib.abc.Loader``)."""

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


class ImportHook:
    """Wraps functions of modules whose file ``wanted(name, file)`` accepts, as they load (a
    ``sys.meta_path`` finder)."""

    def __init__(self, wanted: Callable[[str, str], bool], wrapper: Wrapper) -> None:
        self._wanted = wanted
        self._wrapper = wrapper

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or spec.loader is None or not spec.origin.endswith(".py"):
            return None
        if not self._wanted(fullname, os.path.realpath(spec.origin)):
            return None
        spec.loader = cast("importlib.abc.Loader", _WrappingLoader(spec.loader, self._wrapper))
        return spec


def wrap_module(module: types.ModuleType, wrapper: Wrapper) -> None:
    """Replace the module's own top-level functions with what ``wrapper`` makes of them."""
    filename = os.path.realpath(getattr(module, "__file__", "") or "")
    for name, value in list(vars(module).items()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            replacement = wrapper(module.__name__, filename, value)
            if replacement is not value:
                setattr(module, name, replacement)


def run_script(path: str, argv: Sequence[str], wrapper: Wrapper | None,
               wanted_module: Callable[[str, str], bool] | None = None) -> int:
    """Run ``path`` as ``__main__`` with ``argv``, as ``python path argv`` would; returns its exit
    status (``SystemExit`` honoured). ``wrapper`` ``None``: nothing is wrapped.

    A syntax error or an exception from the script is printed the way Python prints it (the
    frames of this runner left out) and gives status 1; ``KeyboardInterrupt`` propagates.
    """
    script = os.path.realpath(path)  # os.path, not pathlib: `hotpath run` runs a plain script through here
    if sys.path:
        sys.path[0] = os.path.dirname(script)  # as `python script.py` sets it
    else:
        sys.path.append(os.path.dirname(script))
    with _hooked(wrapper, wanted_module):
        # __file__ absolute, sys.argv[0] as given: as Python (3.9+) sets them
        return _run_main(script, os.path.abspath(path), None, [str(path), *argv], wrapper)


def run_program(target: str, argv: Sequence[str], module: bool = False, wrapper: Wrapper | None = None,
                wanted_module: Callable[[str, str], bool] | None = None) -> int:
    """``run_module(target, ...)`` or ``run_script(target, ...)``, and Ctrl-C as every program command
    reports it: one line, ``KeyboardInterrupt``, and status 130, as a shell reports a program the
    signal ended, without the frames of whatever ran it."""
    try:
        if module:
            return run_module(target, argv, wrapper, wanted_module)
        return run_script(target, argv, wrapper, wanted_module)
    except KeyboardInterrupt:
        sys.stdout.flush()
        print("KeyboardInterrupt", file=sys.stderr)
        return 130


def run_module(name: str, argv: Sequence[str], wrapper: Wrapper | None,
               wanted_module: Callable[[str, str], bool] | None = None) -> int:
    """Run module ``name`` as ``__main__`` with ``argv``, as ``python -m name argv`` would (the
    current folder first on ``sys.path``, ``sys.argv[0]`` the module's file, ``__spec__`` and
    ``__package__`` set so relative imports work); the rest as ``run_script``."""
    import importlib.util

    cwd = os.getcwd()
    if sys.path:
        sys.path[0] = cwd
    else:
        sys.path.append(cwd)
    with _hooked(wrapper, wanted_module):
        try:
            spec = importlib.util.find_spec(name)  # imports the parent packages, as python -m does
            if spec is not None and spec.submodule_search_locations is not None:
                spec = importlib.util.find_spec(name + ".__main__")
        except (ImportError, ValueError) as exc:
            print(f"{sys.executable}: Error while finding module specification for {name!r} "
                  f"({type(exc).__name__}: {exc})", file=sys.stderr)
            return 1
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            print(f"{sys.executable}: No module named {name}", file=sys.stderr)
            return 1
        return _run_main(os.path.realpath(spec.origin), spec.origin, spec, [spec.origin, *argv], wrapper)


@contextlib.contextmanager
def _hooked(wrapper: Wrapper | None, wanted_module: Callable[[str, str], bool] | None) -> Iterator[None]:
    """The import hook in place while the program runs (none without a wrapper or a choice of modules)."""
    hook = ImportHook(wanted_module, wrapper) if wanted_module is not None and wrapper is not None else None
    if hook is not None:
        sys.meta_path.insert(0, hook)
    try:
        yield
    finally:
        if hook is not None and hook in sys.meta_path:
            sys.meta_path.remove(hook)


def _run_main(script: str, file: str, spec: importlib.machinery.ModuleSpec | None, argv: list[str],
              wrapper: Wrapper | None) -> int:
    filename = script
    try:
        if wrapper is not None:
            code = compile_script(script)
        else:
            with open(script, "rb") as source:
                code = compile(source.read(), filename, "exec", dont_inherit=True)
    except SyntaxError as exc:  # as python shows it: the error alone, no frames
        traceback.print_exception(type(exc), exc, None)
        return 1

    def wrap(fn: Any) -> Any:
        if wrapper is not None and isinstance(fn, types.FunctionType) and fn.__module__ == "__main__":
            return wrapper("__main__", filename, fn)
        return fn

    main = types.ModuleType("__main__")
    main.__dict__.update({"__file__": file, "__builtins__": builtins, "__spec__": spec,
                          "__loader__": spec.loader if spec is not None else None,
                          "__package__": spec.parent if spec is not None else None, "__cached__": None,
                          WRAP_NAME: wrap})
    sys.argv[:] = argv
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    except SystemExit as exc:
        return _exit_status(exc.code)
    except Exception as exc:
        print_program_error(exc, filename)
        return 1
    return 0


def print_program_error(exc: BaseException, main_file: str) -> None:
    """Print ``exc`` as Python prints an uncaught exception, from the program's main file on: the
    frames of whatever ran the program (this runner, Scalene) left out."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != main_file:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb if tb is not None else exc.__traceback__)


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # what Python itself does with sys.exit("message")
    return 1
