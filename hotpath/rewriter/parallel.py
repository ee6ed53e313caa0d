"""Which ``for ... in range(...)`` loops can run their iterations in parallel.

A loop qualifies only when the analysis can see that no iteration depends on another:

* every array it writes is indexed with the loop variable as the first index, and every read
  of such an array uses the same index (so iteration ``i`` touches row ``i`` only);
* every scalar it assigns is either private (written before it is read, in every iteration,
  and not read after the loop) or a reduction Numba supports (``s += x``, ``s = max(s, x)``);
* it has no ``break``, ``return``, ``raise``, ``assert``, writes to attributes, mutating
  method calls, or calls that pass a whole shared array to user code.

Anything the rules do not recognise disqualifies the loop. The rules are deliberately
conservative: a parallel variant is still verified against the serial original afterwards, but
races show up only sometimes, so the analysis, not the verification, has to rule them out.
"""

from __future__ import annotations

import ast
import contextvars
from collections import Counter
from dataclasses import dataclass

from hotpath.syntax import names_in
from hotpath.vocabulary import MUTATING_METHODS, PURE_BUILTINS

_REDUCTION_OPS = (ast.Add, ast.Sub, ast.Mult)
_REDUCTION_CALLS = {"min", "max"}
_METADATA = {"shape", "size", "ndim", "dtype"}
# A private array name is only safe to write through when it holds fresh memory.
_FRESH_ALLOCATORS = {"empty", "zeros", "ones", "full", "copy", "empty_like", "zeros_like",
                     "ones_like", "full_like", "array", "arange", "linspace"}


@dataclass(frozen=True)
class LoopVerdict:
    """Whether one loop may become ``prange``, and why not if it may not."""

    loop: str  # the loop's header, e.g. "for i in range(1, n - 1)"
    parallel: bool
    reason: str
    #: Reduction variables whose sum or product may be a float: combining per-thread partial
    #: results adds in another order than the serial loop, so the result may differ.
    reassociates: tuple[str, ...] = ()


def is_range_loop(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.For)
        and isinstance(node.target, ast.Name)
        and isinstance(node.iter, ast.Call)
        and isinstance(node.iter.func, ast.Name)
        and node.iter.func.id == "range"
        and not node.orelse
    )


def _first_index(sub: ast.Subscript) -> ast.AST:
    index = sub.slice
    if isinstance(index, ast.Tuple) and index.elts:
        return index.elts[0]
    return index


def _indexed_by(sub: ast.Subscript, var: str) -> bool:
    first = _first_index(sub)
    return isinstance(first, ast.Name) and first.id == var


def _base_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _reduction_name(stmt: ast.stmt) -> str | None:
    """``s`` when ``stmt`` is a reduction update of scalar ``s`` whose operand does not read ``s``."""
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        if isinstance(stmt.op, _REDUCTION_OPS):
            name = stmt.target.id
            if name not in names_in(stmt.value):
                return name
        return None
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        name = stmt.targets[0].id
        value = stmt.value
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id in _REDUCTION_CALLS and len(value.args) == 2 and not value.keywords):
            uses = [isinstance(a, ast.Name) and a.id == name for a in value.args]
            other = value.args[1] if uses[0] else value.args[0]
            if any(uses) and name not in names_in(other):
                return name
        if isinstance(value, ast.BinOp) and isinstance(value.op, _REDUCTION_OPS):
            if isinstance(value.left, ast.Name) and value.left.id == name:
                if name not in names_in(value.right):
                    return name
    return None


#: During one ``analyse``: node -> (node, the names it mentions). Asking whether each later
#: statement mentions a name, for every variable of every loop, walked a module-sized kernel's
#: 400 loops about a million times (6 s of proposing); each statement is walked once instead.
_MENTIONED: contextvars.ContextVar[dict[int, tuple[ast.AST, frozenset[str]]] | None] = contextvars.ContextVar(
    "_MENTIONED", default=None)


def _mentions(node: ast.AST, name: str) -> bool:
    cache = _MENTIONED.get()
    if cache is None:
        return name in names_in(node)
    entry = cache.get(id(node))
    if entry is None or entry[0] is not node:
        entry = (node, frozenset(names_in(node)))
        cache[id(node)] = entry
    return name in entry[1]


