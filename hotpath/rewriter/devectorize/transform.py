"""The statement-level driver: which statements become loop nests, and how they are stored.

Walks the function body in order, tracking what each name holds (a stand-in value for the
oracle, and the array it views, for aliasing). A statement is rewritten when its right-hand
side lowers to IR and reads array data element by element:

* ``x = E`` allocates ``x`` and fills it in one loop nest (into a fresh array first when ``E``
  reads the old ``x``);
* ``t[slices] = E`` and ``t += E`` write in place; when ``E`` reads memory the write may
  overwrite before it is read (``u[1:-1] = u[:-2] + u[2:]``), the nest fills a temporary and a
  second loop copies it, exactly as NumPy evaluates the right-hand side first;
* ``return E`` and scalar statements with reductions (``s = np.sum(...)``) likewise;
* ``np.cumsum``/``np.cumprod`` of a 1-d expression (also reversed: ``np.cumsum(E[::-1])[::-1]``)
  and ``np.nonzero(E)[0]`` (``np.where(E)[0]``, ``np.flatnonzero(E)``, shifted by an integer)
  become one loop that fills the result (``Emitter.sequence``).

Across statements, a local array assigned once and used once by the next statements is
substituted into its use (``loss = np.where(...); return loss.mean()`` becomes one reduction
loop), unless that would recompute it inside loops it does not depend on.
A cheap element-wise local read by several statements (a mask, a masked copy) is substituted
into each of them first (``substitute``), so it is recomputed in each nest instead of stored.
"""

from __future__ import annotations

import ast
import copy
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import logging

import numpy as np

from hotpath.rewriter.devectorize import ir
from hotpath.rewriter.devectorize.build import Builder, Built, Unsupported
from hotpath.rewriter.devectorize.emit import (Emitter, Names, NewArray, Region, ScalarStore, bound_check,
                                               rename_loops)
from hotpath.rewriter.devectorize.jam import jam
from hotpath.rewriter.devectorize.oracle import Oracle, Unknown, is_array, standin
from hotpath.rewriter.devectorize.substitute import substitute
from hotpath.syntax import names_in, parse_expression, parse_statements

log = logging.getLogger(__name__)

_FRESH = {"empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like", "full_like",
          "array", "arange", "linspace", "copy", "where", "sqrt", "exp", "log", "abs", "cumsum", "cumprod",
          "diff", "nonzero", "flatnonzero"}
#: Results that are no element-wise expression: running sums and products, indices of nonzeros.
_SEQUENCES = {"cumsum", "cumprod", "nonzero", "flatnonzero"}
_VIEWS = {"reshape", "ravel", "transpose", "view", "squeeze", "T", "real", "imag", "asarray",
          "ascontiguousarray", "swapaxes"}
_SIMPLE = (ast.Assign, ast.AugAssign, ast.Return)


@dataclass(frozen=True)
class Rewrite:
    """The devectorized function, and what was done to it."""

    tree: ast.FunctionDef
    notes: tuple[str, ...]  # one line per rewritten statement
    writes_arguments: bool  # some nest writes in place into an argument's memory
    imports: tuple[tuple[str, str], ...] = ()  # (alias, module) the loops need beyond the function's
    sequential: tuple[str, ...] = ()  # variables of emitted loops that must stay serial, with all inside them
    #: Float sums the loops add in another order than NumPy (one line each): a variant built
    #: from this rewrite reassociates, and is tried only when the tolerance allows it.
    reassociations: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.notes)


def devectorize(fn: ast.FunctionDef, args: Sequence[Any], modules: Mapping[str, str],
                allocator: str | None = None, pairwise: str | None = None, vmath: str | None = None) -> Rewrite:
    """``fn`` with its NumPy expression statements turned into loop nests where the rules allow.

    ``args`` are the ``ArgSpec``s of the observed signature (dtype, ndim of each array);
    ``modules`` maps the module aliases the function uses to module names. ``allocator`` names
    a module whose ``empty``, ``empty_like``, ``zeros_like`` and ``copy`` replace NumPy's for
    the arrays the function allocates (see ``hugepages``: how Numba code allocates like NumPy).
    ``pairwise`` names a module with NumPy's summation order (``pairwise``, Numba only): whole
    1-d float sums and means call it; without it, and for the sums it cannot take, the
    ``Rewrite`` lists them as reassociations. ``vmath`` names a module with ``exp``, ``log`` and
    others that LLVM vectorizes (``vmath``, Numba only): loops that can vectorize call it instead
    of ``np.exp`` and the rest.
    """
    fn = copy.deepcopy(fn)
    if len(args) != len(fn.args.args):
        return Rewrite(fn, (), False)
    modules = dict(modules)
    fn = substitute(fn, modules)  # cheap locals read by several statements: recomputed, not stored
    numpy = next((alias for alias, module in modules.items() if module == "numpy"), None)
    imports: tuple[tuple[str, str], ...] = ()
    if numpy is None:  # the function calls no np.*, but the loops allocate with numpy
        used = names_in(fn) | {a.arg for a in fn.args.args}
        numpy = next(alias for alias in ("np", "_np", "numpy_") if alias not in used and alias not in modules)
        modules[numpy] = "numpy"
        imports = ((numpy, "numpy"),)
    values: dict[str, Any] = {}
    roots: dict[str, str | None] = {}
    for param, spec in zip(fn.args.args, args):
        try:
            values[param.arg] = standin(spec)
        except Unknown:
            continue
        roots[param.arg] = f"arg:{param.arg}"
    driver = _Driver(Oracle(values, modules), roots, numpy, fn)
    driver.c_arrays = frozenset(param.arg for param, spec in zip(fn.args.args, args)
                                if getattr(spec, "kind", None) == "array" and getattr(spec, "layout", None) == "C")
    if allocator is not None:
        driver.allocator = driver.names.fresh("_alloc")
    if pairwise is not None:
        driver.pairwise = driver.names.fresh("_pw")
    if vmath is not None:
        driver.vmath = driver.names.fresh("_vm")
    fn.body = driver.block(fn.body)
    if driver.allocator is not None and driver.allocated:
        imports += ((driver.allocator, allocator),)  # type: ignore[operator]
    if driver.pairwise is not None and any(f"{driver.pairwise}." in line for line in map(ast.unparse, fn.body)):
        imports += ((driver.pairwise, pairwise),)  # type: ignore[operator]
    if driver.vmath is not None and any(f"{driver.vmath}." in line for line in map(ast.unparse, fn.body)):
        imports += ((driver.vmath, vmath),)  # type: ignore[operator]
    return Rewrite(fn, tuple(driver.notes), driver.writes_arguments, imports if driver.notes else (),
                   tuple(driver.sequential), tuple(dict.fromkeys(driver.reassociations)))


