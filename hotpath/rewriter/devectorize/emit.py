"""Render element-wise IR as a loop nest (Python source: ``range`` loops, scalar math).

The output is backend-neutral: plain ``for ... in range(...)`` loops over explicit indices,
scalar NumPy ufunc calls (``np.exp(x)``), ``np.empty`` for results. Numba compiles it as it is;
a Cython or Pythran emitter can reuse it by typing the locals it declares.

Placement of reductions (loop-invariant code motion by index dependence): a reduction whose
value depends on loop axes ``F`` is computed inside the nest right where the loops over ``F``
are open, if those are exactly the outermost loops (``x - x.max(axis=1, keepdims=True)``: once
per row, before the column loop); otherwise its values are computed first into a small array
indexed by ``F`` (``(X - X.mean(axis=0))``: one mean per column), so nothing is recomputed.

Memory order: such a small array of reductions over leading axes (column sums of a C-ordered
matrix) is filled with the reduction loops outermost, so every array is walked along its last,
contiguous axis; and a nest whose operands might broadcast a length-1 axis at run time gets a
second copy with plain indices for the usual equal-length case, whose loads vectorize.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from hotpath.rewriter.devectorize import ir
from hotpath.rewriter.devectorize.build import Builder, Shape, Unsupported

_NARROW = {"float32", "float16", "int8", "int16", "int32", "uint8", "uint16", "uint32", "complex64"}
_CALL_NAMES = {"absolute": "abs"}
_SCALAR_UFUNCS = {"/": "divide", "//": "floor_divide", "%": "remainder", "**": "power"}
_REDUCTION_NAMES = {"max": "maximum", "min": "minimum"}


#: NumPy's pairwise-summation block (``pairwise.BLOCK``, which imports Numba; this module must not).
NUMPY_BLOCK = 128
#: ``pairwise.STACK_LEAVES``: runs of at most this many blocks sum in a stack buffer.
STACK_LEAVES = 64
#: Ufuncs ``vmath`` computes in a form LLVM vectorizes, and its function for each
#: (``vmath.FUNCTIONS``; that module imports Numba, this one must not).
VECTOR_MATH = {"exp": "exp", "log": "log", "expm1": "expm1", "log1p": "log1p", "tanh": "tanh", "hypot": "hypot",
               "absolute": "cabs"}


def bound_check(index: str, length: str) -> list[str]:
    """NumPy's IndexError for an integer ``index`` outside an axis ``length`` long, as source lines."""
    # Bitwise, not chained: each short-circuit is a basic block to Numba (see ``Emitter.extent``).
    return [f"if ({index} < -{length}) | ({index} >= {length}):",
            f"    raise IndexError({f'index {index} is out of bounds'!r})"]


class Names:
    """Fresh local names that clash with nothing in the function."""

    def __init__(self, taken: Iterable[str]) -> None:
        self.taken = set(taken)

    def fresh(self, stem: str) -> str:
        for n in range(10_000):
            name = f"{stem}{n}"
            if name not in self.taken:
                self.taken.add(name)
                return name
        raise RuntimeError("out of names")


@dataclass(frozen=True)
class NewArray:
    """Store element-wise into a new array ``name`` of ``dtype`` (allocated here)."""

    name: str
    dtype: np.dtype


@dataclass(frozen=True)
class Region:
    """Store into the elements ``target`` reads (an existing array, maybe at offsets)."""

    target: ir.Read


@dataclass(frozen=True)
class ScalarStore:
    """A rank-0 result: ``template`` with ``{}`` replaced by the value, e.g. ``return {}``."""

    template: str


Store = NewArray | Region | ScalarStore