def written_before_read(name: str, stmts: list[ast.stmt]) -> bool:
    """Every execution of ``stmts`` assigns ``name`` before anything in it reads ``name``.

    Descends into the one compound statement (loop, branch) that holds every mention, so a
    temporary assigned first thing in an inner loop's body counts as private too.
    """
    holding = [s for s in stmts if _mentions(s, name)]
    if not holding:
        return False
    first = holding[0]
    if len(holding) == 1 and isinstance(first, (ast.For, ast.While, ast.If)):
        if isinstance(first, ast.For) and isinstance(first.target, ast.Name) and first.target.id == name:
            return not _mentions(first.iter, name)
        header = first.iter if isinstance(first, ast.For) else first.test
        if _mentions(header, name):
            return False
        blocks = [b for b in (first.body, first.orelse) if any(_mentions(s, name) for s in b)]
        return len(blocks) == 1 and written_before_read(name, blocks[0])
    return (
        isinstance(first, (ast.Assign, ast.AnnAssign))
        and any(isinstance(t, ast.Name) and t.id == name
                for t in (first.targets if isinstance(first, ast.Assign) else [first.target]))
        and first.value is not None
        and not _mentions(first.value, name)
    )


def _live_after(name: str, stmts: list[ast.stmt]) -> bool:
    """Might ``stmts`` read the value ``name`` holds on entry? (False once it is surely rebound.)"""
    for stmt in stmts:
        if not _mentions(stmt, name):
            continue
        if isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name) and stmt.target.id == name:
            if _mentions(stmt.iter, name) or stmt.orelse:
                return True
            # The loop rebinds it; only if it may run zero times can a later read see the old value.
            return _may_be_empty(stmt) and _live_after(name, stmts[stmts.index(stmt) + 1:])
        return not written_before_read(name, [stmt])
    return False


def _may_be_empty(loop: ast.For) -> bool:
    # Only ``range(k)``/``range(a, b)`` with literal bounds is known to run; anything else may not.
    call = loop.iter
    if isinstance(call, ast.Call) and all(isinstance(a, ast.Constant) for a in call.args):
        try:
            return len(range(*[a.value for a in call.args])) == 0  # type: ignore[attr-defined]
        except TypeError:
            return True
    return True


def _reduction_kind(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.AugAssign):
        return type(stmt.op).__name__
    value = stmt.value  # type: ignore[attr-defined]
    if isinstance(value, ast.Call):
        return value.func.id  # type: ignore[attr-defined]
    return type(value.op).__name__


