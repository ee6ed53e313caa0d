"""The package's import structure: one-way, stage by stage, no private names across modules.

Imports are read with ``ast`` from every module of ``hotpath``: lazy ones (inside functions)
count, those under ``if TYPE_CHECKING:`` do not (annotations only, never executed). The stages
below are the allowed directions; docs/architecture.md mirrors them. A module may import from
its own stage or an earlier one, never a later one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hotpath"

#: The pipeline stages, earliest first, each with the modules (or packages: every module under
#: them) that make it up. The longest matching prefix decides a module's stage.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("hotpath.errors", "hotpath.reasons", "hotpath.version", "hotpath.statedir", "hotpath.vocabulary",
                    "hotpath.signature", "hotpath.kernels.base", "hotpath.projectfile", "hotpath.config", "hotpath.integrity",
                    "hotpath.fastpath", "hotpath.syntax")),
    ("analysis", ("hotpath.rewriter.supported", "hotpath.rewriter.source", "hotpath.rewriter.inline", "hotpath.rewriter.parallel", "hotpath.rewriter.reduction_order",
                  "hotpath.rewriter.devectorize", "hotpath.frozen_globals")),
    ("backends", ("hotpath.kernels",)),
    ("proposing", ("hotpath.rewriter",)),
    ("runner", ("hotpath.runner",)),
    ("cost model", ("hotpath.model",)),
    ("store", ("hotpath.store", "hotpath.persist")),
    ("tuning", ("hotpath.tuning",)),
    ("install and watch", ("hotpath.watch", "hotpath.watch_report", "hotpath.dispatch")),
    ("public API", ("hotpath",)),
    ("tools", ("hotpath.cli_helpers", "hotpath.cli", "hotpath.demo", "hotpath.examples", "hotpath.report", "hotpath.export",
               "hotpath.profiles", "hotpath.gate", "hotpath.model.cli", "hotpath.model.explain",
               "hotpath.model.train", "hotpath.store.cli")),
)

#: Compiled extension modules and the one Python module that owns each (its private twin).
EXTENSIONS = {"hotpath._fastpath": "hotpath.fastpath"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module
    name: str | None  # the name taken from it (``from target import name``), None for a module
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _walk(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node outside ``if TYPE_CHECKING:`` blocks (their ``else`` branches included)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imports_of(name: str) -> list[Import]:
    is_package = MODULES[name].name == "__init__.py"
    found = []
    for node in _walk(TREES[name]):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([module] if module else []))
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                if sub in MODULES or sub in EXTENSIONS:
                    found.append(Import(name, sub, None, node.lineno))
                else:
                    found.append(Import(name, module, alias.name, node.lineno))
    return [i for i in found if i.target.split(".")[0] == "hotpath"]


IMPORTS = {name: imports_of(name) for name in MODULES}


def stage_of(module: str) -> int:
    best, stage = -1, -1
    for index, (_, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, stage = len(prefix), index
    return stage


def cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    graph = {m: {i.target for i in IMPORTS[m] if i.target in MODULES and i.target != m} for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return groups


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_aliases(name: str) -> dict[str, str]:
    """Local names bound to hotpath modules in ``name`` (``import a.b as c``, ``from a import b``)."""
    aliases = {}
    for node in _walk(TREES[name]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES and alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            for i, alias in enumerate(node.names):
                target = [x for x in IMPORTS[name] if x.line == node.lineno]
                full = f"{node.module}.{alias.name}" if node.module else alias.name
                if full in MODULES or any(x.target.endswith("." + alias.name) and x.target in MODULES for x in target):
                    aliases[alias.asname or alias.name] = full
    return aliases


def _defined_privately(name: str) -> set[str]:
    """Private names a module defines: its functions, classes, methods, assignments, attributes."""
    defined = set()
    for node in ast.walk(TREES[name]):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    return {d for d in defined if _private(d)}


DEFINED = {name: _defined_privately(name) for name in MODULES}


def private_uses() -> list[str]:
    """Private names one module takes from another: imported, read off an imported module, or
    called on another module's objects (a private method defined elsewhere and not here)."""
    found = []
    for name in MODULES:
        for imp in IMPORTS[name]:
            if imp.name is not None and _private(imp.name) and imp.target != name:
                found.append(f"{name}:{imp.line} imports {imp.target}.{imp.name}")
            if imp.name is None and _private(imp.target.rsplit(".", 1)[-1]) and EXTENSIONS.get(imp.target) != name:
                found.append(f"{name}:{imp.line} imports the private module {imp.target}")
        aliases = _module_aliases(name)
        elsewhere = set().union(*(DEFINED[m] for m in MODULES if m != name)) - DEFINED[name]
        for node in ast.walk(TREES[name]):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in aliases:
                    found.append(f"{name}:{node.lineno} reads {aliases[owner.id]}.{node.attr}")
                elif node.attr in elsewhere and not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                    found.append(f"{name}:{node.lineno} uses {ast.unparse(node)}, private to another module")
    return found


def test_every_module_has_a_stage():
    assert [m for m in MODULES if stage_of(m) < 0] == []


def test_no_import_cycles():
    assert cycles() == []


def test_no_private_name_crosses_a_module_boundary():
    assert private_uses() == []


def test_no_module_imports_from_a_later_stage():
    later = [f"{i.source}:{i.line} ({STAGES[stage_of(i.source)][0]}) imports {i.target} "
             f"({STAGES[stage_of(i.target)][0]})"
             for imports in IMPORTS.values() for i in imports
             if i.target in MODULES and stage_of(i.target) > stage_of(i.source)]
    assert later == []


@pytest.mark.parametrize("module", ["hotpath.errors", "hotpath.version", "hotpath.statedir"])
def test_leaves_import_nothing_from_hotpath(module):
    assert [i.target for i in IMPORTS[module]] == []


def test_every_parse_goes_through_the_locked_helper():
    """CPython 3.11's ``ast.parse`` is not thread-safe (gh-106905); ``hotpath.syntax`` serializes it."""
    direct = [f"{name}:{node.lineno}" for name, tree in TREES.items() if name != "hotpath.syntax"
              for node in _walk(tree)
              if isinstance(node, ast.Call) and ast.unparse(node.func) == "ast.parse"]
    assert direct == []