def _counts(fn: ast.FunctionDef) -> tuple[dict[str, int], dict[str, int]]:
    stores: dict[str, int] = {}
    loads: dict[str, int] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name):
            table = loads if isinstance(node.ctx, ast.Load) else stores
            table[node.id] = table.get(node.id, 0) + 1
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            loads[node.target.id] = loads.get(node.target.id, 0) + 1
    for arg in fn.args.args:
        stores[arg.arg] = stores.get(arg.arg, 0) + 1
    return stores, loads


class _Driver:
    # The last statement lowered: its expression tree and shape (set by ``_lower``).
    _last_tree: ir.Expr | None
    _last_shape: tuple[int | None, ...]

    def __init__(self, oracle: Oracle, roots: dict[str, str | None], numpy: str, fn: ast.FunctionDef) -> None:
        self.oracle = oracle
        self.roots = roots
        self.numpy = numpy
        self.names = Names(n.id for n in ast.walk(fn) if isinstance(n, ast.Name))
        self.names.taken |= {a.arg for a in fn.args.args} | {fn.name}
        self.stores, self.loads = _counts(fn)
        self.params = {a.arg for a in fn.args.args}
        self.same_shape: dict[str, str] = {}
        self.notes: list[str] = []
        self.writes_arguments = False
        self._fresh = 0
        self._nest_shapes: dict[int, str] = {}  # statement value -> array whose shape its nest has
        self.allocator: str | None = None  # alias of the allocation module, when there is one
        self.allocated = False  # whether the rewritten function calls it
        self.sequential: list[str] = []  # see ``Rewrite.sequential``
        self.pairwise: str | None = None  # alias of the summation-order module, when there is one
        self.vmath: str | None = None  # alias of the vectorizable math module, when there is one
        #: Arrays known to be C-ordered: parameters the signature shows so, and locals the nests
        #: allocate (rebinding a name any other way drops it).
        self.c_arrays: frozenset[str] = frozenset()
        self._allocated_c: frozenset[str] = frozenset()
        self.reassociations: list[str] = []  # see ``Rewrite.reassociations``

    # -- blocks ------------------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        pending: dict[str, ast.Assign] = {}
        for position, stmt in enumerate(stmts):
            name = self._inline_candidate(stmt, stmts[position + 1:])
            if name is not None:
                pending[name] = stmt  # type: ignore[assignment]
                self._update(stmt)
                continue
            if isinstance(stmt, _SIMPLE):
                lines, used = self._rewrite(stmt, pending)
                for other, definition in pending.items():
                    if other not in used:
                        out += self._standalone(definition)
                out += self._parse(lines) if lines is not None else [*self._index_checks(stmt),
                                                                      self._allocations(stmt)]
                pending = {}
                self._update(stmt)
                continue
            for definition in pending.values():
                out += self._standalone(definition)
            pending = {}
            out += self._jammed(stmt) if isinstance(stmt, ast.For) else [self._compound(stmt)]
        for definition in pending.values():
            out += self._standalone(definition)
        return out

    def _jammed(self, loop: ast.For) -> list[ast.stmt]:
        """``loop`` as a jammed pass over the elements where ``jam`` allows it, guarded, with the
        loop as written (devectorized as usual) for the calls the guard sends back."""
        inside = Counter(n.id for s in loop.body for n in ast.walk(s)
                         if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
        jammed = jam(loop, self.oracle, self.names, self.numpy, lambda: self._empty() or f"{self.numpy}.empty",
                     self._emitter, lambda name: self.loads.get(name, 0) > inside[name])
        if jammed is None:
            return [self._compound(loop)]
        self.notes.append(jammed.note)
        self.sequential.append(jammed.serial)
        try:  # the loop as written now iterates over the bound sequence: same stand-in
            self.oracle.values[jammed.sequence] = self.oracle.evaluate(loop.iter)
        except Unknown:
            pass
        self.roots[jammed.sequence] = None
        loop.iter = ast.Name(jammed.sequence, ast.Load())
        as_written = self._compound(loop)
        guarded = ast.If(test=parse_expression(jammed.guard), body=self._parse(list(jammed.lines)),
                         orelse=[as_written])
        return [*self._parse([jammed.bind]), guarded]

    def _compound(self, stmt: ast.stmt) -> ast.stmt:
        if isinstance(stmt, (ast.For, ast.While)):
            # The body runs many times: types and views at its start are those before the loop
            # merged with those after one iteration (a name whose kind changes is forgotten).
            before_values, before_roots = dict(self.oracle.values), dict(self.roots)
            self._bind_loop_target(stmt)
            probe = _Driver.__new__(_Driver)
            probe.__dict__.update(self.__dict__)
            probe.oracle, probe.roots = self.oracle.copy(), dict(self.roots)
            probe.notes, probe.names = [], Names(self.names.taken)
            probe.reassociations = []
            probe.block(copy.deepcopy(stmt.body))
            self._merge(before_values, before_roots, probe.oracle.values, probe.roots)
            self._bind_loop_target(stmt)
            stmt.body = self.block(stmt.body)
            self._merge(before_values, before_roots, self.oracle.values, self.roots)
            stmt.orelse = self.block(stmt.orelse)
            return stmt
        if isinstance(stmt, ast.If):
            before_values, before_roots = dict(self.oracle.values), dict(self.roots)
            stmt.body = self.block(stmt.body)
            after_values, after_roots = dict(self.oracle.values), dict(self.roots)
            self.oracle.values, self.roots = dict(before_values), dict(before_roots)
            stmt.orelse = self.block(stmt.orelse)
            self._merge(after_values, after_roots, self.oracle.values, self.roots)
            return stmt
        for node in ast.walk(stmt):  # with, try, nested defs: left alone, their names forgotten
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                self._forget(node.id)
        return stmt

    def _merge(self, values_a: dict[str, Any], roots_a: dict[str, str | None],
               values_b: dict[str, Any], roots_b: dict[str, str | None]) -> None:
        merged = {}
        for name in values_a.keys() & values_b.keys():
            a, b = values_a[name], values_b[name]
            if type(a) is type(b) and np.ndim(a) == np.ndim(b) and getattr(a, "dtype", None) == getattr(b, "dtype", None):
                merged[name] = b
        self.oracle.values = merged
        self.roots = {n: (roots_a.get(n) if roots_a.get(n) == roots_b.get(n) else None)
                      for n in roots_a.keys() | roots_b.keys()}

    def _bind_loop_target(self, stmt: ast.For | ast.While) -> None:
        if not isinstance(stmt, ast.For):
            return
        for node in ast.walk(stmt.target):
            if isinstance(node, ast.Name):
                self._forget(node.id)
        if isinstance(stmt.target, ast.Name):
            try:
                iterable = self.oracle.evaluate(stmt.iter)
                self.oracle.values[stmt.target.id] = next(iter(iterable))
                self.roots[stmt.target.id] = None
            except (Unknown, StopIteration, TypeError):
                pass

    # -- state -------------------------------------------------------------------------------
    def _forget(self, name: str) -> None:
        self.oracle.values.pop(name, None)
        self.roots[name] = None
        self._rebind_shape(name, None)

    def _rebind_shape(self, name: str, source: str | None) -> None:
        self.same_shape = {k: v for k, v in self.same_shape.items() if name not in (k, v)}
        if source is not None and source != name:
            self.same_shape[name] = self.same_shape.get(source, source)

    def _shape_source(self, value: ast.expr) -> str | None:
        """The array whose shape ``value`` certainly has (``u.copy()``, ``np.zeros_like(u)``)."""
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
            func = value.func
            if func.attr in ("copy", "astype") and isinstance(func.value, ast.Name):
                return func.value.id if is_array(self.oracle.values.get(func.value.id)) else None
            if (isinstance(func.value, ast.Name) and self.oracle.is_numpy(func.value.id)
                    and func.attr in ("copy", "empty_like", "zeros_like", "ones_like", "full_like")
                    and value.args and isinstance(value.args[0], ast.Name)
                    and not any(k.arg == "shape" for k in value.keywords)):
                return value.args[0].id if is_array(self.oracle.values.get(value.args[0].id)) else None
        return self._nest_shapes.pop(id(value), None)

    def _update(self, stmt: ast.stmt) -> None:
        """Record what ``stmt`` binds, on the stand-ins."""
        assigned = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        self.c_arrays = self.c_arrays - (assigned - self._allocated_c)
        self._allocated_c = frozenset()
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            self._rebind_shape(name, self._shape_source(stmt.value))
            try:
                self.oracle.values[name] = self.oracle.evaluate(stmt.value)
            except Unknown:
                self.oracle.values.pop(name, None)
            self.roots[name] = self._root(stmt.value)
            return
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Tuple)
                and all(isinstance(e, ast.Name) for e in stmt.targets[0].elts)):
            # ``nx, ny, nz = u.shape``: the sizes stay known, so slices bounded by them lower.
            names = [e.id for e in stmt.targets[0].elts]  # type: ignore[attr-defined]
            try:
                values = tuple(self.oracle.evaluate(stmt.value))
            except (Unknown, TypeError):
                values = ()
            for name in names:
                self._forget(name)
            if len(values) == len(names) and len(set(names)) == len(names):
                self.oracle.values.update({n: v for n, v in zip(names, values) if not is_array(v)})
            return
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            if not is_array(self.oracle.values.get(name)):
                try:
                    self.oracle.values[name] = self.oracle.evaluate(ast.BinOp(stmt.target, stmt.op, stmt.value))
                except Unknown:
                    self._forget(name)
            return
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                if not isinstance(stmt, ast.Assign) or node not in stmt.targets:
                    self._forget(node.id)
                elif isinstance(node, ast.Name):
                    self._forget(node.id)

    def _root(self, node: ast.expr) -> str | None:
        """Which memory the value of ``node`` views: an argument's, a fresh allocation's, or None."""
        if isinstance(node, ast.Name):
            return self.roots.get(node.id)
        if isinstance(node, ast.Subscript):
            return self._root(node.value)
        if isinstance(node, ast.Attribute) and node.attr in _VIEWS:
            return self._root(node.value)
        if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare)):
            return self._new_root()
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                if isinstance(func.value, ast.Name) and self.oracle.is_numpy(func.value.id):
                    if func.attr in _VIEWS:
                        return self._root(node.args[0]) if node.args else None
                    if func.attr in _FRESH:
                        return self._new_root()
                    return None
                if func.attr in _VIEWS:
                    return self._root(func.value)
                if func.attr in ("copy", "astype", "sum", "mean", "max", "min", "prod"):
                    return self._new_root()
        return None

    def _new_root(self) -> str:
        self._fresh += 1
        return f"new:{self._fresh}"

    # -- cross-statement fusion ----------------------------------------------------------------
    def _inline_candidate(self, stmt: ast.stmt, rest: list[ast.stmt]) -> str | None:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            return None
        name = stmt.targets[0].id
        if name in self.params or self.stores.get(name) != 1 or self.loads.get(name) != 1:
            return None
        for later in rest:
            mentions = any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(later))
            if mentions:
                if not isinstance(later, _SIMPLE):
                    return None
                break
            if not self._inline_candidate_shape(later):
                return None  # only other such definitions may stand in between
        else:
            return None
        try:
            if not is_array(self.oracle.evaluate(stmt.value)):
                return None
            # On a copy of the stand-ins: a product would bind a local of its own in them.
            Builder(self.oracle.copy(), fresh=lambda stem: f"{stem}_probe").build_operand(stmt.value)
        except (Unsupported, Unknown):
            return None
        return name

    def _inline_candidate_shape(self, stmt: ast.stmt) -> bool:
        return (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and self.stores.get(stmt.targets[0].id) == 1 and self.loads.get(stmt.targets[0].id) == 1)

    def _standalone(self, stmt: ast.Assign) -> list[ast.stmt]:
        lines, _ = self._rewrite(stmt, {})
        return self._parse(lines) if lines is not None else [self._allocations(stmt)]

    # -- allocation ----------------------------------------------------------------------------
    def _empty(self) -> str | None:
        if self.allocator is None:
            return None
        self.allocated = True
        return f"{self.allocator}.empty"

    def _index_checks(self, stmt: ast.stmt) -> list[ast.stmt]:
        """NumPy's IndexError for an integer index out of range, ahead of a statement left as NumPy
        code: Numba checks no bounds, so ``a[:, :, k] = ...`` with ``k`` past the axis wrote outside
        ``a`` (a heap corruption where NumPy raises). Only subscripts of known arrays whose index
        parts are all slices and integer names or constants: their axes are the parts' positions.
        """
        if any(isinstance(n, _CONDITIONAL_OR_SCOPED) for n in ast.walk(stmt)):
            return []  # a subscript that may not run, or whose index is not the statement's name
        if isinstance(stmt, ast.Assign) and (len(stmt.targets) > 1
                                             or isinstance(stmt.targets[0], (ast.Tuple, ast.List))):
            return []  # ``k, a[k] = ...`` indexes with the k it has just bound
        checks: list[str] = []
        for node in ast.walk(stmt):
            if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                    and is_array(self.oracle.values.get(node.value.id))):
                continue
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if len(parts) > self.oracle.values[node.value.id].ndim or not all(
                    isinstance(p, ast.Slice) or self._integer(p) for p in parts):
                continue
            for axis, part in enumerate(parts):
                if not isinstance(part, ast.Slice):
                    checks.append("\n".join(bound_check(ast.unparse(part), f"{node.value.id}.shape[{axis}]")))
        return self._parse(list(dict.fromkeys(checks)))

    def _integer(self, node: ast.expr) -> bool:
        """An integer constant or a name holding an integer scalar (a bound the check can read)."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            node = node.operand
        if isinstance(node, ast.Constant):
            return type(node.value) is int
        value = self.oracle.values.get(node.id) if isinstance(node, ast.Name) else None
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))

    def _allocations(self, stmt: ast.stmt) -> ast.stmt:
        """``stmt`` with ``x.copy()``, ``np.empty_like(x)`` and ``np.zeros_like(x)`` of arrays ``x``
        calling the allocator; the values are NumPy's, only the memory they live in differs."""
        if self.allocator is None:
            return stmt
        stmt = copy.deepcopy(stmt)  # the original stays for the oracle, which knows NumPy only
        for node in ast.walk(stmt):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.keywords):
                continue
            func = node.func
            if func.attr == "copy" and not node.args and self._known_array(func.value):
                node.args, node.func = [func.value], ast.Attribute(ast.Name(self.allocator, ast.Load()), "copy",
                                                                   ast.Load())
            elif (func.attr in ("empty_like", "zeros_like") and isinstance(func.value, ast.Name)
                  and self.oracle.is_numpy(func.value.id) and len(node.args) == 1
                  and self._known_array(node.args[0])):
                func.value = ast.Name(self.allocator, ast.Load())
            else:
                continue
            self.allocated = True
        return stmt

    def _known_array(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and is_array(self.oracle.values.get(node.id))

    def _emitter(self, builder: Builder) -> Emitter:
        return Emitter(builder, self.names, self.numpy, self._empty(), self.pairwise, self.c_arrays, self.vmath)

    # -- one statement -------------------------------------------------------------------------
    def _rewrite(self, stmt: ast.stmt, pending: Mapping[str, ast.Assign]) -> tuple[list[str] | None, set[str]]:
        inline = {name: definition.value for name, definition in pending.items()}
        noted, reassociated = len(self.notes), len(self.reassociations)
        while True:
            del self.notes[noted:]
            del self.reassociations[reassociated:]
            try:
                lines, builder = self._lower(stmt, inline)
            except Unsupported as exc:
                log.debug("kept %s: %s", ast.unparse(stmt), exc)
                del self.reassociations[reassociated:]
                return None, set()
            if lines is None:
                del self.reassociations[reassociated:]
                return None, set()
            used = set(builder.inlined)
            wasteful = self._wasteful(builder)
            if not wasteful:
                return lines, used
            for name in wasteful:
                inline.pop(name)

    def _wasteful(self, builder: Builder) -> set[str]:
        """Inlined definitions the nest would recompute inside loops they do not depend on."""
        bad = set()
        for name, sub in builder.inlined.items():
            sub = builder.resolve(sub)
            if not _covers(self._last_tree, sub, frozenset(a for a in self._last_shape if a is not None)):
                bad.add(name)
        return bad

    def _lower(self, stmt: ast.stmt, inline: dict[str, ast.expr]) -> tuple[list[str] | None, Builder]:
        builder = Builder(self.oracle, inline, self.same_shape, self.names.fresh)
        emitter = self._emitter(builder)
        self._last_tree, self._last_shape = None, ()
        if isinstance(stmt, ast.Return) and stmt.value is not None:
            if isinstance(stmt.value, ast.Tuple):
                return self._return_tuple(stmt.value, builder, emitter), builder
            return self._expression(stmt.value, builder, emitter, "return {}"), builder
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                return self._expression(stmt.value, builder, emitter, f"{target.id} = {{}}", target.id), builder
            if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                return self._region(target, stmt.value, builder, emitter), builder
        if isinstance(stmt, ast.AugAssign):
            target = stmt.target
            if isinstance(target, ast.Name) and not is_array(self.oracle.values.get(target.id)):
                op = ast.unparse(ast.BinOp(ast.Name("a"), stmt.op, ast.Name("b"))).split()[1]
                return self._expression(stmt.value, builder, emitter, f"{target.id} {op}= {{}}", scalar_only=True), builder
            if isinstance(target, (ast.Name, ast.Subscript)):
                base = target if isinstance(target, ast.Name) else target.value
                if not isinstance(base, ast.Name):
                    return None, builder
                load = copy.deepcopy(target)
                for node in ast.walk(load):
                    if hasattr(node, "ctx"):
                        node.ctx = ast.Load()
                combined = ast.BinOp(load, stmt.op, stmt.value)
                array = self.oracle.values.get(base.id)
                try:
                    result = self.oracle.evaluate(combined)
                except Unknown:
                    return None, builder
                if not is_array(array) or not np.can_cast(np.result_type(result), array.dtype, "same_kind"):  # type: ignore[union-attr]
                    return None, builder  # NumPy raises (or keeps a scalar); leave it to NumPy
                store = target if isinstance(target, ast.Subscript) else ast.Subscript(base, ast.Tuple([], ast.Load()))
                return self._region(store, combined, builder, emitter), builder
        return None, builder

    def _sequence(self, value: ast.expr) -> tuple[str, ast.expr, bool, str, int | None] | None:
        """(kind, operand, reversed, shift, axis) of ``np.cumsum(E)``, ``E.cumprod()``,
        ``np.cumsum(E[::-1])[::-1]``, ``np.nonzero(E)[0]``, ``np.where(E)[0]`` and
        ``np.flatnonzero(E)`` of 1-d ``E``, and of ``np.cumsum(E, axis=k)`` of any ``E``; the
        indices may be shifted by an integer (``np.nonzero(E)[0] + 1``, which peak finding on
        ``a[1:-1]`` needs); else None."""
        if isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Sub)):
            found = self._sequence(value.left)
            if found is None or found[0] != "nonzero" or found[3] != "0":
                return None
            try:
                shift = self.oracle.evaluate(value.right)
            except Unknown:
                return None
            if not isinstance(shift, (int, np.integer)) or isinstance(shift, (bool, np.bool_)) or any(
                    isinstance(n, ast.Name) and n.id not in self.params and not self.oracle.is_numpy(n.id)
                    for n in ast.walk(value.right)):
                return None  # an integer from parameters and constants only: it reads no array
            sign = "+" if isinstance(value.op, ast.Add) else "-"
            return found[0], found[1], False, f"{sign} ({ast.unparse(value.right)})", None
        plain = self._plain_sequence(value)
        return None if plain is None else (plain[0], plain[1], plain[2], "0", plain[3])

    def _plain_sequence(self, value: ast.expr) -> tuple[str, ast.expr, bool, int | None] | None:
        reverse = False
        axis: int | None = None
        if isinstance(value, ast.Call) and len(value.keywords) == 1 and value.keywords[0].arg == "axis":
            option = value.keywords[0].value
            value = ast.Call(value.func, value.args, [])
        elif (isinstance(value, ast.Call) and not value.keywords and self._numpy_call(value) in ("cumsum", "cumprod")
              and len(value.args) == 2):
            option, value = value.args[1], ast.Call(value.func, value.args[:1], [])
        elif (isinstance(value, ast.Call) and not value.keywords and isinstance(value.func, ast.Attribute)
              and value.func.attr in ("cumsum", "cumprod") and len(value.args) == 1
              and self._numpy_call(value) is None):
            option, value = value.args[0], ast.Call(value.func, [], [])
        else:
            option = None
        if option is not None:
            try:
                axis = ast.literal_eval(option)
            except ValueError:
                return None
            if not isinstance(axis, int) or isinstance(axis, bool):
                return None
        if isinstance(value, ast.Subscript) and _reversal(value.slice):
            reverse, value = True, value.value
        if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Constant) and value.slice.value == 0 \
                and not reverse and isinstance(value.value, ast.Call):
            call = value.value
            kind = self._numpy_call(call)
            if kind in ("nonzero", "where") and len(call.args) == 1 and not call.keywords:
                return "nonzero", call.args[0], False, None
            return None
        if not isinstance(value, ast.Call) or value.keywords:
            return None
        kind = self._numpy_call(value)
        if kind in _SEQUENCES and len(value.args) == 1:
            operand = value.args[0]
        elif (kind is None and isinstance(value.func, ast.Attribute) and value.func.attr in ("cumsum", "cumprod")
              and not value.args):
            kind, operand = value.func.attr, value.func.value
        else:
            return None
        if kind == "nonzero":
            return None  # a tuple of index arrays: only its first item is a 1-d result
        if kind == "flatnonzero":
            kind = "nonzero"
        if axis is not None and kind == "nonzero":
            return None
        if reverse:
            if kind == "nonzero" or not (isinstance(operand, ast.Subscript) and _reversal(operand.slice)):
                return None
            operand = operand.value
        return kind, operand, reverse, axis

    def _numpy_call(self, call: ast.Call) -> str | None:
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and self.oracle.is_numpy(func.value.id):
            return func.attr
        return None

    def _scan(self, value: ast.expr, builder: Builder, emitter: Emitter, template: str,
              name: str | None) -> list[str] | None:
        """A running sum or product, or the nonzero indices, of a 1-d element-wise expression."""
        kind, operand, reverse, shift, along = self._sequence(value)  # type: ignore[misc]
        try:
            result = self.oracle.evaluate(value)
        except Unknown:
            raise Unsupported(f"{ast.unparse(value)} cannot be evaluated on stand-ins") from None
        built = builder.build(operand)
        if along is not None and len(built.shape) > 1:
            return self._scan_along(value, kind, built, along, result, builder, emitter, template, name)
        if len(built.shape) != 1 or built.shape[0] is None or not is_array(result) or result.ndim != 1:
            raise Unsupported("running sums and nonzero indices of 1-d operands only")
        if kind != "nonzero" and (result.dtype == np.float16 or result.dtype.kind not in "biufc"):
            raise Unsupported(f"{kind} of {result.dtype}")
        expr, (axis,) = builder.resolve(built.expr), builder.resolve_shape(built.shape)
        out = self.names.fresh("out")
        if shift != "0" and result.dtype != np.intp:
            raise Unsupported("nonzero indices shifted into another dtype")
        emitter.sequence(kind, expr, axis, out, result.dtype, reverse, shift)  # type: ignore[arg-type]
        emitter.lines.append(template.format(out))
        self._last_tree, self._last_shape = expr, (axis,)
        if name is not None and kind != "nonzero":
            self.c_arrays = self.c_arrays | {name}
            self._allocated_c = self._allocated_c | {name}
        self.notes.append(f"{template.format(ast.unparse(value))}: 1-d {kind} loop")
        self.sequential += emitter.sequential
        return self._with_calls(builder, rename_loops(emitter.lines, self.names))

    def _scan_along(self, value: ast.expr, kind: str, built: Built, along: int, result: Any, builder: Builder,
                    emitter: Emitter, template: str, name: str | None) -> list[str] | None:
        """``np.cumsum(E, axis=k)`` of an n-d element-wise ``E``: one nest in C order."""
        rank = len(built.shape)
        if (None in built.shape or not -rank <= along < rank or not is_array(result) or result.ndim != rank
                or result.dtype == np.float16 or result.dtype.kind not in "biufc"):
            raise Unsupported(f"{kind} along an axis of this operand")
        expr, shape = builder.resolve(built.expr), builder.resolve_shape(built.shape)
        out = self.names.fresh("out")
        emitter.scan_along(kind, expr, shape, along % rank, out, result.dtype)
        emitter.lines.append(template.format(out))
        self._last_tree, self._last_shape = expr, shape
        if name is not None:
            self.c_arrays = self.c_arrays | {name}
            self._allocated_c = self._allocated_c | {name}
        self.notes.append(f"{template.format(ast.unparse(value))}: {rank}-d {kind} nest")
        self.sequential += emitter.sequential
        return self._with_calls(builder, rename_loops(emitter.lines, self.names))

    def _expression(self, value: ast.expr, builder: Builder, emitter: Emitter, template: str,
                    name: str | None = None, scalar_only: bool = False) -> list[str] | None:
        if not scalar_only and self._sequence(value) is not None:
            return self._scan(value, builder, emitter, template, name)
        built = builder.build(value)
        expr, shape = builder.resolve(built.expr), builder.resolve_shape(built.shape)
        if not _worthwhile(expr) or (scalar_only and shape):
            return None
        self._last_tree, self._last_shape = expr, shape
        sources = [builder.extents(a) if a is not None else ["1"] for a in shape]
        first = sources[0][0].split(".shape[")[0] if sources and len(sources[0]) == 1 else None
        if first and all(len(e) == 1 and e[0] == f"{first}.shape[{k}]" for k, e in enumerate(sources)):
            self._nest_shapes[id(value)] = first
        if not shape:
            emitter.emit(expr, shape, ScalarStore(template))
        else:
            reads_old = name is not None and any(r.name == name for r in ir.reads(expr))
            out = name if name is not None and not reads_old else self.names.fresh("out")
            emitter.emit(expr, shape, NewArray(out, expr.dtype))
            if out != name:
                emitter.lines.append(template.format(out))
            if name is not None:
                self.c_arrays = self.c_arrays | {name}
                self._allocated_c = self._allocated_c | {name}
        self.notes.append(f"{template.format(ast.unparse(value))}: {len(shape)}-d loop nest")
        self.sequential += emitter.sequential
        self.reassociations += [f"{template.format(ast.unparse(value))}: {r}" for r in emitter.reassociations]
        return self._with_calls(builder, rename_loops(emitter.lines, self.names))

    def _with_calls(self, builder: Builder, lines: list[str]) -> list[str]:
        """``lines`` after the slice bounds the builder placed and the matrix products it left as
        calls (computed first, as NumPy does)."""
        return ([f"{name} = {text}" for name, text in builder.bounds.items()]
                + [f"{name} = {ast.unparse(call)}" for name, call in builder.calls] + lines)

    def _return_tuple(self, value: ast.Tuple, builder: Builder, emitter: Emitter) -> list[str] | None:
        parts: list[str] = []
        for item in value.elts:
            tmp = self.names.fresh("out")
            sub = Builder(self.oracle, None, self.same_shape, self.names.fresh)
            try:
                lines = self._expression(item, sub, self._emitter(sub), f"{tmp} = {{}}", tmp)
            except Unsupported:
                lines = None
            if lines is None:
                parts.append(ast.unparse(item))
            else:
                emitter.lines += lines
                parts.append(tmp)
        if not emitter.lines:
            return None
        self._last_tree = None
        emitter.lines.append(f"return ({', '.join(parts)},)")
        return emitter.lines

    def _region(self, target: ast.Subscript, value: ast.expr, builder: Builder, emitter: Emitter) -> list[str] | None:
        base = target.value
        assert isinstance(base, ast.Name)
        index = target.slice.elts if isinstance(target.slice, ast.Tuple) else [target.slice]
        region = builder.read(base.id, list(index))
        if any(a is None for a in region.shape):
            return None
        assert isinstance(region.expr, ir.Read)
        for item in region.expr.index:
            if isinstance(item, ir.AxisIndex):
                builder.authoritative[item.axis] = item.extent
        built = builder.build(value)
        for name, _ in builder.calls:
            self.roots[name] = self._new_root()  # a product's result is fresh memory
        if len(built.shape) > len(region.shape):
            return None  # NumPy raises: the value has more dimensions than the target
        for position, axis in enumerate(built.shape):
            if axis is not None:
                builder.unify(region.shape[len(region.shape) - len(built.shape) + position], axis)  # type: ignore[arg-type]
        builder.distinct(region.shape)
        expr = builder.resolve(built.expr)
        write = builder.resolve(region.expr)
        shape = builder.resolve_shape(region.shape)
        assert isinstance(write, ir.Read)
        if not _worthwhile(expr) and not shape:
            return None
        self._last_tree, self._last_shape = expr, shape
        target_root = self.roots.get(base.id)
        if target_root is not None and target_root.startswith("arg:"):
            self.writes_arguments = True
        if self._overlaps(write, expr, target_root):
            # NumPy evaluates the whole right-hand side before writing: so do we, into a temporary.
            tmp = self.names.fresh("tmp")
            emitter.emit(expr, shape, NewArray(tmp, expr.dtype))
            copy_back = ir.Read(expr.dtype, name=tmp, index=tuple(ir.AxisIndex(a) for a in shape if a is not None))
            emitter.emit(copy_back, shape, Region(write))
            how = "via a temporary (it reads what it overwrites)"
        else:
            emitter.emit(expr, shape, Region(write))
            how = "in place"
        self.notes.append(f"{ast.unparse(target)} = {ast.unparse(value)}: {len(shape)}-d loop nest, {how}")
        self.sequential += emitter.sequential
        self.reassociations += [f"{ast.unparse(target)} = {ast.unparse(value)}: {r}" for r in emitter.reassociations]
        return self._with_calls(builder, rename_loops(emitter.lines, self.names))

    def _overlaps(self, write: ir.Read, expr: ir.Expr, target_root: str | None) -> bool:
        for read in _reads_after_writes(expr, write):
            root = self.roots.get(read.name)
            if target_root is None or root is None or root == target_root:
                return True
        return False

    def _parse(self, lines: list[str]) -> list[ast.stmt]:
        return parse_statements("\n".join(lines))