class _Events(ast.NodeVisitor):
    """Reads and writes of names in a loop body, in execution order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []  # (name, "read" | "write")

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.events.append((node.target.id, "read"))
        self.visit(node.target)

    def visit_Name(self, node: ast.Name) -> None:
        self.events.append((node.id, "write" if isinstance(node.ctx, ast.Store) else "read"))


@dataclass(frozen=True)
class _FunctionFacts:
    """What every loop's verdict asks of the whole function, gathered in one walk per analysis: once
    per loop, a module-sized fused function (200 loops) spent seconds of its proposing here."""

    aliases: frozenset[str]  # names rebound from other names, subscripts or attributes
    range_targets: frozenset[str]  # see _range_targets
    assigned: dict[str, tuple[ast.Assign, ...]]  # the plain assignments of each name

    @classmethod
    def of(cls, fn: ast.FunctionDef) -> _FunctionFacts:
        aliases: set[str] = set()
        assigned: dict[str, list[ast.Assign]] = {}
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        assigned.setdefault(t.id, []).append(node)
                        if isinstance(node.value, (ast.Name, ast.Subscript, ast.Attribute)):
                            aliases.add(t.id)
        return cls(frozenset(aliases), _range_targets(fn), {k: tuple(v) for k, v in assigned.items()})


def _float_reductions(reductions: dict[str, str], body: ast.Module, facts: _FunctionFacts,
                      integers: frozenset[str]) -> tuple[str, ...]:
    """Sum and product reductions not shown to be integers: every update adds an integer
    expression, and every assignment of the accumulator elsewhere is one."""
    from hotpath.rewriter.reduction_order import integral

    names = integers | facts.range_targets
    out = []
    for name in reductions:
        updates = [st for st in ast.walk(body) if isinstance(st, (ast.AugAssign, ast.Assign)) and _reduction_name(st) == name]
        if all(isinstance(st, ast.Assign) and isinstance(st.value, ast.Call) for st in updates):
            continue  # min/max: the same value in any order
        operands = [st.value if isinstance(st, ast.AugAssign) else st.value.right for st in updates]  # type: ignore[attr-defined]
        starts = [node.value for node in facts.assigned.get(name, ()) if node not in updates]
        if not starts or not all(integral(e, names) for e in operands + starts):
            out.append(name)
    return tuple(sorted(out))


def _range_targets(fn: ast.FunctionDef) -> frozenset[str]:
    """Loop variables of ``range`` loops that are never assigned otherwise: integers."""
    # Counted in one walk each: once per target, a fused module-sized function (dozens of loop
    # nests) took minutes here.
    loops = Counter(n.target.id for n in ast.walk(fn) if is_range_loop(n))  # type: ignore[attr-defined]
    stores = Counter(n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return frozenset(t for t, count in loops.items() if stores[t] == count)


def _loop_verdict(loop: ast.For, facts: _FunctionFacts, after: list[ast.stmt],
                  integers: frozenset[str] = frozenset()) -> LoopVerdict:
    def no(reason: str) -> LoopVerdict:
        return LoopVerdict(header, False, reason)

    var = loop.target.id  # type: ignore[attr-defined]
    header = f"for {var} in {ast.unparse(loop.iter)}"
    body = ast.Module(body=loop.body, type_ignores=[])
    for node in ast.walk(body):
        if isinstance(node, (ast.Break, ast.Return, ast.Raise, ast.Assert, ast.Yield, ast.Try,
                             ast.With, ast.Delete, ast.Lambda, ast.FunctionDef)):
            return no(f"`{type(node).__name__.lower()}` inside the loop")
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            return no("assigns to an attribute")
    # Names rebound from other names alias arrays; writes through an alias are not analysable.
    aliases = facts.aliases
    reductions: dict[str, str] = {}
    for stmt in ast.walk(body):
        if isinstance(stmt, (ast.AugAssign, ast.Assign)):
            name = _reduction_name(stmt)
            if name is not None:
                reductions[name] = type(stmt).__name__

    events = _Events()
    for stmt in loop.body:
        events.visit(stmt)
    written = {name for name, kind in events.events if kind == "write"}

    if _live_after(var, after):
        return no(f"loop variable {var!r} is read after the loop")

    fresh: set[str] = set()
    for node in ast.walk(body):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Call, ast.BinOp, ast.ListComp)):
            call = node.value
            is_fresh = isinstance(call, (ast.BinOp, ast.ListComp)) or (
                isinstance(call, ast.Call)
                and (
                    (isinstance(call.func, ast.Attribute) and call.func.attr in _FRESH_ALLOCATORS)
                    or (isinstance(call.func, ast.Name) and call.func.id in _FRESH_ALLOCATORS)
                )
            )
            if is_fresh:
                fresh |= {t.id for t in node.targets if isinstance(t, ast.Name)}

    private: set[str] = set()
    for name in written:
        if name == var:
            return no(f"loop variable {var!r} is reassigned in the body")
        if name in reductions:
            updates = [st for st in ast.walk(body) if isinstance(st, (ast.AugAssign, ast.Assign))
                       and _reduction_name(st) == name]
            uses = [kind for used, kind in events.events if used == name]
            # Each update reads and writes the accumulator once; any other use sees partial sums.
            if uses.count("read") != len(updates) or uses.count("write") != len(updates):
                return no(f"reduction variable {name!r} is also used otherwise inside the loop")
            if len({_reduction_kind(st) for st in updates}) > 1:
                return no(f"reduction variable {name!r} is updated with different operators")
            continue
        if written_before_read(name, loop.body):
            if _live_after(name, after):
                return no(f"{name!r} is assigned in the loop and read after it")
            private.add(name)
            continue
        return no(f"{name!r} carries a value from one iteration to the next")

    # Array writes and the reads of written arrays.
    stored: set[str] = set()
    for node in ast.walk(body):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Subscript) and isinstance(sub.ctx, ast.Store):
                    base = _base_name(sub)
                    if base is None:
                        return no("writes through a subscript it cannot name")
                    if base in private:
                        if base not in fresh:
                            return no(f"writes through {base!r}, a view of shared memory")
                        continue
                    if base in aliases:
                        return no(f"writes to {base!r}, which aliases another array")
                    if not (isinstance(sub.value, ast.Name) and _indexed_by(sub, var)):
                        return no(f"writes {ast.unparse(sub)}, not indexed by {var!r} first")
                    stored.add(base)
    parents = {child: parent for parent in ast.walk(body) for child in ast.iter_child_nodes(parent)}
    for node in ast.walk(body):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            base = _base_name(node)
            if base in stored and not (isinstance(node.value, ast.Name) and _indexed_by(node, var)):
                return no(f"reads {ast.unparse(node)} while other iterations write {base!r}")
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in stored:
            parent = parents.get(node)
            if isinstance(parent, ast.Subscript) and parent.value is node:
                continue
            if isinstance(parent, ast.Attribute) and parent.attr in _METADATA:
                continue
            # A whole written array passed on or reduced (out.sum()) reads other rows.
            return no(f"uses the written array {node.id!r} as a whole")

    for node in ast.walk(body):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                if func.attr in MUTATING_METHODS:
                    return no(f"calls .{func.attr}(), which mutates its object")
                continue  # np.sqrt(...), math.exp(...), a[i].sum(): no shared writes
            if isinstance(func, ast.Name) and func.id in PURE_BUILTINS:
                continue
            shared = [a.id for a in node.args if isinstance(a, ast.Name) and a.id not in private]
            if shared:
                return no(f"passes {', '.join(shared)} to {ast.unparse(func)}(), which might write to it")
    return LoopVerdict(header, True, "no loop-carried dependency",
                       _float_reductions(reductions, body, facts, integers))


def _walk_loops(stmts: list[ast.stmt], facts: _FunctionFacts, after: list[ast.stmt],
                verdicts: list[tuple[ast.For, LoopVerdict]], integers: frozenset[str],
                reassociate: bool) -> None:
    for position, stmt in enumerate(stmts):
        rest = stmts[position + 1:] + after
        if is_range_loop(stmt):
            assert isinstance(stmt, ast.For)
            verdict = _loop_verdict(stmt, facts, rest, integers)
            if verdict.parallel and verdict.reassociates and not reassociate:
                names = ", ".join(repr(n) for n in verdict.reassociates)
                verdict = LoopVerdict(verdict.loop, False, f"a parallel reduction of {names} would "
                                      "reassociate a float sum (tried only with a loose tolerance)",
                                      verdict.reassociates)
            verdicts.append((stmt, verdict))
            if not verdict.parallel:
                # An outer sequential loop (time steps, say) may still hold a parallel inner one.
                _walk_loops(stmt.body, facts, rest, verdicts, integers, reassociate)
        elif isinstance(stmt, (ast.If, ast.For, ast.While, ast.With)):
            for block in (stmt.body, getattr(stmt, "orelse", [])):
                # Code after the block, and the block's own later iterations, count as "after".
                _walk_loops(block, facts, rest + (block if isinstance(stmt, (ast.For, ast.While)) else []),
                            verdicts, integers, reassociate)


def analyse(fn: ast.FunctionDef, integers: frozenset[str] = frozenset(),
            reassociate: bool = True) -> list[tuple[ast.For, LoopVerdict]]:
    """Every range loop of ``fn`` considered for ``prange``, outermost first, with its verdict.

    Only the outermost qualifying loop of a nest is marked parallel; loops nested inside a
    parallel loop are not listed. ``integers`` names what holds integers (parameters, by the
    signature), so that their sums count as exact; with ``reassociate=False`` a loop whose
    parallel reduction might add floats stays serial (its verdict says why).
    """
    verdicts: list[tuple[ast.For, LoopVerdict]] = []
    token = _MENTIONED.set({})  # the tree does not change while it is analysed
    try:
        _walk_loops(fn.body, _FunctionFacts.of(fn), [], verdicts, integers, reassociate)
    finally:
        _MENTIONED.reset(token)
    return verdicts


def to_prange(fn: ast.FunctionDef, integers: frozenset[str] = frozenset(),
              reassociate: bool = True) -> tuple[ast.FunctionDef, list[LoopVerdict]]:
    """A copy of ``fn`` whose parallel-safe loops call ``prange``; the verdicts say which
    (``integers``, ``reassociate``: as for ``analyse``)."""
    import copy

    clone = copy.deepcopy(fn)
    verdicts = analyse(clone, integers, reassociate)
    for loop, verdict in verdicts:
        if verdict.parallel:
            loop.iter.func = ast.Name(id="prange", ctx=ast.Load())  # type: ignore[attr-defined]
    return clone, [v for _, v in verdicts]