class Emitter:
    """Emits the statements of one devectorized statement; ``lines`` is the result."""

    def __init__(self, builder: Builder, names: Names, np_name: str, empty: str | None = None,
                 pairwise: str | None = None, c_arrays: frozenset[str] = frozenset(),
                 vmath: str | None = None) -> None:
        self.builder = builder
        self.names = names
        self.np = np_name
        # How new arrays are allocated: ``np.empty`` unless a backend brings its own allocator.
        self.empty = empty or f"{np_name}.empty"
        self.lines: list[str] = []
        self._extent_var: dict[int, str] = {}
        self._flags: dict[tuple[int, str], str] = {}
        self._checked: set[str] = set()
        self._by_text: dict[str, str] = {}
        self._hoisted: dict[tuple[ir.Expr, tuple[int, ...]], str] = {}  # reduction -> array holding it
        self._invariants: dict[str, str] = {}  # loop-invariant scalar source -> local holding it
        self._plain: list[str] | None = None  # the flat copy of the nest being versioned (``_collapsed``)
        #: Outer loop variables of nests that must stay serial, loops inside them included: a
        #: reduction running its reduction loop outermost (see ``_outer_reduction``).
        self.sequential: list[str] = []
        #: Alias of ``pairwise`` (NumPy's summation order), when the backend can call it.
        self.pairwise = pairwise
        #: Alias of ``vmath`` (vectorizable exp, log, hypot ...), when the backend can call it.
        self.vmath = vmath
        self._scalar_loops = 0  # > 0 while emitting the values of a loop that stays scalar
        #: Arrays known to be C-ordered: NumPy sums their columns row after row, as the loops do.
        self.c_arrays = c_arrays
        #: Float sums the nest adds in another order than NumPy would (see ``reduction_order``).
        self.reassociations: list[str] = []

    # -- preamble: loop extents, broadcasting, bounds ----------------------------------------
    def extent(self, axis: int) -> str:
        """The variable holding loop ``axis``'s trip count (defined on first use)."""
        if axis in self._extent_var:
            return self._extent_var[axis]
        extents = self.builder.extents(axis)
        fixed = self.builder.authoritative.get(axis)
        var = self.names.fresh("n")
        self._extent_var[axis] = var
        others = [e for e in extents if e != fixed]
        if not others or (fixed is None and len(extents) == 1):
            text = fixed or extents[0]
            if text in self._by_text:  # the same length under another loop: one variable
                self.names.taken.discard(var)
                self._extent_var[axis] = self._by_text[text]
                return self._by_text[text]
            self._by_text[text] = var
            self.lines.append(f"{var} = {text}")
            return var
        # Branch-free, like every line of the preamble: Numba's SSA and liveness passes grow
        # faster than linearly in basic blocks, and each ``and``, ``or``, conditional expression
        # and ``if`` is some. A module kernel's few hundred nests compiled 30 s longer for them.
        if fixed is not None:
            self.lines.append(f"{var} = {fixed}")
        else:
            # The broadcast length of lengths each 1 or n: n, which is 0 where one of them is.
            listed = ", ".join(others)
            self.lines.append(f"{var} = max({listed}) * (min({listed}) != 0)")
        bad = " | ".join(f"(({e} != {var}) & ({e} != 1))" for e in others)
        self.lines.append(f"if {bad}:")
        self.lines.append("    raise ValueError('operands could not be broadcast together')")
        for extent in others:
            # Length 1 against a longer loop: the index stays 0 (multiplied by this flag).
            flag = self.names.fresh("s")
            self.lines.append(f"{flag} = int({extent} != 1)")
            self._flags[(axis, extent)] = flag
        return var

    def check(self, expr: ir.Expr) -> None:
        """NumPy's errors that do not depend on values: bad fixed indices, empty max/min,
        boolean masks of another shape than their data."""
        for mask, data in self.builder.equal_lengths:
            test = f"{mask} != {data}"
            if test not in self._checked:
                self._checked.add(test)
                self.lines.append(f"if {test}:")
                self.lines.append("    raise IndexError('boolean index did not match indexed array')")
        for node in ir.walk(expr):
            if isinstance(node, ir.Read):
                for item in node.index:
                    if isinstance(item, ir.FixedIndex):
                        lines = bound_check(item.source, item.length)
                        if lines[0] not in self._checked:
                            self._checked.add(lines[0])
                            self.lines += lines
                    else:
                        self.extent(item.axis)
            if isinstance(node, ir.Reduce):
                for axis in node.axes:
                    self.extent(axis)
                if node.kind in ("max", "min", "argmax", "argmin") and node.axes and node.mask is None:
                    test = " | ".join(f"({self.extent(a)} == 0)" for a in node.axes)
                    if test not in self._checked:
                        self._checked.add(test)
                        self.lines.append(f"if {test}:")
                        self.lines.append(f"    raise ValueError({_empty_message(node.kind)!r})")

    # -- statements --------------------------------------------------------------------------
    def emit(self, expr: ir.Expr, shape: Shape, store: Store) -> None:
        """Append the loop nest computing ``expr`` (of ``shape``) into ``store``."""
        self.check(expr)
        if isinstance(store, Region):
            self.check(store.target)
        for axis in shape:
            if axis is not None:
                self.extent(axis)
        start = len(self.lines)
        self._nest(expr, shape, store)
        self._version(start)

    def element(self, expr: ir.Expr, loop_vars: dict[int, str]) -> tuple[list[str], str]:
        """One element of element-wise ``expr`` as scalar source text, its reads indexed by
        ``loop_vars`` (axis -> index text), for an innermost loop LLVM can vectorize (``vmath``
        is used); and the lines computing the invariant scalars it reads, to run before it.
        Raises ``Unsupported`` for what needs more than that: a reduction, a broadcast check."""
        if any(isinstance(e, ir.Reduce) for e in ir.walk(expr)):
            raise Unsupported("a reduction inside the element")
        loops = sorted(loop_vars)
        depth: list[list[str]] = [[] for _ in range(len(loops) + 1)]
        value = self._value(expr, loops, depth, {})
        if any(depth[1:]) or self._flags:
            raise Unsupported("the element needs code inside its loops")
        return [_substitute(line, loop_vars) for line in depth[0]], _tidy(_substitute(value, loop_vars))

    def sequence(self, kind: str, expr: ir.Expr, axis: int, name: str, dtype: np.dtype,
                 reverse: bool = False, shift: str = "0") -> None:
        """A 1-d result that is no element-wise expression of ``expr`` (one loop over ``axis``).

        ``cumsum``/``cumprod``: the running sum (product) in NumPy's order, one element after
        another (from the last when ``reverse``: ``np.cumsum(x[::-1])[::-1]``), started from
        the identity that leaves the first element as it is (``-0.0 + x`` is ``x``, also for
        ``x = -0.0``). ``nonzero``: the indices where ``expr`` is not zero, in a buffer as long
        as the input, then copied to its exact length as NumPy returns it; ``shift`` (``+ 1``)
        is added to each index.
        """
        self.check(expr)
        if kind != "nonzero" and self._terms_first(expr, dtype):
            self._scan_in_two_passes(kind, expr, axis, name, reverse)
            return
        extent = self.extent(axis)
        start = len(self.lines)
        depth: list[list[str]] = [[], []]
        value = self._scalar_value(expr, [axis], depth, {})
        self.lines += depth[0]
        steps = f"{extent} - 1, -1, -1" if reverse else extent
        if kind == "nonzero":
            buffer, count = self.names.fresh("t"), self.names.fresh("cnt")
            self.lines.append(f"{buffer} = {self.empty}(({extent},), {self.np}.intp)")
            self.lines.append(f"{count} = 0")
            test = value if expr.dtype == np.bool_ else f"({value}) != 0"
            index = f"i_{axis}" if shift == "0" else f"i_{axis} {shift}"
            # Branch-free: every index is written at the next free slot, which only a selected
            # one keeps (a branch here mispredicts on noisy data and costs more than the store).
            update = [f"{buffer}[{count}] = {index}", f"{count} += 1 if {test} else 0"]
            after = [f"{name} = {buffer}[:{count}].copy()"]
        else:
            acc = self.names.fresh("acc")
            if kind == "cumprod":
                first = "1"
            else:
                first = {"f": "-0.0", "c": "-0j"}.get(dtype.kind, "0")
            self.lines.append(f"{acc} = {self._cast(first, dtype)}")
            self.lines.append(f"{name} = {self.empty}(({extent},), {self._dtype(dtype)})")
            op = "*" if kind == "cumprod" else "+"
            step = f"{acc} {op} {value}"
            update = [f"{acc} = {self._cast(step, dtype) if str(dtype) in _NARROW else step}",
                      f"{name}[i_{axis}] = {acc}"]
            after = []
        self.lines.append(f"for i_{axis} in range({steps}):")
        self.lines += ["    " + line for line in depth[1] + update]
        self.lines += after
        self._version(start)
        loop = self.names.fresh("i")
        self.lines[start:] = [_substitute(line, {axis: loop}) for line in self.lines[start:]]
        self.sequential.append(loop)

    def _terms_first(self, expr: ir.Expr, dtype: np.dtype) -> bool:
        """Whether a running sum of ``expr`` pays for a vectorized pass over its terms first:
        where a term calls a function ``vmath`` vectorizes (``np.cumsum(np.log(p[1:] / p[:-1]))``),
        one scalar loop would call it an element at a time (4M terms: 19.7 ms in one loop, 9.3 ms
        in two, NumPy 26 ms). float64 only: the terms are stored in the result before they are
        added, which must not round them."""
        return (self.vmath is not None and dtype == np.float64 and expr.dtype == np.float64
                and any(isinstance(e, ir.Call) and self._vector_math(e, ir.children(e)) for e in ir.walk(expr)))

    def _scan_in_two_passes(self, kind: str, expr: ir.Expr, axis: int, name: str, reverse: bool) -> None:
        """``sequence``'s running sum (product) in two loops: the terms into the result in a loop
        LLVM vectorizes, then the running sum over them in place. The terms and the order they
        are added in are the scalar loop's, so the result is too. (Blocks of 4096 terms, summed
        while still in cache, ran 2x slower: LLVM left the nested term loop scalar.)"""
        extent = self.extent(axis)
        start = len(self.lines)
        depth: list[list[str]] = [[], []]
        value = self._value(expr, [axis], depth, {})
        self.lines += depth[0]
        self.lines.append(f"{name} = {self.empty}(({extent},), {self.np}.float64)")
        self.lines.append(f"for i_{axis} in range({extent}):")
        self.lines += ["    " + line for line in depth[1] + [f"{name}[i_{axis}] = {value}"]]
        self._version(start)
        acc, loop = self.names.fresh("acc"), self.names.fresh("i")
        self.lines[start:] = [_substitute(line, {axis: loop}) for line in self.lines[start:]]
        steps = f"{extent} - 1, -1, -1" if reverse else extent
        self.lines += [f"{acc} = {'1.0' if kind == 'cumprod' else '-0.0'}",
                       f"for {loop} in range({steps}):",
                       f"    {acc} = {acc} {'*' if kind == 'cumprod' else '+'} {name}[{loop}]",
                       f"    {name}[{loop}] = {acc}"]
        self.sequential.append(loop)

    def scan_along(self, kind: str, expr: ir.Expr, shape: Shape, position: int, name: str, dtype: np.dtype) -> None:
        """``np.cumsum(expr, axis=position)`` (or ``cumprod``) into a new array ``name``.

        The loops run in C order; each element adds its value to the previous one along the
        axis (already stored), so every running sum is added in NumPy's order, one element
        after another, while memory is walked contiguously whatever the axis.
        """
        self.check(expr)
        loops = [a for a in shape if a is not None]
        along = loops[position]
        start = len(self.lines)
        depth: list[list[str]] = [[] for _ in range(len(loops) + 1)]
        # Along the innermost loop each element waits for the one before it: a scalar loop, unless
        # the terms are worth a vectorized nest of their own first.
        terms_first = along == loops[-1] and self._terms_first(expr, dtype)
        scalar = along == loops[-1] and not terms_first
        value = (self._scalar_value if scalar else self._value)(expr, loops, depth, {})
        self.lines += depth[0]
        dims = ", ".join(self.extent(a) for a in loops)
        self.lines.append(f"{name} = {self.empty}(({dims}), {self._dtype(dtype)})")
        here = ", ".join(f"i_{a}" for a in loops)
        before = ", ".join(f"i_{a} - 1" if a == along else f"i_{a}" for a in loops)
        if kind == "cumprod":
            first = "1"
        else:
            first = {"f": "-0.0", "c": "-0j"}.get(dtype.kind, "0")
        previous = f"({name}[{before}] if i_{along} > 0 else {self._cast(first, dtype)})"
        op = "*" if kind == "cumprod" else "+"
        loop_vars = {a: self.names.fresh("i") for a in loops}
        step = f"{previous} {op} {value}"
        # With the terms first, this nest stores them; a second one sums over them in place.
        store = value if terms_first else self._cast(step, dtype) if str(dtype) in _NARROW else step
        self.lines += [_substitute(line, loop_vars) for line in self._loops(
            loops, loop_vars, depth[1:], [f"{name}[{here}] = {store}"])]
        self._version(start)
        if terms_first:
            self.lines += [_substitute(line, loop_vars) for line in self._loops(
                loops, loop_vars, [], [f"{name}[{here}] = {previous} {op} {name}[{here}]"])]
        # Each element reads the one before it along the axis: the nest stays serial.
        self.sequential.append(loop_vars[loops[0]])

    def _version(self, start: int) -> None:
        """Two versions of the nest emitted from ``start`` when it reads through broadcast flags.

        A flag multiplies an index so that a length-1 operand is read at 0; that multiplication
        turns contiguous loads into gathers, which do not vectorize. Operands of equal length
        (the usual case) take a copy of the nest with plain indices; the flagged nest serves the
        length-1 broadcasting that is only known at run time.
        """
        body = self.lines[start:]
        flat, self._plain = self._plain, None
        used = sorted({flag for flag in self._flags.values()
                       if any(re.search(rf" \* {flag}\b", line) for line in body)})
        if not used:
            return
        plain = re.compile(rf" \* (?:{'|'.join(used)})\b")
        first = flat if flat is not None else [plain.sub("", line) for line in body]
        self.lines[start:] = ([f"if {' & '.join(used)}:"] + ["    " + line for line in first]
                              + ["else:"] + ["    " + line for line in body])

    def _nest(self, expr: ir.Expr, shape: Shape, store: Store) -> None:
        begin = len(self.lines)
        loops = [a for a in shape if a is not None]
        if isinstance(store, NewArray) and isinstance(expr, ir.Reduce) and _reduce_outside(expr, loops, store.dtype):
            self._outer_reduction(expr, shape, store)
            return
        depth: list[list[str]] = [[] for _ in range(len(loops) + 1)]
        value = self._value(expr, loops, depth, {})
        self.lines += depth[0]
        if isinstance(store, ScalarStore):
            self.lines.append(store.template.format(value))
            return
        if isinstance(store, NewArray):
            dims = ", ".join(self.extent(a) if a is not None else "1" for a in shape)
            self.lines.append(f"{store.name} = {self.empty}(({dims}{',' if len(shape) == 1 else ''}), "
                              f"{self._dtype(store.dtype)})")
            index = ", ".join(f"i_{a}" if a is not None else "0" for a in shape)
            lhs = f"{store.name}[{index}]"
        else:
            lhs = self._read(store.target, {a: f"i_{a}" for a in loops})
        flat = self._collapsed(expr, store, loops, depth, lhs, value)
        if flat is not None:
            if not self._broadcasts(expr, store):
                self.lines += flat
                return
            # Operands of equal length (every flag 1) take the flat loop; ``_version`` puts it first.
            self._plain = self.lines[begin:] + flat
        body: list[str] = []
        loop_vars = {a: self.names.fresh("i") for a in loops}
        shift = _outer_offset(store, loops)
        if loops and any(axis == loops[0] for axis, _ in self._flags):
            shift = 0  # broadcast flags multiply the index: keep the plain form
        bounds = {a: self.extent(a) for a in loops}
        if shift:
            # Writing u[i + 1, ...]: run the outer loop over the written rows themselves, so the
            # store is indexed by the bare loop variable (what the prange analysis accepts).
            outer = loops[0]
            bounds[outer] = f"{shift}, {bounds[outer]} + {shift}"
            lhs = lhs.replace(f"i_{outer} + {shift}", f"i_{outer}", 1)
            loop_vars = {**loop_vars, outer: f"{loop_vars[outer]} - {shift}"}
        lhs = _substitute(lhs, loop_vars)
        for level, axis in enumerate(loops):
            pad = "    " * level
            var = loop_vars[axis].split(" ")[0]
            lhs = lhs.replace(f"{var} - {shift}", var) if level == 0 and shift else lhs
            body.append(f"{pad}for {var} in range({bounds[axis]}):")
            body += [pad + "    " + line for line in depth[level + 1]]
        pad = "    " * len(loops)
        body.append(f"{pad}{lhs} = {_substitute(value, loop_vars)}")
        # Inner statements were written with placeholder loop names; fix them up.
        self.lines += [_tidy(_substitute(line, loop_vars)) for line in body]

    def _collapsed(self, expr: ir.Expr, store: Store, loops: list[int], depth: list[list[str]],
                   lhs: str, value: str) -> list[str] | None:
        """The nest as one flat loop, where it runs over whole C-ordered arrays of one shape.

        A nest of several loops vectorizes its innermost one only, and each row ends in a scalar
        remainder: with rows as short as an ocean model's 40 levels, that remainder (a scalar
        ``tanh`` is 15 ns) cost more than the vector part. Read through flat views (a reshape of
        a C-ordered array is one), the nest is one long row. Only where every array is read and
        written whole, at the loop indices in order, with no reduction and no line between the
        loops, and no index is used otherwise; broadcast flags are ignored: the caller uses the
        flat loop only where all are 1 (operands of equal length). None: write the nest.
        """
        if len(loops) < 2 or any(depth[1:len(loops)]) or any(isinstance(n, ir.Reduce) for n in ir.walk(expr)):
            return None
        reads = _accesses(expr, store)
        names = {r.name for r in reads} | ({store.name} if isinstance(store, NewArray) else set())
        for read in reads:
            if read.name not in self.c_arrays or len(read.index) != len(loops):
                return None
            full = self.builder.same_shape.get(read.name, read.name)
            for k, item in enumerate(read.index):
                if not (isinstance(item, ir.AxisIndex) and item.axis == loops[k] and item.offset == "0"
                        and item.extent == f"{full}.shape[{k}]"):
                    return None
        # An element read at the loop indices in order, through broadcast flags or not.
        whole = r"\[" + r", ".join(rf"i_{a}(?: \* s\d+)?" for a in loops) + r"\]"
        flat = {name: self.names.fresh(f"{name}_flat") for name in sorted(names)}
        element = self.names.fresh("i")

        def flatten(line: str) -> str:
            for name, view in flat.items():
                line = re.sub(rf"\b{name}{whole}", f"{view}[{element}]", line)
            return line

        inner = [flatten(line) for line in depth[len(loops)]] + [f"{flatten(lhs)} = {flatten(value)}"]
        if any(re.search(rf"\bi_{a}\b", line) for line in inner for a in loops):
            self.names.taken -= {*flat.values(), element}
            return None  # an index used otherwise than to read a whole array's element
        total = " * ".join(self.extent(a) for a in loops)
        return ([f"{view} = {name}.reshape({total})" for name, view in flat.items()]
                + [f"for {element} in range({total}):"] + ["    " + line for line in inner])

    def _broadcasts(self, expr: ir.Expr, store: Store) -> bool:
        """Whether a read of the nest goes through a broadcast flag."""
        return any(isinstance(item, ir.AxisIndex) and (item.axis, item.extent) in self._flags
                   for read in _accesses(expr, store) for item in read.index)

    def _outer_reduction(self, expr: ir.Reduce, shape: Shape, store: NewArray) -> None:
        """A reduction over leading axes into an array over trailing ones, reduction loops outermost.

        ``X.sum(axis=0)`` of a C-ordered matrix: accumulating one column at a time walks memory
        with a row's stride; running the rows outermost and updating the whole row of
        accumulators walks it contiguously (and vectorizes). Each accumulator still sees its
        elements in the same order, so the result is the one the column-at-a-time loop gives.
        """
        loops = [a for a in shape if a is not None]
        order = list(expr.axes) + loops
        if (expr.kind in ("sum", "mean") and store.dtype.kind in "fc" and expr.operand.dtype != np.bool_  # type: ignore[union-attr]
                and not all(r.name in self.c_arrays for r in ir.reads(expr.operand))):  # type: ignore[arg-type]
            # NumPy walks an F-ordered operand down its columns, pairwise: another order.
            self.reassociations.append(f"a {expr.kind} over leading axes of arrays not known to be C-ordered")
        depth: list[list[str]] = [[] for _ in range(len(order) + 1)]
        value = self._value(expr.operand, order, depth, {})  # type: ignore[arg-type]
        self.lines += depth[0]
        dims = ", ".join(self.extent(a) if a is not None else "1" for a in shape)
        self.lines.append(f"{store.name} = {self.empty}(({dims}{',' if len(shape) == 1 else ''}), "
                          f"{self._dtype(store.dtype)})")
        acc = f"{store.name}[{', '.join(f'i_{a}' if a is not None else '0' for a in shape)}]"
        loop_vars = {a: self.names.fresh("i") for a in order}
        # Its outer loop carries the accumulators; a parallel loop inside it would start a
        # parallel region per row, which costs far more than the row's work.
        self.sequential.append(loop_vars[order[0]])
        kind = expr.kind
        if kind in ("max", "min"):
            start = self._identity(kind, store.dtype)
        else:
            start = "1" if kind == "prod" else "0"
        body = self._loops(loops, loop_vars, [], [f"{acc} = {start}"])
        if kind in ("max", "min"):
            item = self.names.fresh("v")
            update = [f"{item} = {value}", f"if {item} {'>' if kind == 'max' else '<'} {acc} or {item} != {item}:",
                      f"    {acc} = {item}"]  # NaN wins, as in NumPy
        else:
            update = [f"{acc} {'*' if kind == 'prod' else '+'}= {value}"]
        body += self._loops(order, loop_vars, depth[1:], update)
        if kind == "mean":
            count = " * ".join(self.extent(a) for a in expr.axes)
            body += self._loops(loops, loop_vars, [], [f"{acc} = {self.np}.divide({acc}, {count})"])
        self.lines += [_tidy(_substitute(line, loop_vars)) for line in body]

    def _loops(self, axes: list[int], loop_vars: dict[int, str], depth: list[list[str]],
               inner: list[str]) -> list[str]:
        """Loops over ``axes`` (outermost first), ``depth[level]`` inside each, ``inner`` innermost."""
        out: list[str] = []
        for level, axis in enumerate(axes):
            pad = "    " * level
            out.append(f"{pad}for i_{axis} in range({self.extent(axis)}):")
            out += [pad + "    " + line for line in (depth[level] if level < len(depth) else [])]
        pad = "    " * len(axes)
        return out + [pad + line for line in inner]

    # -- values ------------------------------------------------------------------------------
    def _value(self, expr: ir.Expr, loops: list[int], depth: list[list[str]],
               memo: dict[tuple[ir.Expr, tuple[int, ...]], str]) -> str:
        env = {a: f"i_{a}" for a in loops}
        if isinstance(expr, ir.Reduce):
            return self._reduce(expr, loops, depth, memo)
        if isinstance(expr, ir.Read):
            return self._read(expr, env)
        if isinstance(expr, ir.Scalar):
            if expr.source.isidentifier() or _is_number(expr.source):
                return expr.source
            # Computed once, before the loops, as NumPy computes it before calling the ufunc: so
            # ``x ** (1.0 / gamma)`` raises at gamma == 0 even for an empty ``x``, and raises from
            # serial code, never from inside a parallel loop.
            if expr.source not in self._invariants:
                self._invariants[expr.source] = self.names.fresh("c")
                depth[0].append(f"{self._invariants[expr.source]} = {expr.source}")
            return self._invariants[expr.source]
        if isinstance(expr, ir.Local):
            return expr.name
        parts = [self._value(c, loops, depth, memo) for c in ir.children(expr)]
        kids = ir.children(expr)
        if (isinstance(expr, (ir.Binary, ir.Call)) and str(expr.dtype) in _NARROW and expr.dtype.kind == "f"
                and not (isinstance(expr, ir.Binary) and _plain_power(expr))):
            # NumPy converts a Python scalar to the array's precision before the operation; a
            # small integer exponent stays an integer, so the power stays a few multiplications.
            parts = [self._cast(p, expr.dtype) if isinstance(k, ir.Scalar) and k.weak else p
                     for p, k in zip(parts, kids)]
        if isinstance(expr, ir.Unary):
            text = f"({expr.op} {parts[0]})" if expr.op == "not" else f"({expr.op}{parts[0]})"
        elif isinstance(expr, ir.Binary) and expr.op in _SCALAR_UFUNCS and not _plain_power(expr):
            # Python's / raises on zero where NumPy gives inf or nan; the ufunc form keeps
            # NumPy's semantics in compiled code without changing the function's error model.
            text = f"{self.np}.{_SCALAR_UFUNCS[expr.op]}({parts[0]}, {parts[1]})"
        elif isinstance(expr, ir.Binary):
            text = f"({parts[0]} {expr.op} {parts[1]})"
        elif isinstance(expr, ir.Call) and expr.func in ("real", "imag"):
            text = f"({parts[0]}).{expr.func}"
        elif isinstance(expr, ir.Call) and expr.func == "conj":
            text = f"({parts[0]}).conjugate()"
        elif isinstance(expr, ir.Call) and self._vector_math(expr, kids):
            # The C library's exp is a call per element that keeps the loop scalar; NumPy's is SIMD.
            text = f"{self.vmath}.{VECTOR_MATH[expr.func]}({', '.join(parts)})"
            if expr.dtype != np.float64:  # float32: computed in float64, rounded once
                text = self._cast(text, expr.dtype)
        elif isinstance(expr, ir.Call):
            text = f"{self.np}.{_CALL_NAMES.get(expr.func, expr.func)}({', '.join(parts)})"
        elif isinstance(expr, ir.Where):
            text = f"({parts[1]} if {parts[0]} else {parts[2]})"
        else:
            raise AssertionError(f"unknown node {expr!r}")
        if self._needs_cast(expr, kids):
            text = self._cast(text, expr.dtype)
        return text

    def _scalar_value(self, expr: ir.Expr, loops: list[int], depth: list[list[str]],
                      memo: dict[tuple[ir.Expr, tuple[int, ...]], str]) -> str:
        """``_value`` for a loop LLVM keeps scalar (a running sum, a scan, a search, a compaction):
        ``vmath``'s functions pay off vectorized, one element at a time the C library's are faster
        (exp 9 ns against 3.4 ns)."""
        self._scalar_loops += 1
        try:
            return self._value(expr, loops, depth, memo)
        finally:
            self._scalar_loops -= 1

    def _vector_math(self, call: ir.Call, kids: tuple[ir.Expr, ...]) -> bool:
        if (self.vmath is None or self._scalar_loops or call.func not in VECTOR_MATH
                or call.dtype not in (np.float64, np.float32)):
            return False
        if call.func == "absolute":  # of a complex number of the same precision
            return len(kids) == 1 and kids[0].dtype == np.result_type(call.dtype, np.complex64)
        return len(kids) == (2 if call.func == "hypot" else 1) and all(k.dtype == call.dtype for k in kids)

    def _needs_cast(self, expr: ir.Expr, kids: tuple[ir.Expr, ...]) -> bool:
        # Narrow results: NumPy rounds (floats) or wraps (integers) at every step, while compiled
        # scalar code widens (float32 * 0.1 is float64, int32 * int32 is int64).
        if str(expr.dtype) not in _NARROW or isinstance(expr, ir.Where):
            return False
        if isinstance(expr, ir.Binary) and expr.op in ("<", "<=", ">", ">=", "==", "!="):
            return False
        return expr.dtype.kind in "iu" or any(k.dtype != expr.dtype or (isinstance(k, ir.Scalar) and k.weak)
                                              for k in kids)

    def _cast(self, text: str, dtype: np.dtype) -> str:
        return f"{self.np}.{dtype.name}({text})"

    def _dtype(self, dtype: np.dtype) -> str:
        return f"{self.np}.bool_" if dtype == np.bool_ else f"{self.np}.{dtype.name}"

    def _read(self, read: ir.Read, env: dict[int, str]) -> str:
        items = []
        for item in read.index:
            if isinstance(item, ir.FixedIndex):
                items.append(item.source)
                continue
            text = env[item.axis]
            flag = self._flags.get((item.axis, item.extent))
            if flag is not None:
                text = f"{text} * {flag}"
            if item.offset != "0":
                text = f"{text} + {item.offset}"
            items.append(text)
        return f"{read.name}[{', '.join(items)}]" if items else f"{read.name}[()]"

    def _reduce(self, expr: ir.Reduce, loops: list[int], depth: list[list[str]],
                memo: dict[tuple[ir.Expr, tuple[int, ...]], str]) -> str:
        free = ir.free_axes(expr)
        level = max((loops.index(a) + 1 for a in free), default=0)
        strided = bool(free) and _reduce_outside(expr, [a for a in loops if a in free], expr.dtype)
        if set(loops[:level]) != free or strided:
            # Depends on some of the open loops but not on all the outer ones: compute all its
            # values up front into a small array instead of recomputing it in the inner loops.
            # So too when computing it in place would walk its operands across their rows.
            # Kept per statement, not per nest: ``X.std(axis=0)`` next to ``X.mean(axis=0)`` reuses
            # the column means the first nest computed.
            axes = [a for a in loops if a in free]
            hoisted = (expr, tuple(axes))
            if hoisted not in self._hoisted:
                name = self.names.fresh("r")
                saved, self.lines = self.lines, []
                self.emit(expr, tuple(axes), NewArray(name, expr.dtype))
                depth[0] += self.lines
                self.lines = saved
                self._hoisted[hoisted] = name
            return f"{self._hoisted[hoisted]}[{', '.join(f'i_{a}' for a in axes)}]"
        key = (expr, tuple(loops[:level]))
        if key in memo:
            return memo[key]
        if expr.mask is not None:
            memo[key] = self._selection(expr, loops, level, depth, memo)
            return memo[key]
        if expr.kind in ("argmax", "argmin"):
            memo[key] = self._arg(expr, loops, level, depth, memo)
            return memo[key]
        pairwise = False
        if expr.kind in ("sum", "mean") and expr.axes and (expr.dtype.kind in "fc" or expr.kind == "mean"):
            whole = self._whole_array(expr, level, depth)
            if whole is not None:
                memo[key] = whole
                return whole
            pairwise = self._keeps_order(expr, level)
        # Booleans add up as 0.0 and 1.0: exact in any order (``np.mean(x > t, axis=1)``).
        exact = expr.operand is not None and expr.operand.dtype == np.bool_
        if (expr.kind in ("sum", "mean") and expr.axes and (expr.dtype.kind in "fc" or expr.kind == "mean")
                and not pairwise and not exact):
            self.reassociations.append(f"a {expr.kind} of {expr.operand.dtype} over {len(expr.axes)} "  # type: ignore[union-attr]
                                       f"{'axis' if len(expr.axes) == 1 else 'axes'}"
                                       f"{' per outer index' if level else ''} added sequentially "
                                       "(NumPy: pairwise)")
        inner_loops = loops[:level] + list(expr.axes)
        inner_depth = depth[:level + 1] + [[] for _ in expr.axes]
        # NumPy's order fills blocks in a loop of its own; any other reduction accumulates as it goes.
        emit = self._value if pairwise else self._scalar_value
        value = emit(expr.operand, inner_loops, inner_depth, memo)  # type: ignore[arg-type]
        acc = self.names.fresh("acc")
        out = depth[level]
        kind, dtype = expr.kind, expr.dtype
        nan_seen: str | None = None
        if pairwise:
            self._pairwise_run(expr, acc, value, out, inner_depth[level + 1], depth[0])
            memo[key] = acc
            return acc
        if kind in ("sum", "prod", "mean"):
            # The accumulator's type is spelled out so every backend (and plain Python, where
            # 0 + np.int32(...) would stay int32) accumulates alike: integers in the result's
            # 64-bit type, floats (also float32, also every mean) in double precision.
            if kind == "mean" or dtype.kind in "fc":
                wide = np.dtype(np.complex128 if dtype.kind == "c" else np.float64)
            else:
                wide = dtype
            start = "0" if kind != "prod" else "1"
            out.append(f"{acc} = {start}.0" if wide == np.float64 else f"{acc} = {self._cast(start, wide)}")
        elif kind in ("max", "min"):
            out.append(f"{acc} = {self._identity(kind, dtype)}")
            if dtype.kind == "f":
                nan_seen = self.names.fresh("nan")
                out.append(f"{nan_seen} = False")
        else:
            out.append(f"{acc} = {kind == 'all'}")
        pad = ""
        for position, axis in enumerate(expr.axes):
            out.append(f"{pad}for i_{axis} in range({self.extent(axis)}):")
            pad += "    "
            out += [pad + line for line in inner_depth[level + 1 + position]]
        if kind in ("sum", "mean", "prod"):
            op = "*" if kind == "prod" else "+"
            if level == 0:
                out.append(f"{pad}{acc} {op}= {value}")
            else:
                # Inside a nest the accumulator is private to each outer iteration; spelled
                # ``acc = x + acc`` (the same IEEE result) so that it does not read as a reduction
                # of the outer loop, which may then run in parallel.
                out.append(f"{pad}{acc} = {value} {op} {acc}")
        elif kind in ("max", "min"):
            out += self._extreme(kind, acc, value, nan_seen, pad)
        elif kind == "any":
            out.append(f"{pad}if {value} != 0:")
            out.append(f"{pad}    {acc} = True")
        else:
            out.append(f"{pad}if {value} == 0:")
            out.append(f"{pad}    {acc} = False")
        if nan_seen is not None:
            out.append(f"{acc} = {self._cast(f'{self.np}.nan', dtype)} if {nan_seen} else {acc}")
        if kind == "mean":
            count = " * ".join(self.extent(a) for a in expr.axes) or "1"
            count = f"({count})" if len(expr.axes) > 1 else count
            out.append(f"{acc} = {self.np}.divide({acc}, {count})")  # empty: nan, as NumPy
        if str(dtype) in _NARROW or (kind == "mean" and dtype not in (np.float64, np.complex128)):
            out.append(f"{acc} = {self._cast(acc, dtype)}")
        memo[key] = acc
        return acc

    def _extreme(self, kind: str, acc: str, value: str, nan_seen: str | None, pad: str) -> list[str]:
        """The update of a running max or min ``acc`` by ``value`` (and of its NaN flag, if any).

        Branch-free: one compare and a select per element, where ``if v > acc or v != v`` costs
        two branches (a row max ran at 0.4x NumPy's speed with them, 1.4x without). NaN wins in
        NumPy; the select skips it, so a float reduction also notes whether it saw one (the
        caller makes the result NaN after the loop).
        """
        item = self.names.fresh("v")
        compare = ">" if kind == "max" else "<"
        lines = [f"{pad}{item} = {value}", f"{pad}{acc} = {item} if {item} {compare} {acc} else {acc}"]
        if nan_seen is not None:
            # Spelled ``x = y | x``, like the sums: not a reduction of an outer loop.
            lines.append(f"{pad}{nan_seen} = ({item} != {item}) | {nan_seen}")
        return lines

    def _arg(self, expr: ir.Reduce, loops: list[int], level: int, depth: list[list[str]],
             memo: dict[tuple[ir.Expr, tuple[int, ...]], str]) -> str:
        """``argmax``/``argmin``: the first index of the extreme value, or of the first NaN.

        Over several axes (``axis=None``) the index is the flat C-order one NumPy returns.
        """
        operand = expr.operand
        assert operand is not None
        inner_loops = loops[:level] + list(expr.axes)
        inner_depth = depth[:level + 1] + [[] for _ in expr.axes]
        value = self._scalar_value(operand, inner_loops, inner_depth, memo)
        acc, index, item = self.names.fresh("acc"), self.names.fresh("idx"), self.names.fresh("v")
        out = depth[level]
        out.append(f"{acc} = {self._identity(expr.kind[3:], operand.dtype)}")
        out.append(f"{index} = 0")
        flat = ""
        for axis in expr.axes:
            flat = f"i_{axis}" if not flat else f"({flat}) * {self.extent(axis)} + i_{axis}"
        pad = ""
        for position, axis in enumerate(expr.axes):
            out.append(f"{pad}for i_{axis} in range({self.extent(axis)}):")
            pad += "    "
            out += [pad + line for line in inner_depth[level + 1 + position]]
        compare = f"{item} {'>' if expr.kind == 'argmax' else '<'} {acc}"
        if operand.dtype.kind == "f":
            compare += f" or ({item} != {item} and {acc} == {acc})"  # the first NaN wins, as in NumPy
        out.append(f"{pad}{item} = {value}")
        out.append(f"{pad}if {compare}:")
        out.append(f"{pad}    {acc} = {item}")
        out.append(f"{pad}    {index} = {flat}")
        out.append(f"{index} = {self._cast(index, expr.dtype)}")
        return index

    def _selection(self, expr: ir.Reduce, loops: list[int], level: int, depth: list[list[str]],
                   memo: dict[tuple[ir.Expr, tuple[int, ...]], str]) -> str:
        """A reduction of ``data[mask]``: the selected elements, in C order, as NumPy compacts them.

        Float sums and means (and every mean) fill the selected values into a buffer and add
        it in NumPy's pairwise order, as NumPy sums the compacted array; other reductions and
        integer sums are exact in any order and accumulate as they go. The data is computed
        only where the mask selects it: element-wise, it cannot raise.
        """
        operand, mask = expr.operand, expr.mask
        assert operand is not None and mask is not None
        kind, dtype = expr.kind, expr.dtype
        inner_loops = loops[:level] + list(expr.axes)
        inner_depth = depth[:level + 1] + [[] for _ in expr.axes]
        gate = self._scalar_value(mask, inner_loops, inner_depth, memo)
        selected: list[str] = []
        value = self._scalar_value(operand, inner_loops, inner_depth, memo)
        out = depth[level]
        acc, count = self.names.fresh("acc"), self.names.fresh("cnt")
        nan_seen: str | None = None
        floats = kind in ("sum", "mean") and (dtype.kind in "fc" or kind == "mean")
        buffered = floats and self.pairwise is not None and operand.dtype.kind in "biuf" and (
            kind == "mean" or operand.dtype == dtype) and operand.dtype != np.float16
        out.append(f"{count} = 0")
        if buffered:
            run = self.names.fresh("t")
            size = " * ".join(self.extent(a) for a in expr.axes) or "1"
            out.append(f"{run} = {self.empty}(({size},), {self._dtype(operand.dtype)})")
            # Branch-free compaction: each value goes to the next free slot, kept if selected.
            selected = [f"{run}[{count}] = {value}"]
        else:
            if floats:
                self.reassociations.append(f"a {kind} of a selection of {operand.dtype} added sequentially "
                                           "(NumPy: pairwise)")
            if kind in ("sum", "prod", "mean"):
                wide = np.dtype(np.complex128 if dtype.kind == "c" else np.float64) if (
                    kind == "mean" or dtype.kind in "fc") else dtype
                start = "0" if kind != "prod" else "1"
                out.append(f"{acc} = {start}.0" if wide == np.float64 else f"{acc} = {self._cast(start, wide)}")
                # The identity for unselected elements (branch-free; x + 0 and x * 1 are x).
                selected = [f"{acc} = {acc} {'*' if kind == 'prod' else '+'} ({value} if {gate} else {start})"]
            elif kind in ("max", "min"):
                identity = self._identity(kind, dtype)
                out.append(f"{acc} = {identity}")
                if dtype.kind == "f":
                    nan_seen = self.names.fresh("nan")
                    out.append(f"{nan_seen} = False")
                selected = self._extreme(kind, acc, f"{value} if {gate} else {identity}", nan_seen, "")
            else:
                out.append(f"{acc} = {kind == 'all'}")
                selected = [f"if ({value}) {'!=' if kind == 'any' else '=='} 0:", f"    {acc} = {kind == 'any'}"]
        pad = ""
        for position, axis in enumerate(expr.axes):
            out.append(f"{pad}for i_{axis} in range({self.extent(axis)}):")
            pad += "    "
            out += [pad + line for line in inner_depth[level + 1 + position]]
        if kind not in ("any", "all"):
            out += [f"{pad}{line}" for line in selected]
            out.append(f"{pad}{count} += 1 if {gate} else 0")
        else:
            out.append(f"{pad}if {gate}:")
            out += [f"{pad}    {line}" for line in selected]
            out.append(f"{pad}    {count} += 1")
        if buffered:
            out.append(f"{acc} = {self.pairwise}.pairwise_{kind}({run}[:{count}])")
            return acc
        if kind in ("max", "min"):
            out.append(f"if {count} == 0:")
            out.append(f"    raise ValueError({_empty_message(kind)!r})")
        if nan_seen is not None:
            out.append(f"{acc} = {self._cast(f'{self.np}.nan', dtype)} if {nan_seen} else {acc}")
        if kind == "mean":
            out.append(f"{acc} = {self.np}.divide({acc}, {count})")  # none selected: nan, as NumPy
        if str(dtype) in _NARROW or (kind == "mean" and dtype not in (np.float64, np.complex128)):
            out.append(f"{acc} = {self._cast(acc, dtype)}")
        return acc

    def _keeps_order(self, expr: ir.Reduce, level: int) -> bool:
        """Whether a float sum or mean over one axis can be added in NumPy's pairwise order.

        NumPy sums a run pairwise where its inner loop walks it: a whole 1-d operand, or the
        last (contiguous) axis of operands of C-ordered arrays, row by row.
        """
        operand = expr.operand
        assert operand is not None
        if (self.pairwise is None or len(expr.axes) != 1 or operand.dtype not in (np.float64, np.float32)
                or expr.dtype != operand.dtype):
            return False
        axis = expr.axes[0]
        if not level:
            return ir.free_axes(operand) == {axis}
        along = [r for r in ir.reads(operand) if any(isinstance(i, ir.AxisIndex) and i.axis == axis for i in r.index)]
        return bool(along) and all(
            r.name in self.c_arrays and isinstance(r.index[-1], ir.AxisIndex) and r.index[-1].axis == axis
            for r in along)

    def _pairwise_run(self, expr: ir.Reduce, acc: str, value: str, out: list[str], body: list[str],
                      before: list[str]) -> None:
        """``acc`` = the sum (mean) of ``value`` along ``expr``'s axis, in NumPy's order.

        A run of an array is summed where it lies (a row view); a computed run shorter than 8 is
        added one element after another, which is NumPy's order for it (its pairwise sum starts
        blocks at 8); a longer one is computed one of NumPy's blocks at a time into a buffer and
        summed pairwise from the block sums. The blocks' lengths and how their sums add up depend
        on the run's length alone: computed once, in ``before`` (ahead of the statement's loops).
        The buffer is per run, on the stack unless the run is very long (``pairwise.stack_buffer``):
        inside a parallel loop each thread needs its own.
        """
        axis, dtype = expr.axes[0], expr.dtype
        extent = self.extent(axis)
        function = f"{self.pairwise}.pairwise_{expr.kind}"
        view = self._row_view(expr.operand, axis)  # type: ignore[arg-type]
        if view is not None:
            out.append(f"{acc} = {function}({view})")
            return
        run = self.names.fresh("t")
        lengths, program, start, base, block, length, offset = (
            self.names.fresh(n) for n in ("lens", "prog", "start", "base", "j", "m", "q"))
        # First: ``before`` is ``out`` itself for a reduction outside any loop.
        before.append(f"{lengths} = {self.pairwise}.leaf_lengths({extent})")
        before.append(f"{program} = {self.pairwise}.combine_program({extent})")
        zero = "0.0" if dtype == np.float64 else self._cast("0.0", dtype)
        out.append(f"if {extent} < 8:")
        out.append(f"    {acc} = {zero}")
        out.append(f"    for i_{axis} in range({extent}):")
        out += ["        " + line for line in body]
        out.append(f"        {acc} = {value} + {acc}")
        if expr.kind == "mean":
            mean = f"{self.np}.divide({acc}, {extent})"
            out.append(f"    {acc} = {mean if dtype == np.float64 else self._cast(mean, dtype)}")
        # Longer: block by block into the buffer's first NUMPY_BLOCK slots, each block summed as
        # NumPy sums it into the slots after them, the block sums added up NumPy's tree (see
        # ``pairwise``): the run is never stored whole.
        dtype_name = self._dtype(expr.operand.dtype)  # type: ignore[union-attr]
        out.append("else:")
        # On the stack where the block sums fit (no allocation per row), else on the heap.
        out.append(f"    if {lengths}.shape[0] <= {STACK_LEAVES}:")
        out.append(f"        {run} = {self.pairwise}.stack_buffer({dtype_name})")
        out.append("    else:")
        out.append(f"        {run} = {self.empty}(({NUMPY_BLOCK} + {lengths}.shape[0],), {dtype_name})")
        out.append(f"    {start} = 0")
        out.append(f"    for {block} in range({lengths}.shape[0]):")
        out.append(f"        {length} = {lengths}[{block}]")
        # max(): an index LLVM can prove non-negative spares every read Numba's negative-index
        # fix-up, which halves this loop's speed.
        out.append(f"        {base} = max({start}, 0)")
        out.append(f"        for {offset} in range({length}):")
        out.append(f"            i_{axis} = {base} + {offset}")
        out += ["            " + line for line in body]
        out.append(f"            {run}[{offset}] = {value}")
        out.append(f"        {run}[{NUMPY_BLOCK} + {block}] = {self.pairwise}.leaf_sum({run}, {length})")
        out.append(f"        {start} += {length}")
        sums = f"{run}[{NUMPY_BLOCK}:]"
        # One block (a row of at most 128): its sum as the helpers would return it, without their
        # call, which costs more than the sum of a short row.
        alone = f"{dtype_name}(0.0) + {run}[{NUMPY_BLOCK}]"
        if expr.kind == "sum":
            out.append(f"    {acc} = {alone} if {lengths}.shape[0] == 1 else {function}_of_leaves({program}, {sums})")
        else:
            out.append(f"    {acc} = {dtype_name}(({alone}) / {dtype_name}({extent})) if {lengths}.shape[0] == 1 "
                       f"else {function}_of_leaves({extent}, {program}, {sums})")
        self.sequential.append(block)  # a block of 128 is far too small to share among threads

    def _row_view(self, operand: ir.Expr, axis: int) -> str | None:
        """``a[i, j, :]`` when ``operand`` reads a whole run of an array along ``axis``, its last."""
        if not isinstance(operand, ir.Read) or not operand.index:
            return None
        last = operand.index[-1]
        if (not isinstance(last, ir.AxisIndex) or last.axis != axis or last.offset != "0"
                or self.builder.extents(axis) != [f"{operand.name}.shape[{len(operand.index) - 1}]"]):
            return None
        items = []
        for item in operand.index[:-1]:
            if isinstance(item, ir.FixedIndex):
                items.append(item.source)
            elif (item.axis, item.extent) in self._flags:
                return None
            else:
                items.append(f"i_{item.axis}" + ("" if item.offset == "0" else f" + {item.offset}"))
        return f"{operand.name}[{', '.join(items + [':'])}]"

    def _whole_array(self, expr: ir.Reduce, level: int, depth: list[list[str]]) -> str | None:
        """A whole 1-d float array summed (or averaged) by ``pairwise`` where it lies, at its stride."""
        operand = expr.operand
        if not (isinstance(operand, ir.Read) and self._keeps_order(expr, level) and not level
                and len(operand.index) == 1):
            return None
        index = operand.index[0]
        axis = expr.axes[0]
        if (not isinstance(index, ir.AxisIndex) or index.offset != "0" or (axis, index.extent) in self._flags
                or self.builder.extents(axis) != [f"{operand.name}.shape[0]"]):
            return None
        acc = self.names.fresh("acc")
        depth[0].append(f"{acc} = {self.pairwise}.pairwise_{expr.kind}({operand.name})")
        return acc

    def _identity(self, kind: str, dtype: np.dtype) -> str:
        if dtype.kind == "f":
            return f"-{self.np}.inf" if kind == "max" else f"{self.np}.inf"
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            return self._cast(str(info.min if kind == "max" else info.max), dtype)
        if dtype == np.bool_:
            return str(kind != "max")
        raise NotImplementedError(f"{kind} of {dtype}")


