"""Integer semantics compiled code cannot keep: Python ints that grow past 2**63, and shift
counts outside 0..63.

**Shift counts.** ``x << s`` and ``x >> s`` are defined in Python and NumPy for every ``s``
(negative raises or gives 0, 64 and beyond give 0 or the sign); in compiled code a count outside
0..63 is undefined behaviour, and x86 masks it to 6 bits, so the answer depends on the data
(``w << -1`` is ``w << 63``: 0 for even ``w``, -2**63 for odd). No probe can show that reliably,
so a parameter used as a shift count is guarded to 0..63 up front (``shift_counts``).

**Growth.** A Python ``int`` has no width: ``r = r * (n - i) // (i + 1)`` computes C(100, 50) exactly, and
``n = 3 * n + 1`` never wraps. Every compiled backend computes in int64. A guard on each argument's
range cannot separate the calls that overflow from those that do not, since the overflow depends
on combinations of values (C(100, 50) overflows, C(100, 5) and C(60, 30) do not). So a function
that multiplies, raises to a power or shifts integers, where the result feeds what it returns,
is left as the original when it works on Python ints (its arguments are Python ints, or it returns
one). Integers from NumPy arrays are NumPy's fixed-width ints, which wrap in the original too.

The flow is followed by names: a name counts when it is returned, assigned from a counted name,
or tested by a loop or branch that assigns a counted name (``steps += 1`` inside
``while n != 1`` makes ``n`` count).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from hotpath.rewriter.source import FunctionSource
from hotpath.syntax import names_in

_GROWING_OPS = (ast.Mult, ast.Pow, ast.LShift)
_GROWING_CALLS = frozenset({"factorial", "comb", "perm", "pow", "prod"})


def holds_python_int(value: Any) -> bool:
    """Whether ``value`` is, or holds in its tuples, lists and dicts, a Python int (bools aside)."""
    if isinstance(value, bool) or isinstance(value, np.generic):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, (tuple, list)):
        return any(holds_python_int(v) for v in value)
    if isinstance(value, dict):
        return any(holds_python_int(v) for v in value.values())
    return False


_INT_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift, ast.BitAnd,
            ast.BitOr, ast.BitXor)
_INT_CALLS = frozenset({"int", "len", "abs", "min", "max", "factorial", "comb", "perm", "gcd", "lcm", "isqrt",
                        "round", "floor", "ceil", "ord", "hash"})


class _IntKinds:
    """Which expressions are Python ints, as far as names and literals tell: parameters by the
    captured arguments, locals by every value assigned to them (one float assignment, and a local
    is not an int)."""

    def __init__(self, ints: set[str], int_lists: set[str], not_ints: set[str]) -> None:
        self.ints, self.int_lists, self.not_ints = ints, int_lists, not_ints

    def is_int(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, int)
        if isinstance(node, ast.Name):
            return node.id not in self.not_ints and node.id not in self.int_lists
        if isinstance(node, ast.BinOp):
            return isinstance(node.op, _INT_OPS) and self.is_int(node.left) and self.is_int(node.right)
        if isinstance(node, ast.UnaryOp):
            return self.is_int(node.operand)
        if isinstance(node, ast.IfExp):
            return self.is_int(node.body) and self.is_int(node.orelse)
        if isinstance(node, ast.Subscript):  # an item of a list of Python ints
            return isinstance(node.value, ast.Name) and node.value.id in self.int_lists
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            return name in _INT_CALLS
        return False


def _growing(node: ast.AST, kinds: _IntKinds) -> Iterator[ast.AST]:
    for child in ast.walk(node):
        if isinstance(child, ast.BinOp) and isinstance(child.op, _GROWING_OPS):
            if kinds.is_int(child.left) and kinds.is_int(child.right):
                yield child
        elif isinstance(child, ast.Call):
            func = child.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in _GROWING_CALLS and all(kinds.is_int(a) for a in child.args):
                yield child


def _kinds(tree: ast.FunctionDef, args: tuple[Any, ...] | None,
           assignments: list[tuple[set[str], ast.AST, set[str]]]) -> _IntKinds:
    params = [a.arg for a in tree.args.args]
    ints: set[str] = set()
    int_lists: set[str] = set()
    not_ints: set[str] = set()
    for index, name in enumerate(params):
        value = args[index] if args is not None and index < len(args) else None
        if isinstance(value, int) and not isinstance(value, bool):
            ints.add(name)
        elif isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            int_lists.add(name)
        else:
            not_ints.add(name)
    kinds = _IntKinds(ints, int_lists, not_ints)
    changed = True
    while changed:  # a local assigned anything that is not an int is not one
        changed = False
        for targets, value, _ in assignments:
            # ``for i in range(...)`` and ``for v in ints`` (a list of Python ints) bind ints.
            iterated = ((isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "range")
                        or (isinstance(value, ast.Name) and value.id in int_lists))
            if not iterated and not kinds.is_int(value):
                fresh = targets - not_ints - set(params)
                if fresh:
                    not_ints |= fresh
                    changed = True
    return kinds


def _assignments(tree: ast.AST) -> list[tuple[set[str], ast.AST, set[str]]]:
    """(targets, value, names tested by the enclosing loops and branches) for each assignment."""
    found: list[tuple[set[str], ast.AST, set[str]]] = []

    def visit(node: ast.AST, tested: set[str]) -> None:
        if isinstance(node, (ast.While, ast.If)):
            inner = tested | names_in(node.test)
            for child in node.body + node.orelse:
                visit(child, inner)
            return
        if isinstance(node, ast.For):
            inner = tested | names_in(node.iter)
            found.append((names_in(node.target), node.iter, tested))
            for child in node.body + node.orelse:
                visit(child, inner)
            return
        if isinstance(node, ast.Assign):
            targets = set().union(*(names_in(t) for t in node.targets))
            found.append((targets, node.value, tested))
        elif isinstance(node, ast.AugAssign):
            # ``r *= x`` is ``r = r * x``: the operator itself is what grows.
            grown = ast.copy_location(ast.BinOp(node.target, node.op, node.value), node)
            found.append((names_in(node.target), grown, tested))
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            found.append((names_in(node.target), node.value, tested))
        for child in ast.iter_child_nodes(node):  # type: ignore[assignment]
            visit(child, tested)

    visit(tree, set())
    return found


def _returned(tree: ast.AST) -> Iterable[ast.AST]:
    return (n.value for n in ast.walk(tree) if isinstance(n, ast.Return) and n.value is not None)


def unbounded_growth(fs: FunctionSource, args: tuple[Any, ...] | None = None) -> str | None:
    """Where the function (or a helper) multiplies, raises or shifts Python ints that flow into
    what it returns, as ``'x * y' in name``; None when nothing grows. ``args`` (the captured
    call's) say which parameters are ints; a helper's are taken as possibly ints."""
    for part in fs.walk():
        tree = part.tree
        assignments = _assignments(tree)
        kinds = _kinds(tree, args if part is fs else None, assignments)
        if part is not fs:
            kinds.not_ints -= {a.arg for a in tree.args.args}
        returned = list(_returned(tree))
        for expr in returned:
            for op in _growing(expr, kinds):
                return f"'{ast.unparse(op)}' in {part.name}"
        counted = set().union(*(names_in(expr) for expr in returned)) if returned else set()
        changed = True
        while changed:  # close over data and control flow into the counted names
            changed = False
            for targets, value, tested in assignments:
                if targets & counted:
                    more = (names_in(value) | tested) - counted
                    if more:
                        counted |= more
                        changed = True
        for targets, value, _ in assignments:
            if targets & counted:
                for op in _growing(value, kinds):
                    return f"'{ast.unparse(op)}' in {part.name}"
    return None


def shift_counts(fs: FunctionSource, args: tuple[Any, ...]) -> tuple[int, ...]:
    """Positions of the integer parameters the function uses as a shift count."""
    tree = fs.tree
    params = [a.arg for a in tree.args.args]
    found: set[int] = set()
    for node in ast.walk(tree):
        shifts = isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, (ast.LShift, ast.RShift))
        count = node.right if isinstance(node, ast.BinOp) else getattr(node, "value", None)
        if shifts:
            for name in names_in(count):
                if name in params:
                    index = params.index(name)
                    if index < len(args) and isinstance(args[index], (int, np.integer)) \
                            and not isinstance(args[index], bool):
                        found.add(index)
    return tuple(sorted(found))
