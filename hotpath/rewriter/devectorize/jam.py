"""A loop over a sequence whose body updates arrays element-wise, jammed into one pass.

    for c in coeffs:               # Horner's rule; an explicit Euler time loop; a fixed-point map
        result = result * x + c

NumPy runs the body once per item, each time a pass over whole arrays into a fresh temporary,
and the devectorized body would still make one pass per item. When every statement of the body
rebinds an array name to an element-wise expression of arrays of one shape (no reduction, no
shifted slice, no broadcasting), element ``i`` of every result depends only on element ``i`` of
the operands, so the two loops can be interchanged: one pass over the elements, a block of them
at a time carried through the whole sequence in a small buffer that stays in L1, the loop over
the block innermost, where LLVM vectorizes it (``vmath`` too)::

    for blk in range((n + 255) // 256):
        base = max(blk * 256, 0)
        m = min(256, n - base)
        for j in range(m):
            buf[j] = result[base + j]
        for c in seq:
            for j in range(m):
                r = buf[j]
                r = r * x[base + j] + c
                buf[j] = r
        for j in range(m):
            out[base + j] = buf[j]
    result = out

A scalar pass (the sequence loop innermost, one element at a time) ran Horner's rule of degree
12 at 3M points 2.8x faster than NumPy; the blocked one 10x (both while other work ran).

Every element goes through the same operations in the same order with the same dtypes (the
emitter's element rules: NumPy's casts, its division and power semantics), so the results are
bit-identical to NumPy's. What is only known at run time is checked there: the jammed pass runs
when the sequence and the arrays are non-empty and every array has the carried arrays' shape;
any other call runs the loop as written (devectorized statement by statement), so an empty
sequence leaves the names bound to the arrays they were, and broadcasting and its errors stay
NumPy's. The iterable is evaluated once, before either path, as Python evaluates it.

A name the body assigns before reading it is a temporary, kept in a local per element. Refused
(the loop stays as written): a body with anything but ``name = expression``; a loop variable
or a temporary read outside the loop (the jammed pass binds them per element); a ``range``
item read into narrow or unsigned integers (NumPy raises on a Python int they cannot hold); a
sequence other than ``range(...)`` or a 1-d array; a name whose dtype or rank the body changes;
a scalar temporary; an expression that reduces, indexes with an offset or a fixed index,
transposes or broadcasts.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hotpath.rewriter.devectorize import ir
from hotpath.rewriter.devectorize.build import Builder, Unsupported
from hotpath.rewriter.devectorize.emit import Emitter, Names
from hotpath.rewriter.devectorize.oracle import Oracle, Unknown, is_array
from hotpath.syntax import names_in, parse_statements


#: Elements carried through the sequence together: their values stay in L1 (a few KB), and the
#: loop over them is the innermost one, which LLVM vectorizes.
BLOCK = 256


@dataclass(frozen=True)
class Jammed:
    """The jammed pass for one loop: bind ``sequence`` to the iterable (``bind``), then run
    ``lines`` when ``guard`` holds, else the loop as written over ``sequence``."""

    sequence: str
    bind: str
    guard: str
    lines: tuple[str, ...]
    note: str
    #: The pass's outermost loop variable: the pass stays serial (its blocks share buffers, and
    #: a parallel loop per block of 256 elements would cost more than the block's work).
    serial: str


def jam(loop: ast.For, oracle: Oracle, names: Names, numpy: str, empty: Callable[[], str],
        emitter: Callable[[Builder], Emitter], read_outside: Callable[[str], bool]) -> Jammed | None:
    """The jammed pass for ``loop``, or ``None`` where the rules above refuse it.

    ``oracle`` holds the stand-ins before the loop (it is not changed); ``read_outside`` says
    whether a name is read anywhere outside the loop's body; ``empty`` names the allocation
    function (called only when the pass allocates); ``emitter`` makes the element renderer for a
    statement's builder."""
    if loop.orelse or not isinstance(loop.target, ast.Name) or not loop.body:
        return None
    if not all(isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)
               for s in loop.body):
        return None
    target = loop.target.id
    body: list[ast.Assign] = loop.body  # type: ignore[assignment]
    carried, temporary = _roles(body)
    if target in carried or target in temporary or read_outside(target) or any(map(read_outside, temporary)):
        return None
    before = {name: oracle.values.get(name) for name in carried}
    if not carried or not all(_carriable(v) for v in before.values()):
        return None
    ndim = before[carried[0]].ndim  # type: ignore[union-attr]
    if any(v.ndim != ndim for v in before.values()):  # type: ignore[union-attr]
        return None
    state = oracle.copy()
    first = _first_item(loop.iter, state)
    if first is None or names_in(loop.iter) & {*carried, *temporary}:
        return None
    state.values[target] = first
    for name in temporary:
        state.values.pop(name, None)  # read before assigned would be a test bug; never the old value
    lowered: list[tuple[str, ir.Expr, tuple[int, ...], Builder]] = []
    read: set[str] = set()
    try:
        for statement in body:
            name = statement.targets[0].id  # type: ignore[attr-defined]
            builder = Builder(state, {}, {}, names.fresh)
            built = builder.build(statement.value)
            expr, shape = builder.resolve(built.expr), builder.resolve_shape(built.shape)
            if builder.calls or builder.bounds or builder.equal_lengths or None in shape or len(shape) != ndim:
                return None
            for access in ir.reads(expr):
                if not _plain(access, shape):  # type: ignore[arg-type]
                    return None
                read.add(access.name)
            value = state.evaluate(statement.value)
            if not is_array(value) or value.ndim != ndim:
                return None
            if name in before and value.dtype != before[name].dtype:  # type: ignore[union-attr]
                return None
            if isinstance(first, int) and target in names_in(statement.value) and _narrow_integer(value.dtype):
                return None  # NumPy raises OverflowError for a Python int it cannot hold; no wrap
            state.values[name] = value
            lowered.append((name, expr, shape, builder))  # type: ignore[arg-type]
    except (Unsupported, Unknown):
        return None
    return _render(loop, target, carried, temporary, before, lowered, read - set(temporary), names, numpy,
                   empty, emitter)