def _empty_message(kind: str) -> str:
    """NumPy's message for a max, min, argmax or argmin of nothing."""
    if kind in ("argmax", "argmin"):
        return f"attempt to get {kind} of an empty sequence"
    return f"zero-size array to reduction operation {_REDUCTION_NAMES[kind]} which has no identity"


def _reduce_outside(expr: ir.Reduce, loops: list[int], dtype: np.dtype) -> bool:
    """Whether ``expr``, stored over ``loops``, reads memory contiguously only with its reduction
    loops outside: every array it reads varies fastest (last index) along a stored axis."""
    if not loops or expr.kind not in ("sum", "prod", "mean", "max", "min") or set(loops) != ir.free_axes(expr):
        return False
    if expr.kind in ("sum", "prod", "mean"):
        # The array is the accumulator: only where the accumulator type is the result type.
        wide = np.dtype(np.complex128 if dtype.kind == "c" else np.float64) if dtype.kind in "fc" else dtype
        if wide != dtype or (expr.kind == "mean" and dtype != np.float64):
            return False
    reads = [r for r in ir.reads(expr.operand) if r.index]  # type: ignore[arg-type]
    if not reads:
        return False
    for read in reads:
        last = read.index[-1]
        if not isinstance(last, ir.AxisIndex) or last.axis not in loops:
            return False
    return any(isinstance(i, ir.AxisIndex) and i.axis in expr.axes for r in reads for i in r.index)


