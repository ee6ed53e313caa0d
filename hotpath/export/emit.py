"""The source that replaces one tuned function in an exported patch.

For a function ``f`` the block holds: a comment naming, per verified signature, the variant,
its measured speedup, the inputs it was verified on and its guards; the original, verbatim, as
``_f_original``; each signature's compiled variant (``_f_numba``, its helpers as ``_f_numba__helper``)
with the ``@numba.njit(...)`` options it was verified with; and ``f`` itself, a wrapper that
calls a variant only for the signature it was verified on and inside its guards, and the
original for every other call, as hotpath's dispatch would.

Only Numba winners (plain, parallel, fastmath, fused) are written out: their generated module
is Python. Cython, Pythran, torch and CuPy winners are skipped with the reason.
"""

from __future__ import annotations

import ast
import importlib
import math
import textwrap
import types
from collections.abc import Sequence
from dataclasses import dataclass

from hotpath.export.locate import Located
from hotpath.export.winners import Winner
from hotpath.kernels.base import CAST_RETURN, DISTINCT_ARRAYS, FINITE, MIN_SIZE, RANGE
from hotpath.runner.adapters import describe, parse_ranges
from hotpath.syntax import parse_expression, parse_module, parse_statements

#: hotpath modules a generated variant may import, copied beside the patched module instead.
VENDORED = ("hotpath.rewriter.devectorize.pairwise", "hotpath.rewriter.devectorize.hugepages",
            "hotpath.rewriter.devectorize.vmath", "hotpath.rewriter.devectorize.numpy_products")


class NotExported(Exception):
    """This function's winners cannot be written as plain source; the message says why."""


@dataclass(frozen=True)
class Block:
    """The replacement for one function and what its module must provide for it."""

    text: str
    imports: tuple[str, ...]  # import statements the module must gain (if it lacks them)
    support: tuple[str, ...]  # names of ``hotpath.export.runtime`` functions it calls
    vendored: tuple[tuple[str, str], ...]  # (alias, hotpath module) copied beside the module


def _number(value: float) -> str:
    if math.isinf(value):
        return 'float("inf")' if value > 0 else '-float("inf")'
    return repr(float(value))


def _conditions(adapters: Sequence[str]) -> tuple[list[str], list[str], str | None]:
    """The guard conditions on ``_hp_args``, the support functions they call, and the return cast."""
    conditions, support, cast = [], [], None
    for adapter in adapters:
        if adapter == FINITE:
            conditions.append("_hp_all_finite(_hp_args)")
            support.append("_hp_all_finite")
        elif adapter == DISTINCT_ARRAYS:
            conditions.append("_hp_distinct(_hp_args)")
            support += ["_hp_leaves", "_hp_distinct"]
        elif adapter.startswith(MIN_SIZE):
            conditions.append(f"_hp_long_enough(_hp_args, {int(adapter[len(MIN_SIZE):])})")
            support += ["_hp_leaves", "_hp_long_enough"]
        elif adapter.startswith(RANGE):
            for r in parse_ranges(adapter[len(RANGE):]):
                conditions.append(f"_hp_in_range(_hp_args, {tuple(r.path)!r}, {_number(r.low)}, "
                                  f"{_number(r.high)}, {r.nan!r})")
            support.append("_hp_in_range")
        elif adapter.startswith(CAST_RETURN):
            cast = adapter[len(CAST_RETURN):]
            support.append("_hp_cast")
        else:
            raise NotExported(f"its guard {adapter!r} has no exported form")
    return conditions, support, cast