#: Where a subscript in a statement may not run (``a[k] if ok else 0``) or its index names another
#: scope's variable: its bounds are not checked ahead of the statement.
_CONDITIONAL_OR_SCOPED = (ast.IfExp, ast.BoolOp, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                          ast.GeneratorExp, ast.NamedExpr)


def _reads_after_writes(expr: ir.Expr, write: ir.Read, reduction: ir.Reduce | None = None) -> list[ir.Read]:
    """The reads of ``expr`` that may run after the nest wrote the memory they read, all but:

    * ``write`` itself: each element is read, then written, by the same iteration only;
    * reads of the written array inside a reduction (``x /= x.sum(axis=1, keepdims=True)``) that
      index it as the write does on every axis the reduction's value depends on (its row). The
      emitter computes a reduction either ahead of the whole nest, or inside the loops over those
      axes and ahead of the loops inside them, so it has read the whole row before the nest
      writes any of it; earlier iterations wrote other rows.
    """
    if isinstance(expr, ir.Read):
        return [] if expr == write or (reduction is not None and _in_current_row(expr, write, reduction)) else [expr]
    if isinstance(expr, ir.Reduce) and reduction is None:
        reduction = expr  # the outermost one: the emitter places its inner ones within it
    return [read for child in ir.children(expr) for read in _reads_after_writes(child, write, reduction)]


