"""Is a function written in array style (whole-array NumPy operations) or as element loops?

The GPU and tracing backends care: ``torch.compile`` and CuPy's NumPy namespace pay off on
whole-array operations and lose badly on Python loops over elements (a traced loop is unrolled
into one tiny operation per element; a CuPy element access is a device round trip). So they
propose their array-style candidates only for array-style code, and say why not otherwise.

Also here: which parameters a function may write in place, so a device variant knows which
host arrays to copy back after the call (a conservative over-approximation: verification
still compares every argument afterwards).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from hotpath.syntax import names_in
from hotpath.vocabulary import MUTATING_METHODS, PURE_BUILTINS



@dataclass(frozen=True)
class Style:
    """The verdict: ``array`` is true for array-style code; ``reason`` says why not."""

    array: bool
    reason: str = ""


def _loop_header(node: ast.For | ast.While) -> str:
    if isinstance(node, ast.While):
        return f"while {ast.unparse(node.test)}"
    return f"for {ast.unparse(node.target)} in {ast.unparse(node.iter)}"


def _indexes_with(body: list[ast.stmt], names: set[str]) -> bool:
    """Does any subscript in ``body`` use one of ``names`` in its index?"""
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Subscript):
                if any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node.slice)):
                    return True
    return False


def classify(fn: ast.FunctionDef) -> Style:
    """Array style unless the function loops over elements.

    A ``for`` loop counts as an element loop when its variable indexes an array (``a[i]``,
    ``a[i:i+k]``) or when it iterates over something other than ``range`` (``for x in a``).
    A loop whose variable is only a counter (``for _ in range(n_sweeps)`` around whole-array
    updates) keeps the function array-style. ``while`` loops depend on values computed in the
    loop, which a trace cannot follow, so they disqualify too.
    """
    for node in ast.walk(fn):
        if isinstance(node, ast.While):
            return Style(False, f"`{_loop_header(node)}` is data-dependent control flow")
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return Style(False, "a comprehension iterates element by element in Python")
        if not isinstance(node, ast.For):
            continue
        header = _loop_header(node)
        iterates_range = (isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Name)
                          and node.iter.func.id == "range")
        if not iterates_range:
            return Style(False, f"`{header}` iterates over the elements of a container")
        targets = names_in(node.target)
        if _indexes_with(node.body, targets):
            return Style(False, f"`{header}` loops over array elements (its variable indexes an array)")
    return Style(True)


def written_params(fn: ast.FunctionDef) -> frozenset[str]:
    """Parameters the function may modify in place.

    Counted as written: a parameter that is the base of a subscript or attribute assignment
    (``a[i] = ...``, ``a[:] += ...``, ``a.shape = ...``), the target of an augmented assignment
    (``a += 1`` is in place for arrays), the receiver of a mutating method, a value passed as
    ``out=``, or any argument handed to a function that is not a known-pure NumPy/math call
    (a helper could write to it). A parameter rebound by a plain assignment first is a new
    object afterwards; this analysis does not track that and stays conservative.
    """
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args}
    written: set[str] = set()

    def base(node: ast.AST) -> str | None:
        while isinstance(node, (ast.Subscript, ast.Attribute)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    for node in ast.walk(fn):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = [t for t in node.targets if isinstance(t, (ast.Subscript, ast.Attribute))]
            targets += [e for t in node.targets if isinstance(t, (ast.Tuple, ast.List))
                        for e in t.elts if isinstance(e, (ast.Subscript, ast.Attribute))]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            name = base(target)
            if name is not None:
                written.add(name)
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "out":
                    written |= names_in(keyword.value)
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in MUTATING_METHODS:
                name = base(func.value)
                if name is not None:
                    written.add(name)
            elif isinstance(func, ast.Name) and func.id not in PURE_BUILTINS:
                # A user helper may write to what it is given.
                written |= {a.id for a in node.args if isinstance(a, ast.Name)}
    return frozenset(written & params)

