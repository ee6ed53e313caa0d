"""A unified diff that writes a state folder's winners into the files their functions live in.

Per file: each exported function's definition is replaced by its block (``hotpath.export.emit``);
the imports the blocks need and the guard checks they call (copied from
``hotpath.export.runtime``) go below the module's last import before the first replaced function;
the hotpath modules a fused variant calls (NumPy's pairwise summation order, huge-page
allocation, vectorizable exp and log) are copied beside the module as new files. Paths in the diff are relative to a root
(``a/`` and ``b/`` prefixes), so ``git apply`` or ``patch -p1`` applies it from there.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import inspect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hotpath.errors import HotpathError
from hotpath.export import runtime
from hotpath.export.emit import Block, NotExported, block
from hotpath.export.locate import Located, Stale, locate
from hotpath.export.winners import Winner
from hotpath.store import names
from hotpath.syntax import names_in, parse_module


class UnknownFunction(HotpathError):
    """A function named on the command line has no live winner in the store."""


@dataclass(frozen=True)
class Skipped:
    """A function left out of the patch, and why (one line)."""

    function: str
    reason: str


@dataclass(frozen=True)
class Export:
    """The patch text, the functions it writes, and those it had to leave out."""

    diff: str
    exported: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    stale: tuple[str, ...]  # one line each: moved or changed since tuning


def select(winners: Sequence[Winner], names: Sequence[str]) -> list[Winner]:
    """The winners of ``names`` (``module:function`` or a bare function name); all when empty."""
    if not names:
        return list(winners)
    chosen = []
    for name in names:
        found = [w for w in winners if name in (w.function, w.qualname)]
        if not found:
            raise UnknownFunction(f"no live winner for {name!r}; `hotpath status` lists the installed functions")
        chosen += [w for w in found if w not in chosen]
    return chosen


def support_source(names: Sequence[str]) -> str:
    """The guard functions ``names`` and the constants they read, as ``runtime.py`` spells them
    less the type annotations (written for hotpath's type check, they name nothing the patched
    module imports)."""
    text = inspect.getsource(runtime)
    tree = parse_module(text)
    wanted = set(names)
    constants = [ast.get_source_segment(text, node) or "" for node in tree.body if isinstance(node, ast.Assign)]
    functions = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in wanted:
            for inner in ast.walk(node):
                if isinstance(inner, ast.FunctionDef):
                    inner.returns = None
                if isinstance(inner, ast.arg):
                    inner.annotation = None
            functions.append(ast.unparse(node))
    return "\n\n\n".join(["\n".join(constants), *functions]) if functions else ""


def _vendored_path(located: Located, module: str, hotpath_module: str) -> tuple[Path, str]:
    """Where the copy of ``hotpath_module`` goes beside ``located``'s file, and its import path."""
    leaf = f"_exported_{hotpath_module.rsplit('.', 1)[1]}"
    package = module if located.path.name == "__init__.py" else module.rpartition(".")[0]
    dotted = f"{package}.{leaf}" if package and module != "__main__" and not names.is_script(module) else leaf
    return located.path.parent / f"{leaf}.py", dotted


def _import_line(alias: str, dotted: str) -> str:
    parent, _, leaf = dotted.rpartition(".")
    return f"from {parent} import {leaf} as {alias}" if parent else f"import {dotted} as {alias}"


def _insert_at(text: str, first_function: int) -> int:
    """The line after which new imports and guard checks go: below the last top-level import (or
    the docstring) before the first replaced function."""
    tree = parse_module(text)
    after = 0
    for node in tree.body:
        if node.lineno >= first_function:
            break
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
                node is tree.body[0] and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            after = node.end_lineno or node.lineno
    return after