def _roles(body: list[ast.Assign]) -> tuple[list[str], list[str]]:
    """The names the body assigns: carried from one item to the next (read before the body
    assigns them), and temporary (assigned first, then read)."""
    assigned: set[str] = set()
    carried: dict[str, None] = {}
    for statement in body:
        carried.update((n, None) for n in names_in(statement.value) if n not in assigned)
        assigned.add(statement.targets[0].id)  # type: ignore[attr-defined]
    carried = {n: None for n in carried if n in assigned}
    order = list(dict.fromkeys(s.targets[0].id for s in body))  # type: ignore[attr-defined]
    return [n for n in order if n in carried], [n for n in order if n not in carried]


def _render(loop: ast.For, target: str, carried: list[str], temporary: list[str], before: dict[str, object],
            lowered: list[tuple[str, ir.Expr, tuple[int, ...], Builder]], read: set[str], names: Names,
            numpy: str, empty: Callable[[], str], emitter: Callable[[Builder], Emitter]) -> Jammed | None:
    ndim = len(lowered[0][2])
    sequence = names.fresh("seq")
    outer_vars = [names.fresh("i") for _ in range(ndim - 1)]
    block, base, count, j = names.fresh("blk"), names.fresh("base"), names.fresh("m"), names.fresh("j")
    local = {name: names.fresh("r") for name in [*carried, *temporary]}
    buffer = {name: names.fresh("buf") for name in carried}
    out = {name: names.fresh("out") for name in carried}
    inside: set[str] = {target, *carried, *temporary, *local.values()}
    outer_lines: list[str] = []
    step_lines: list[str] = []
    element_lines: list[str] = []
    try:
        for name, expr, shape, builder in lowered:
            index_of = dict(zip(shape, [*outer_vars, f"{base} + {j}"]))
            hoisted, text = emitter(builder).element(_locals(expr, local), index_of)
            for line in hoisted:  # invariants: before the pass, unless they read the loop's own names
                (step_lines if names_in(parse_statements(line)[0]) & inside else outer_lines).append(line)
            element_lines.append(f"{local[name]} = {text}")
    except Unsupported:
        return None
    shape_of = carried[0]
    arrays = sorted((read | set(carried)) - {shape_of})
    guard = " and ".join([f"len({sequence}) > 0", f"{shape_of}.size > 0",
                          *(f"{a}.shape == {shape_of}.shape" for a in arrays)])
    extents = [f"{shape_of}.shape[{k}]" for k in range(ndim)]
    dims = ", ".join(extents) + ("," if ndim == 1 else "")
    allocate = empty()
    dtype = {name: f"{numpy}.{before[name].dtype.name}" for name in carried}  # type: ignore[attr-defined]
    lines = [f"{out[name]} = {allocate}(({dims}), {dtype[name]})" for name in carried]
    lines += [f"{buffer[name]} = {numpy}.empty(({BLOCK},), {dtype[name]})" for name in carried]
    lines += outer_lines
    for level, (var, extent) in enumerate(zip(outer_vars, extents)):
        lines.append("    " * level + f"for {var} in range({extent}):")
    at = ", ".join([*outer_vars, f"{base} + {j}"])
    pad = "    " * (ndim - 1)
    lines += [f"{pad}for {block} in range(({extents[-1]} + {BLOCK - 1}) // {BLOCK}):",
              f"{pad}    {base} = max({block} * {BLOCK}, 0)",  # provably >= 0: no wraparound index code
              f"{pad}    {count} = min({BLOCK}, {extents[-1]} - {base})",
              f"{pad}    for {j} in range({count}):"]
    lines += [f"{pad}        {buffer[name]}[{j}] = {name}[{at}]" for name in carried]
    lines.append(f"{pad}    for {target} in {sequence}:")
    lines += [f"{pad}        {line}" for line in step_lines]
    lines.append(f"{pad}        for {j} in range({count}):")
    lines += [f"{pad}            {local[name]} = {buffer[name]}[{j}]" for name in carried]
    lines += [f"{pad}            {line}" for line in element_lines]
    lines += [f"{pad}            {buffer[name]}[{j}] = {local[name]}" for name in carried]
    lines.append(f"{pad}    for {j} in range({count}):")
    lines += [f"{pad}        {out[name]}[{at}] = {buffer[name]}[{j}]" for name in carried]
    lines += [f"{name} = {out[name]}" for name in carried]
    note = (f"for {target} in {ast.unparse(loop.iter)}: {', '.join(carried)} updated element-wise: "
            f"one pass over blocks of {BLOCK} elements, the sequence loop inside each")
    serial = outer_vars[0] if outer_vars else block
    return Jammed(sequence, f"{sequence} = {ast.unparse(loop.iter)}", guard, tuple(lines), note, serial)


