"""The element-wise expression IR the devectorizer lowers NumPy expressions into.

An expression describes *one element* of an array-valued NumPy expression, as a function of
loop indices. Loop indices are named by integer axis ids; each id stands for one loop of the
nest that will compute the expression. Broadcasting, slicing with loop-invariant offsets, and
transposition are all expressed by which axis id (and which offset) a ``Read`` uses for each
axis of the array it reads; no node ever stands for a whole array, so lowering never needs a
temporary.

Nodes are frozen dataclasses (hashable), so equal sub-expressions compare equal and a
reduction used twice is computed once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class AxisIndex:
    """Array axis indexed by loop ``axis`` plus ``offset`` (source text, usually a constant).

    ``extent`` is the source text of the length this axis contributes (e.g. ``u.shape[0] - 2``
    clamped at zero); ``broadcast`` names a 0/1 flag variable when, at run time, this axis might
    be a length-1 axis broadcast against a longer one (then the index is multiplied by it).
    """

    axis: int
    offset: str = "0"
    extent: str = ""
    broadcast: str | None = None


@dataclass(frozen=True)
class FixedIndex:
    """Array axis indexed by a loop-invariant integer (``f[0, :]``, ``a[-1]``, ``x[k]``)."""

    source: str
    length: str  # the axis length, for the bounds check NumPy would do


Index = AxisIndex | FixedIndex


@dataclass(frozen=True)
class Expr:
    """Base of all element expressions; ``dtype`` is what NumPy would compute for it."""

    dtype: np.dtype = field(compare=True)


@dataclass(frozen=True)
class Read(Expr):
    """One element of array ``name``: ``name[index...]``."""

    name: str = ""
    index: tuple[Index, ...] = ()


@dataclass(frozen=True)
class Scalar(Expr):
    """A loop-invariant scalar given by source text (a parameter, a constant, ``hi - lo``).

    ``weak`` marks Python scalars, which NumPy 2 does not let widen an array's dtype.
    """

    source: str = ""
    weak: bool = False


@dataclass(frozen=True)
class Unary(Expr):
    """``op operand`` with op one of ``-``, ``+``, ``~``, ``not``."""

    op: str = "-"
    operand: Expr | None = None


@dataclass(frozen=True)
class Binary(Expr):
    """``left op right`` for arithmetic, comparison and bitwise operators (Python spelling)."""

    op: str = "+"
    left: Expr | None = None
    right: Expr | None = None


@dataclass(frozen=True)
class Call(Expr):
    """A NumPy ufunc applied to scalars: ``func`` is its NumPy name, e.g. ``exp``."""

    func: str = ""
    args: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Where(Expr):
    """``np.where(cond, then, other)`` element-wise."""

    cond: Expr | None = None
    then: Expr | None = None
    other: Expr | None = None


@dataclass(frozen=True)
class Reduce(Expr):
    """``kind`` (sum, prod, max, min, mean, any, all, argmax, argmin) of ``operand`` over loop ``axes``.

    ``mask``, when set, selects the elements that take part (``x[x > 0].sum()``): the
    reduction sees them in C order, as NumPy's compacted ``x[mask]`` holds them. An ``argmax``
    over several axes is the flat (C-order) index, as NumPy's ``axis=None``.
    """

    kind: str = "sum"
    operand: Expr | None = None
    axes: tuple[int, ...] = ()
    mask: Expr | None = None


@dataclass(frozen=True)
class Local(Expr):
    """A value the emitter already computed into a local name (a hoisted reduction)."""

    name: str = ""


def children(expr: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``expr``."""
    if isinstance(expr, Unary):
        return (expr.operand,)  # type: ignore[return-value]
    if isinstance(expr, Binary):
        return (expr.left, expr.right)  # type: ignore[return-value]
    if isinstance(expr, Call):
        return expr.args
    if isinstance(expr, Where):
        return (expr.cond, expr.then, expr.other)  # type: ignore[return-value]
    if isinstance(expr, Reduce):
        if expr.mask is not None:
            return (expr.operand, expr.mask)  # type: ignore[return-value]
        return (expr.operand,)  # type: ignore[return-value]
    return ()


def walk(expr: Expr) -> Iterator[Expr]:
    """``expr`` and every sub-expression, parents first."""
    yield expr
    for child in children(expr):
        yield from walk(child)


def reads(expr: Expr) -> Iterator[Read]:
    """Every array read in ``expr``, inside reductions too."""
    return (e for e in walk(expr) if isinstance(e, Read))


def free_axes(expr: Expr) -> frozenset[int]:
    """Loop axes ``expr``'s value depends on: read axes not summed away by a reduction inside it."""
    if isinstance(expr, Read):
        return frozenset(i.axis for i in expr.index if isinstance(i, AxisIndex))
    inner = frozenset().union(*(free_axes(c) for c in children(expr)))
    if isinstance(expr, Reduce):
        return inner - frozenset(expr.axes)
    return inner


def replace_children(expr: Expr, new: tuple[Expr, ...]) -> Expr:
    """A copy of ``expr`` with its direct sub-expressions replaced, in ``children`` order."""
    from dataclasses import replace

    if isinstance(expr, Unary):
        return replace(expr, operand=new[0])
    if isinstance(expr, Binary):
        return replace(expr, left=new[0], right=new[1])
    if isinstance(expr, Call):
        return replace(expr, args=new)
    if isinstance(expr, Where):
        return replace(expr, cond=new[0], then=new[1], other=new[2])
    if isinstance(expr, Reduce):
        return replace(expr, operand=new[0], mask=new[1] if expr.mask is not None else None)
    return expr
