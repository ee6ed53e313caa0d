"""Outlining: a large function's top-level statements move into helper functions of the same module.

Numba's compile time grows faster than the function: its SSA reconstruction and reaching-definition
analyses walk the whole function per variable, and the parallel variant's parfor passes worse. A
module-sized kernel that the devectorizer turned into hundreds of loop nests
(``bench/heldout/ocean.py``'s ``vertical_mixing_step``: about 1000 lines, 210 loops) compiles for
longer than tuning allows. Cut into functions of a few hundred AST nodes each, those passes become
cheap. LLVM's work does not shrink, Numba adds some: it optimizes and generates code for each helper
on its own, then links the helpers' IR into the caller and does it again. Measured on
``vertical_mixing_step`` at 64k points (medians of fresh processes, 2 shared cores): numba-fused
61 s whole, 48 s outlined; numba-fused-parallel 143 s whole, 69 s outlined; the same run times.

``outline(main)`` splits the body of ``main`` into runs of consecutive top-level statements, and
moves each run that holds a loop into a function of its own, called from ``main`` in its place::

    du, dv, nz = _f_nest0(dzw, kappa_m, tau, u, v)

Parameters are the locals the run reads before it assigns them (arrays go by reference, so writes
into them are seen by ``main``); the locals it assigns that a later statement may read before
assigning them are returned and bound again. Names that are not locals of ``main`` (modules, module
constants, helper functions, ``prange``) stay global reads: the helpers are emitted into the module
``main`` is emitted into. A run stays in ``main`` when moving it could change what the function does:
it returns, yields, deletes or declares a name global, uses a construct with a scope of its own
(lambda, comprehension, nested function), or reads a local that may be unassigned there, or would
have to return one that may be unassigned at its end.

Pure ``ast``: this module does not import Numba; a backend decorates the helpers as it decorates
``main``.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterable
from dataclasses import dataclass

from hotpath.rewriter.devectorize.emit import Names
from hotpath.syntax import parse_statements

#: Functions with fewer ``for`` loops than this are left as they are: the devectorized
#: ``vertical_mixing_step`` has 210, and a function of a few dozen loops compiles in seconds, where
#: outlining buys little; every kernel below it keeps exactly the source it had without outlining.
LOOPS = 60

#: Roughly how many AST nodes each helper holds: big enough that the calls and the returned locals
#: are few, small enough that Numba's superlinear passes stay cheap.
NODES = 600

#: Statements and expressions after which a run cannot move into a function of its own unchanged.
_REFUSED = (ast.Return, ast.Yield, ast.YieldFrom, ast.Await, ast.Global, ast.Nonlocal, ast.Delete,
            ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.NamedExpr,
            ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Try, ast.With, ast.AsyncWith,
            ast.AsyncFor, ast.Import, ast.ImportFrom, ast.Match)


@dataclass(frozen=True)
class Outlined:
    """``main`` with runs of its statements replaced by calls to ``helpers`` (none: ``main`` unchanged)."""

    helpers: tuple[ast.FunctionDef, ...]
    main: ast.FunctionDef


@dataclass(frozen=True)
class _Flow:
    """What a run of statements does with names, as far as the run itself can tell."""

    exposed: frozenset[str]  # read before the run itself surely assigned them
    must: frozenset[str]  # assigned on every path through the run that falls through
    may: frozenset[str]  # assigned on some path
    safe: bool  # nothing in _REFUSED, no break/continue outside a loop of the run


class _Walker:
    """Names read before being assigned, in execution order, through a run of statements."""

    def __init__(self) -> None:
        self.exposed: set[str] = set()
        self.safe = True

    def reads(self, node: ast.AST | None, defined: set[str]) -> None:
        if node is None:
            return
        for n in ast.walk(node):
            if isinstance(n, _REFUSED):
                self.safe = False
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in defined:
                self.exposed.add(n.id)

    def target(self, node: ast.AST, defined: set[str]) -> None:
        """Reads in an assignment target (``a[i] = ...`` reads ``a`` and ``i``), then its bindings."""
        self.reads(node, defined)
        defined |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}

    def block(self, body: list[ast.stmt], defined: set[str], loops: int) -> None:
        for stmt in body:
            self.stmt(stmt, defined, loops)

    def stmt(self, node: ast.stmt, defined: set[str], loops: int) -> None:
        """Record ``node``'s exposed reads; add what it surely assigns to ``defined``."""
        if isinstance(node, _REFUSED):
            self.unknown(node, defined)
        elif isinstance(node, (ast.Break, ast.Continue)):
            self.safe = self.safe and loops > 0
        elif isinstance(node, ast.Assign):
            self.reads(node.value, defined)
            for target in node.targets:
                self.target(target, defined)
        elif isinstance(node, ast.AugAssign):
            self.reads(node.value, defined)
            if isinstance(node.target, ast.Name):  # x += 1 reads x
                self.reads(ast.Name(node.target.id, ast.Load()), defined)
            self.target(node.target, defined)
        elif isinstance(node, ast.AnnAssign):
            self.reads(node.value, defined)
            if node.value is not None:
                self.target(node.target, defined)
            else:
                self.reads(node.target, defined)
        elif isinstance(node, ast.For):
            self.reads(node.iter, defined)
            # The body may run zero times or several: nothing it assigns is sure after the loop, and
            # a name it reads before assigning may be the previous iteration's or the one before.
            inner = set(defined)
            self.target(node.target, inner)
            self.block(node.body, inner, loops + 1)
            self.block(node.orelse, set(defined), loops)
        elif isinstance(node, ast.While):
            self.reads(node.test, defined)
            self.block(node.body, set(defined), loops + 1)
            self.block(node.orelse, set(defined), loops)
        elif isinstance(node, ast.If):
            self.reads(node.test, defined)
            then, orelse = set(defined), set(defined)
            self.block(node.body, then, loops)
            self.block(node.orelse, orelse, loops)
            defined |= then & orelse
        elif isinstance(node, (ast.Expr, ast.Raise, ast.Assert, ast.Pass)):
            for child in ast.iter_child_nodes(node):
                self.reads(child, defined)
        else:  # a statement this analysis does not know: left in main
            self.unknown(node, defined)

    def unknown(self, node: ast.stmt, defined: set[str]) -> None:
        """A statement that stays in main: every name it reads or deletes anywhere counts as read
        first (an earlier run then returns it), and it surely assigns nothing."""
        self.safe = False
        self.exposed |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                         and isinstance(n.ctx, (ast.Load, ast.Del)) and n.id not in defined}


