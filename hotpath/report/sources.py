"""Where each function lives and what was generated from it, for the HTML report.

The store names a function ``module:qualname`` and keeps the path of each install's generated
source; the other variants' sources stay in the kernels folder under a name derived from the
function and the variant. The original's file is the script ``hotpath optimize`` recorded it
under, or the module's file found on ``sys.path`` (looked up, never imported). The original's
source is read from that file as it is now: the store keeps only its hash.
"""

from __future__ import annotations

import ast
import difflib
import importlib.machinery
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hotpath.profiles import programs
from hotpath.statedir import StateDir
from hotpath.store import Store, names
from hotpath.syntax import parse_statements

#: Characters the kernels folder's names keep (the rest become ``_``), as ``write_module`` names them.
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class Generated:
    """The generated source of one variant, and its diff against the original where that is known."""

    path: str
    text: str
    diff: str | None  # unified diff original -> variant; None: the original's source was not found


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_") or "fn"


def program_runs(state_dir: Path) -> list[programs.ProgramRun]:
    """Every program ``hotpath optimize`` recorded in this state folder."""
    found = []
    for path in sorted(StateDir(state_dir).profiles.glob("program-*.json")):
        try:
            found.append(programs.ProgramRun.from_json(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def module_file(module: str, search: Iterable[str] | None = None) -> str | None:
    """The file of ``module`` on ``search`` (``sys.path`` by default), without importing it."""
    parts = module.split(".")
    for root in (sys.path if search is None else search):
        base = Path(root or ".").joinpath(*parts)
        for candidate in (*(base.with_name(base.name + s) for s in importlib.machinery.SOURCE_SUFFIXES),
                          base / "__init__.py"):
            if candidate.is_file():
                return str(candidate.resolve())
    return None


def function_file(function: str, runs: Sequence[programs.ProgramRun]) -> str | None:
    """The script or module file ``function`` (``module:qualname``; a script's own function is
    named by the script's path) was defined in, or None."""
    module = names.split(function)[0]
    if names.is_script(module):
        return module
    for run in runs:
        if function in run.functions:
            if function.startswith("__main__:"):
                return run.script
            break
    return None if module == "__main__" else module_file(module)


def original_source(file: str | None, qualname: str) -> str | None:
    """The source of ``qualname`` (``Class.method`` too) as it is now in ``file``; None when not found."""
    if file is None:
        return None
    try:
        text = Path(file).read_text(encoding="utf-8")
        body: list[ast.stmt] = parse_statements(text)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    node: ast.stmt | None = None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return None
        body = node.body
    return None if node is None else ast.get_source_segment(text, node, padded=True)


def install_paths(store: Store) -> dict[tuple[str, str, float, str], str]:
    """(function, signature, created, variant) -> the generated source path each install recorded
    (a path inside the state folder may be stored relative to it)."""
    rows = store.db.read("SELECT f.module, f.qualname, i.signature, i.created, i.name, i.source_path"
                         " FROM installs i JOIN functions f ON f.id = i.function_id")
    return {(f"{r['module']}:{r['qualname']}", r["signature"], float(r["created"]), r["name"]):
            str(Path(store.state_dir) / r["source_path"]) for r in rows}


def kernel_file(state_dir: Path, function: str, variant: str, created: float) -> Path | None:
    """A variant's generated file in the kernels folder: the newest written by ``created`` (a file
    is rewritten only when its content changes, so an older one may be the run's)."""
    module, qualname = names.split(function)
    # Backends name the folder by the module the function ran in: a script's is __main__.
    module = names.MAIN if names.is_script(module) else module
    found: list[Path] = []
    for owner in (f"{module}.{qualname}", qualname):
        folder = StateDir(state_dir).kernels / _slug(owner)
        if folder.is_dir():
            found += [p for p in folder.glob(f"{_slug(variant)}_*") if p.suffix in (".py", ".pyx")
                      and re.fullmatch(rf"{re.escape(_slug(variant))}_[0-9a-f]{{16}}", p.stem)]
    if not found:
        return None
    by_time = sorted(found, key=lambda p: p.stat().st_mtime)
    before = [p for p in by_time if p.stat().st_mtime <= created + 1.0]
    return (before or by_time)[-1]


def generated(path: Path | str | None, original: str | None, function: str) -> Generated | None:
    """The generated source at ``path`` with its diff against ``original``; None when it is gone."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    diff = None
    if original is not None:
        # Every line ends in a newline, so a last line without one does not run into the next.
        diff = "".join(difflib.unified_diff((original.rstrip("\n") + "\n").splitlines(keepends=True),
                                            (text.rstrip("\n") + "\n").splitlines(keepends=True),
                                            f"original {function}", f"generated {Path(path).name}"))
    return Generated(str(path), text, diff)
