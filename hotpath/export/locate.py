"""Where a tuned function lives now, and whether it is still the function that was tuned.

The generated variant names the file its function came from on its first line. The module is
imported from there (a script's functions, ``__main__:name``, are loaded from the script under
another name, so its ``if __name__ == "__main__":`` block does not run) and the function is
keyed as the store keys it: its source, its helpers' sources and the values of the globals they
read. A different key means the function, a helper or a global changed since tuning; the
winner no longer describes that code and is not exported.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import sys
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotpath.errors import HotpathError
from hotpath.persist import identify
from hotpath.store import names
from hotpath.rewriter.source import FunctionSource, extract, unwrap
from hotpath.syntax import parse_statements

_HEADER = re.compile(r"^# hotpath candidate .* for .* \(from (?P<path>.+)\)$")


class Stale(HotpathError):
    """The function's file moved, or the function changed, since it was tuned (one line, why)."""


@dataclass(frozen=True)
class Located:
    """A tuned function as it is in its file now."""

    path: Path
    fs: FunctionSource
    key: str
    start: int  # first line of the definition, decorators included (1-based)
    end: int  # last line of the definition
    decorators: tuple[str, ...]
    namespace: dict[str, Any] = field(compare=False, repr=False)  # the module's globals


def recorded_file(variant: Path) -> Path | None:
    """The original's file as the generated variant at ``variant`` names it, if it does."""
    try:
        first = variant.read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    found = _HEADER.match(first)
    return Path(found["path"]) if found else None


def _module_at(module: str, path: Path) -> types.ModuleType:
    """``module``, imported from ``path`` (its file)."""
    if module == "__main__" or names.is_script(module):  # a script's own: its path names it
        name = f"__hotpath_export__.{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise Stale(f"{path} cannot be loaded as a module")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded  # dataclasses and pickling look a module up by name
        spec.loader.exec_module(loaded)
        return loaded
    parts = module.split(".")
    inner = path.with_suffix("").parts
    if inner[-1] == "__init__":
        inner = inner[:-1]
    if tuple(inner[-len(parts):]) != tuple(parts):
        raise Stale(f"{module} would not be imported from {path}: the file moved since tuning")
    root = str(Path(*inner[: len(inner) - len(parts)]))
    sys.path.insert(0, root)
    try:
        loaded = importlib.import_module(module)
    finally:
        sys.path.remove(root)
    found = getattr(loaded, "__file__", None)
    if found is None or Path(found).resolve() != path.resolve():
        raise Stale(f"{module} is imported from {found}, not from {path} where it was tuned")
    return loaded


def locate(module: str, qualname: str, keys: set[str], variant: Path) -> Located:
    """The function ``module:qualname`` now; raises ``Stale`` unless its file is where the
    variant says and its key is one of ``keys`` (those its winners were tuned under)."""
    name = f"{module}:{qualname}"
    path = recorded_file(variant)
    if path is None:
        raise Stale(f"{name}: its generated variant {variant} is missing or does not name the original's file")
    if not path.is_file():
        raise Stale(f"{name}: its file {path} no longer exists (moved or deleted since tuning)")
    try:
        loaded = _module_at(module, path)
    except Stale:
        raise
    except Exception as exc:
        raise Stale(f"{name}: importing {path} to check it failed ({type(exc).__name__}: {exc})") from None
    fn: Any = loaded
    for part in qualname.split("."):
        fn = getattr(fn, part, None)
    if not isinstance(unwrap(fn), types.FunctionType):
        raise Stale(f"{name}: {path} defines no function {qualname} any more")
    identity = identify(fn)
    if identity is None or identity.function_id.key not in keys:
        raise Stale(f"{name}: changed since tuning (its source, a helper's or a global it reads differs "
                    f"from what was verified); tune it again before exporting")
    original = unwrap(fn)
    lines, start = inspect.getsourcelines(original)
    tree = parse_statements(textwrap.dedent("".join(lines)))[0]
    decorators = tuple(ast.unparse(d) for d in getattr(tree, "decorator_list", ()))
    return Located(path.resolve(), extract(original), identity.function_id.key, start, start + len(lines) - 1,
                   decorators, vars(loaded))