def _flow(stmts: list[ast.stmt]) -> _Flow:
    walker = _Walker()
    defined: set[str] = set()
    walker.block(stmts, defined, 0)
    may = {n.id for s in stmts for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return _Flow(frozenset(walker.exposed), frozenset(defined), frozenset(may), walker.safe)


def _arguments(fn: ast.FunctionDef) -> list[str]:
    a = fn.args
    names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    return names + [p.arg for p in (a.vararg, a.kwarg) if p is not None]


def _runs(body: list[ast.stmt], flows: list[_Flow], nodes: int) -> list[tuple[int, int]]:
    """``[start, end)`` of runs of safe statements of at least ``nodes`` AST nodes (but the last).

    A run ends after a statement holding a loop, so the scalar set-up the devectorizer writes before
    a nest (extents, broadcast strides, checks) goes with the nest, not into the returned locals.
    """
    runs: list[tuple[int, int]] = []
    start, size = None, 0
    for i, stmt in enumerate(body):
        if not flows[i].safe:
            if start is not None:
                runs.append((start, i))
            start, size = None, 0
            continue
        if start is None:
            start = i
        size += sum(1 for _ in ast.walk(stmt))
        if size >= nodes and any(isinstance(n, (ast.For, ast.While)) for n in ast.walk(stmt)):
            runs.append((start, i + 1))
            start, size = None, 0
    if start is not None:
        runs.append((start, len(body)))
    return runs


def outline(main: ast.FunctionDef, taken: Iterable[str] = (), loops: int | None = None,
            nodes: int | None = None) -> Outlined:
    """``main`` with runs of its top-level statements moved into helper functions.

    ``taken``: the other names of the module the helpers join (imports, globals, functions), which
    their generated names avoid. ``loops``: the fewest ``for`` loops a function has for this to
    apply (below it ``main`` is returned as it is). ``nodes``: about how many AST nodes a helper
    holds. Both default to the module's ``LOOPS`` and ``NODES`` as they are when called. ``main``
    itself is not modified.
    """
    if sum(isinstance(n, ast.For) for n in ast.walk(main)) < (LOOPS if loops is None else loops):
        return Outlined((), main)
    if any(isinstance(n, (ast.Yield, ast.YieldFrom, ast.Global, ast.Nonlocal)) for n in ast.walk(main)):
        return Outlined((), main)  # a generator, or names that are not the function's own
    original, main = main, copy.deepcopy(main)
    body = main.body
    first = 1 if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else 0
    params = _arguments(main)
    # Every name the function binds anywhere is a local of it (Python decides per function, not per
    # statement); a name it never binds is a global, which the helpers read as main does.
    local = set(params) | {n.id for n in ast.walk(main) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    flows = [_flow([stmt]) for stmt in body]
    # must[i]: the names surely assigned before statement i runs.
    must: list[frozenset[str]] = [frozenset(params)]
    for flow in flows:
        must.append(must[-1] | flow.must)
    # live[i]: names statement i or a later one may read before assigning them.
    live: list[frozenset[str]] = [frozenset()] * (len(body) + 1)
    for i in range(len(body) - 1, -1, -1):
        live[i] = flows[i].exposed | (live[i + 1] - flows[i].must)

    names = Names({*taken, *local, main.name, *(n.id for n in ast.walk(main) if isinstance(n, ast.Name))})
    helpers: list[ast.FunctionDef] = []
    new_body = body[:first]
    done = first
    for start, end in _runs(body[first:], flows[first:], NODES if nodes is None else nodes):
        start, end = start + first, end + first
        run = body[start:end]
        call = _extract(run, local, must[start], live[end], names, main.name)
        new_body += body[done:start]
        if call is None:
            new_body += run
        else:
            helper, stmt = call
            helpers.append(helper)
            new_body.append(stmt)
        done = end
    new_body += body[done:]
    if not helpers:
        return Outlined((), original)
    main.body = new_body
    return Outlined(tuple(helpers), ast.fix_missing_locations(main))


def _extract(run: list[ast.stmt], local: set[str], must: frozenset[str], live: frozenset[str],
             names: Names, stem: str) -> tuple[ast.FunctionDef, ast.stmt] | None:
    """The helper holding ``run`` and the statement calling it, or None where ``run`` stays in main."""
    if not any(isinstance(n, (ast.For, ast.While)) for stmt in run for n in ast.walk(stmt)):
        return None  # straight-line code: a call would cost more than it saves
    flow = _flow(run)
    if not flow.safe:
        return None
    reads = flow.exposed & local
    if reads - must:
        return None  # reads a local that may be unassigned (or is assigned only later) here
    outputs = flow.may & live
    unsure = outputs - flow.must
    if unsure - must:
        return None  # would return a local that may be unassigned at the end of the run
    # A local the run may or may not assign keeps its value from before when it does not.
    params = sorted(reads | unsure)
    results = sorted(outputs)
    name = names.fresh(f"_{stem}_nest")
    helper = parse_statements(f"def {name}({', '.join(params)}):\n    pass")[0]
    assert isinstance(helper, ast.FunctionDef)
    helper.body = list(run) + ([ast.Return(_names(results, ast.Load()))] if results else [])
    call = ast.Call(ast.Name(name, ast.Load()), [ast.Name(p, ast.Load()) for p in params], [])
    stmt: ast.stmt = ast.Assign([_names(results, ast.Store())], call) if results else ast.Expr(call)
    return ast.fix_missing_locations(helper), ast.fix_missing_locations(stmt)


def _names(names: list[str], ctx: ast.expr_context) -> ast.expr:
    if len(names) == 1:
        return ast.Name(names[0], ctx)
    return ast.Tuple([ast.Name(n, ctx) for n in names], ctx)