def _carriable(value: object) -> bool:
    return isinstance(value, np.ndarray) and value.ndim >= 1 and value.dtype.kind in "iufc"


def _narrow_integer(dtype: np.dtype) -> bool:
    """Integers a Python int from ``range`` may not fit: unsigned ones (a negative item), and
    signed ones narrower than the int64 the compiled loop counts in."""
    return dtype.kind == "u" or (dtype.kind == "i" and dtype.itemsize < 8)


def _first_item(iterable: ast.expr, oracle: Oracle) -> object | None:
    """A stand-in for the loop variable: an int for ``range(...)``, the first element of a 1-d
    numeric array; None for any other iterable."""
    if (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and iterable.func.id == "range"
            and "range" not in oracle.values and not iterable.keywords and 1 <= len(iterable.args) <= 3):
        return 1
    if isinstance(iterable, ast.Name):
        value = oracle.values.get(iterable.id)
        if is_array(value) and value.ndim == 1 and value.dtype.kind in "iuf" and value.size:  # type: ignore[union-attr]
            return value[0]  # type: ignore[index]
    return None


def _plain(access: ir.Read, shape: tuple[int, ...]) -> bool:
    """``access`` reads element ``i`` of an array of the statement's shape: every axis indexed
    by its own loop in order, no offset, no broadcast."""
    return (len(access.index) == len(shape)
            and all(isinstance(item, ir.AxisIndex) and item.offset == "0" and item.broadcast is None
                    and item.axis == axis for item, axis in zip(access.index, shape)))


def _locals(expr: ir.Expr, local: dict[str, str]) -> ir.Expr:
    """``expr`` with its reads of carried arrays replaced by their locals."""
    if isinstance(expr, ir.Read) and expr.name in local:
        return ir.Local(expr.dtype, name=local[expr.name])
    kids = ir.children(expr)
    return ir.replace_children(expr, tuple(_locals(k, local) for k in kids)) if kids else expr


__all__ = ["Jammed", "jam"]