def _in_current_row(read: ir.Read, write: ir.Read, reduction: ir.Reduce) -> bool:
    """``read`` of the written array, inside ``reduction``, reads only the elements the write
    stores in iterations with the reduction's current free-axis values."""
    if read.name != write.name or len(read.index) != len(write.index):
        return False
    if not all(isinstance(i, ir.AxisIndex) and i.broadcast is None for i in write.index):
        return False  # a fixed or broadcast write index: not one element per iteration of its loops
    free = ir.free_axes(reduction)
    written = {i.axis for i in write.index if isinstance(i, ir.AxisIndex)}
    if not free <= written:
        return False
    return all(mine == theirs for mine, theirs in zip(read.index, write.index)
               if isinstance(theirs, ir.AxisIndex) and theirs.axis in free)


def _reversal(index: ast.expr) -> bool:
    """``[::-1]``."""
    return (isinstance(index, ast.Slice) and index.lower is None and index.upper is None
            and isinstance(index.step, ast.UnaryOp) and isinstance(index.step.op, ast.USub)
            and isinstance(index.step.operand, ast.Constant) and index.step.operand.value == 1)


def _worthwhile(expr: ir.Expr) -> bool:
    """Computes on array data element by element (a bare read is a copy: nothing to fuse)."""
    return not isinstance(expr, ir.Read) and any(isinstance(i, ir.AxisIndex) for r in ir.reads(expr) for i in r.index)


def _covers(tree: ir.Expr | None, sub: ir.Expr, enclosing: frozenset[int]) -> bool:
    """Every occurrence of ``sub`` in ``tree`` sits in loops over exactly the axes it uses."""
    if tree is None:
        return True
    if tree == sub:
        return ir.free_axes(sub) == enclosing
    inner = enclosing | frozenset(tree.axes) if isinstance(tree, ir.Reduce) else enclosing
    return all(_covers(child, sub, inner) for child in ir.children(tree))