def _plain_power(expr: ir.Binary) -> bool:
    """``x ** 2``: a small constant integer power multiplies, and cannot raise."""
    right = expr.right
    return (expr.op == "**" and isinstance(right, ir.Scalar) and right.source.isdigit()
            and int(right.source) <= 4)


def _outer_offset(store: Store, loops: list[int]) -> int:
    """The constant offset of the outermost loop's index in a region store (0 if none)."""
    if not isinstance(store, Region) or not loops:
        return 0
    for item in store.target.index:
        if isinstance(item, ir.FixedIndex):
            return 0
        if item.axis == loops[0]:
            return int(item.offset) if item.offset.isdigit() and item.broadcast is None else 0
    return 0


def _accesses(expr: ir.Expr, store: Store) -> list[ir.Read]:
    """The array elements a nest reads: the expression's, and a Region store's own target."""
    return list(ir.reads(expr)) + ([store.target] if isinstance(store, Region) else [])


def _tidy(line: str) -> str:
    """``i - 1 + 2`` -> ``i + 1``: offsets folded after the outer loop was shifted."""
    import re

    def fold(match: re.Match[str]) -> str:
        total = -int(match.group(2)) + int(match.group(3) or 0)
        return match.group(1) if total == 0 else f"{match.group(1)} {'+' if total > 0 else '-'} {abs(total)}"

    return re.sub(r"\b(i\d+) - (\d+)(?: \+ (\d+))?(?![\d*])", fold, line)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return not text.startswith("-")


def _substitute(line: str, loop_vars: dict[int, str]) -> str:
    import re

    return re.sub(r"\bi_(\d+)\b", lambda m: loop_vars.get(int(m.group(1)), m.group(0)), line)


def rename_loops(lines: list[str], names: Names) -> list[str]:
    """Give the reduction loops (still called ``i_<axis>``) fresh readable names."""
    import re

    mapping: dict[str, str] = {}

    def fresh(match: re.Match[str]) -> str:
        if match.group(0) not in mapping:
            mapping[match.group(0)] = names.fresh("k")
        return mapping[match.group(0)]

    return [re.sub(r"\bi_\d+\b", fresh, line) for line in lines]


__all__ = ["Emitter", "Names", "NewArray", "Region", "ScalarStore", "rename_loops", "replace"]