class _Rename(ast.NodeTransformer):
    def __init__(self, names: dict[str, ast.expr]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.names and isinstance(node.ctx, ast.Load):
            return ast.copy_location(self.names[node.id], node)
        return node


def _bound(namespace: dict[str, object], alias: str, module: str) -> bool:
    value = namespace.get(alias)
    return isinstance(value, types.ModuleType) and value.__name__ == module


def _variant(located: Located, winner: Winner, main_name: str) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """The variant's functions (renamed), the imports they need, and the hotpath modules to copy."""
    try:
        module = parse_module(winner.source_path.read_text())
    except (OSError, SyntaxError) as exc:
        raise NotExported(f"its generated variant {winner.source_path} cannot be read ({exc})") from None
    functions = [n for n in module.body if isinstance(n, ast.FunctionDef)]
    if winner.entry not in {f.name for f in functions}:
        raise NotExported(f"its generated variant {winner.source_path} has no function {winner.entry}")
    names: dict[str, ast.expr] = {}
    for f in functions:
        new = main_name if f.name == winner.entry else f"{main_name}__{f.name}"
        names[f.name] = ast.Name(new, ast.Load())
    # Values hotpath bound by value where the original reads an attribute (``P.SCALE``) are read
    # through the attribute again; Numba folds a module's attribute as it folds a global.
    for part in located.fs.walk():
        for ref in part.refs:
            if ref.kind == "value" and ref.attribute is not None:
                root = ref.attribute.split(".")[0]
                if not isinstance(located.namespace.get(root), types.ModuleType):
                    raise NotExported(f"it reads {ref.attribute} through an object, which a compiled function "
                                      "cannot read at run time")
                names[ref.name] = parse_expression(ref.attribute)
            elif ref.kind == "value" and located.namespace.get(ref.name, located) is not ref.value:
                raise NotExported(f"a helper reads a global {ref.name!r} its module does not hold")
    imports, vendored = [], []
    used = {n.id for f in functions for n in ast.walk(f) if isinstance(n, ast.Name)}
    for node in module.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if alias.name in VENDORED:
                    vendored.append((bound, alias.name))
                elif alias.name.split(".")[0] == "hotpath":
                    raise NotExported(f"its variant imports {alias.name}, which is part of hotpath")
                elif not _bound(located.namespace, bound, alias.name if alias.asname else bound):
                    imports.append(ast.unparse(ast.Import([alias])))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bound = alias.asname or alias.name
                full = f"{node.module}.{alias.name}"
                if full in VENDORED:
                    vendored.append((bound, full))
                elif (node.module or "").split(".")[0] == "hotpath":
                    raise NotExported(f"its variant imports from {node.module}, which is part of hotpath")
                elif bound in used and located.namespace.get(bound, located) is not _attribute(node.module, alias.name):
                    imports.append(ast.unparse(ast.ImportFrom(node.module, [alias], 0)))
    out = []
    for f in functions:
        renamed = f"{main_name}__{f.name}" if f.name != winner.entry else main_name
        f = _Rename(names).visit(f)
        f.name = renamed
        out.append(ast.unparse(ast.fix_missing_locations(f)))
    return out, imports, vendored


def _attribute(module: str | None, name: str) -> object:
    """``module.name`` (what ``from module import name`` binds), or a fresh object when it fails."""
    try:
        return getattr(importlib.import_module(module or ""), name)
    except Exception:
        return object()


def block(located: Located, winners: Sequence[Winner], original_lines: Sequence[str]) -> Block:
    """The replacement for ``located``'s definition (``original_lines``: the file's lines of it,
    decorators included) serving each of ``winners``' signatures; raises ``NotExported``."""
    fs = located.fs
    fname = fs.name
    for winner in winners:
        if winner.backend != "numba":
            raise NotExported(f"its winner is a {winner.backend} variant ({winner.source_path}); export writes "
                              "Numba winners only, as Python source")
    for decorator in located.decorators:
        root = located.namespace.get(decorator.split("(")[0].split(".")[0])
        owner = getattr(root, "__name__", "") if isinstance(root, types.ModuleType) else getattr(root, "__module__", "")
        if not str(owner).startswith("hotpath"):
            raise NotExported(f"it is decorated with @{decorator}, which the export would have to keep around "
                              "both the original and the variant")
    if original_lines[0][:1].isspace():
        raise NotExported("it is not defined at the top level of its module")
    definition = parse_statements(textwrap.dedent("".join(original_lines)))[0]
    assert isinstance(definition, ast.FunctionDef)
    def_line = definition.lineno - 1  # below the decorators, which go: the wrapper replaces them
    body = list(original_lines[def_line:])
    body[0] = body[0].replace(f"def {fname}", f"def _{fname}_original", 1)

    params = [a.arg for a in (*definition.args.posonlyargs, *definition.args.args)]
    call = ", ".join(params)
    header = [f"# hotpath export: {fname} runs a compiled variant for each signature it was verified on, and the",
              f"# original (_{fname}_original) for every other call. Measured by hotpath on this machine:"]
    variants: list[str] = []
    imports: list[str] = []
    support = ["_hp_signature"]
    vendored: list[tuple[str, str]] = []
    wrapper = [f"def {fname}({ast.unparse(definition.args)}):",
               f"    _hp_args = ({call}{',' if len(params) == 1 else ''})",
               "    _hp_key = _hp_signature(_hp_args)"]
    for index, winner in enumerate(winners):
        main = f"_{fname}_numba" if len(winners) == 1 else f"_{fname}_numba_{index + 1}"
        functions, needed, copied = _variant(located, winner, main)
        variants += functions
        imports += needed
        vendored += copied
        conditions, used, cast = _conditions(winner.adapters)
        support += used
        ci = f" [95% CI {winner.ci[0]:.2f}, {winner.ci[1]:.2f}]" if winner.ci else ""
        header += [f"#   {winner.signature}: {main}, variant {winner.name!r}, {winner.speedup:.1f}x faster{ci}",
                   f"#     {winner.verification.inputs_line()}"]
        words = [describe(a) for a in winner.adapters]
        header.append(f"#     guards: signature; {'; '.join(words)}" if words else "#     guards: signature only")
        test = " and ".join([f"_hp_key == {winner.signature!r}", *conditions])
        result = f"{main}({call})"
        wrapper += [f"    if {test}:", f"        return {result if cast is None else f'_hp_cast({result}, {cast!r})'}"]
    wrapper.append(f"    return _{fname}_original({call})")
    if ast.get_docstring(definition) is not None:
        wrapper += ["", "", f"{fname}.__doc__ = _{fname}_original.__doc__"]
    parts = ["\n".join(header), "".join(body).rstrip("\n"), *variants, "\n".join(wrapper)]
    text = "\n\n\n".join(parts) + "\n"
    return Block(text, tuple(dict.fromkeys(imports)), tuple(dict.fromkeys(support)), tuple(dict.fromkeys(vendored)))