def _diff(old: str, new: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), before, after)
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _file_edit(path: Path, items: list[tuple[Located, Block]], imports: list[str], support: list[str]) -> str:
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    for located, item in sorted(items, key=lambda pair: -pair[0].start):
        lines[located.start - 1: located.end] = [item.text]
    after = _insert_at(text, min(located.start for located, _ in items))
    added = [line + "  # hotpath export\n" for line in dict.fromkeys(imports)]
    if support:
        added += ["\n\n# hotpath export: the checks hotpath makes before it calls a verified variant\n",
                  support_source(support) + "\n"]
    if added:
        lines[after:after] = added
    return _drop_unused_hotpath_imports("".join(lines))


def _drop_unused_hotpath_imports(text: str) -> str:
    """``text`` without its top-level imports of hotpath when nothing else in it uses them (the
    ``@hotpath.optimize`` decorators the patch removed were their only use)."""
    tree = parse_module(text)
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
               and any((alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0] == "hotpath"
                       for alias in node.names)]
    bound = {(alias.asname or alias.name).split(".")[0] for node in imports for alias in node.names}
    used = names_in(tree)
    if not imports or bound & used or any(len(node.names) > 1 for node in imports):
        return text
    lines = text.splitlines(keepends=True)
    for node in sorted(imports, key=lambda n: -n.lineno):
        del lines[node.lineno - 1: node.end_lineno or node.lineno]
    return "".join(lines)


def build(winners: Sequence[Winner], root: Path) -> Export:
    """The patch writing ``winners`` into their files under ``root``."""
    by_function: dict[tuple[str, str], list[Winner]] = defaultdict(list)
    for winner in winners:
        by_function[(winner.module, winner.qualname)].append(winner)
    skipped: list[Skipped] = []
    stale: list[str] = []
    per_file: dict[Path, list[tuple[Located, Block]]] = defaultdict(list)
    module_of: dict[Path, str] = {}
    for (module, qualname), found in by_function.items():
        name = f"{module}:{qualname}"
        try:
            located = locate(module, qualname, {w.key for w in found}, found[-1].source_path)
        except Stale as exc:
            stale.append(str(exc))
            continue
        if not located.path.is_relative_to(root):
            skipped.append(Skipped(name, f"{located.path} is outside {root}, where the patch applies"))
            continue
        current = sorted((w for w in found if w.key == located.key), key=lambda w: w.signature)
        lines = located.path.read_text().splitlines(keepends=True)[located.start - 1: located.end]
        try:
            per_file[located.path].append((located, block(located, current, lines)))
            module_of[located.path] = module
        except NotExported as exc:
            skipped.append(Skipped(name, str(exc)))
    diffs: list[str] = []
    exported: list[str] = []
    for path, items in per_file.items():
        imports = [line for _, item in items for line in item.imports]
        support = [name for _, item in items for name in item.support]
        namespace = items[0][0].namespace
        if support and getattr(namespace.get("np"), "__name__", None) != "numpy":
            imports.insert(0, "import numpy as np")
        for located, item in items:
            for alias, hotpath_module in item.vendored:
                target, dotted = _vendored_path(located, module_of[path], hotpath_module)
                imports.append(_import_line(alias, dotted))
                spec = importlib.util.find_spec(hotpath_module)
                assert spec is not None and spec.origin is not None
                copy = (f"# Copied from {hotpath_module} by `hotpath export`: the exported variants call it,\n"
                        f"# and the patched code must run without hotpath.\n") + Path(spec.origin).read_text()
                old = target.read_text() if target.exists() else None
                if old != copy:
                    relative = target.relative_to(root)
                    diffs.append(_diff(old or "", copy, f"a/{relative}" if old is not None else "/dev/null",
                                       f"b/{relative}"))
            exported.append(f"{module_of[path]}:{located.fs.qualname}")
        relative = path.relative_to(root)
        diffs.append(_diff(path.read_text(), _file_edit(path, items, imports, support), f"a/{relative}",
                           f"b/{relative}"))
    return Export("".join(dict.fromkeys(diffs)), tuple(exported), tuple(skipped), tuple(stale))
