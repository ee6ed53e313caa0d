"""NumPy's summation order, for Numba-compiled code: ``sum`` and ``mean`` that match NumPy bit for bit.

``np.add.reduce`` over a float array sums pairwise (``pairwise_sum`` in NumPy's
``loops_utils.h.src``): blocks of at most 128 elements are summed with 8 interleaved
accumulators, combined as ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`` plus the
leftover elements, and longer ranges are split in two halves (a multiple of 8 on the left) whose
sums are added. Numba's own ``np.sum`` adds sequentially, so on inputs with cancellation
(``1e16, 1, -1e16``) it returns another number than the original. The generated modules call
these functions instead wherever the function sums a whole float array, so a compiled variant
returns what NumPy returns, not merely something close.

Which layouts keep NumPy's order: any 1-d array (NumPy sums it with its stride), and C- or
F-contiguous arrays of any rank (NumPy's iterator walks them in memory order as one flat run).
Other n-d layouts, float16 and complex arrays are refused when the caller is compiled (a
typing error, so the candidate fails to build rather than being wrong); integer and boolean
sums are exact in any order and use Numba's ``np.sum``. The integer ``mean`` follows NumPy's
conversion to float64 in buffers of ``BUFFER`` elements, each summed pairwise.

Like ``hugepages``, this module imports Numba and is imported only by the generated modules.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array, populate_array

#: NumPy's block: ranges up to this long are summed by one unrolled loop.
BLOCK = 128
#: NumPy's default buffer (``np.getbufsize()``): integers are cast to float64 this many at a time.
BUFFER = 8192
_U = np.uintp
#: Block sums a ``stack_buffer`` has room for: NumPy's tree cuts a run of up to 8192 elements
#: into at most 64 blocks.
STACK_LEAVES = 64
_STACK = 192  # pending tasks; the tree is at most log2(n / 64) deep, three tasks a level


def _leaf(a, start, n):  # type: ignore[no-untyped-def]
    """NumPy's sum of ``a[start:start + n]`` for ``n <= BLOCK``; ``n >= 1``."""
    # Unsigned indices: Numba adds a negative-index fix-up to every signed index it cannot
    # prove non-negative, which costs this loop half its speed.
    s, end = _U(start), _U(start + n)
    if n < 8:
        res = a[s]  # NumPy starts from -0.0, and -0.0 + x is x (even for x = -0.0)
        for i in range(s + _U(1), end):
            res += a[i]
        return res
    u1, u2, u3, u4, u5, u6, u7, u8 = _U(1), _U(2), _U(3), _U(4), _U(5), _U(6), _U(7), _U(8)
    r0, r1, r2, r3 = a[s], a[s + u1], a[s + u2], a[s + u3]
    r4, r5, r6, r7 = a[s + u4], a[s + u5], a[s + u6], a[s + u7]
    stop = s + _U(n - n % 8)
    for i in range(s + u8, stop, u8):
        r0 += a[i]
        r1 += a[i + u1]
        r2 += a[i + u2]
        r3 += a[i + u3]
        r4 += a[i + u4]
        r5 += a[i + u5]
        r6 += a[i + u6]
        r7 += a[i + u7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(stop, end):
        res += a[i]
    return res


_leaf_jit = njit(cache=True)(_leaf)


def _tree(a, start, n):  # type: ignore[no-untyped-def]
    """NumPy's pairwise sum of ``a[start:start + n]``, ``n >= 1``, without recursion.

    A task stack evaluates the split tree in NumPy's order: left half, right half, then their
    sum (``kind`` 0: a range to sum, 1: add the two values on top of the value stack).
    """
    if n <= BLOCK:
        return _leaf_jit(a, start, n)
    kinds = np.empty(_STACK, np.int8)
    starts = np.empty(_STACK, np.intp)
    lengths = np.empty(_STACK, np.intp)
    values = np.empty(_STACK, a.dtype)
    tasks, top = 1, 0
    kinds[0], starts[0], lengths[0] = 0, start, n
    while tasks:
        tasks -= 1
        if kinds[tasks] == 1:
            top -= 1
            values[top - 1] = values[top - 1] + values[top]
            continue
        s, m = starts[tasks], lengths[tasks]
        if m <= BLOCK:
            values[top] = _leaf_jit(a, s, m)
            top += 1
            continue
        half = m // 2
        half -= half % 8
        kinds[tasks] = 1
        kinds[tasks + 1], starts[tasks + 1], lengths[tasks + 1] = 0, s + half, m - half
        kinds[tasks + 2], starts[tasks + 2], lengths[tasks + 2] = 0, s, half
        tasks += 3
    return values[0]


_tree_jit = njit(cache=True)(_tree)


# A sum of a computed run (``np.sum((a - b) ** 2)``) need not be stored whole to be added in
# NumPy's order: the split tree depends on the length alone, and its leaves are consecutive
# blocks. The generated loop fills one block at a time into a small buffer (``leaf_lengths``
# says how long each is), sums it as NumPy's leaf does (``leaf_sum``), and the block sums are
# added up the same tree (``combine_program``, ``pairwise_sum_of_leaves``): one pass, the
# temporary in L1. The lengths and the tree depend on the run's length alone, so a loop over
# rows computes them once; each row allocates one buffer for its block and its block sums.


def _leaf_lengths(n):  # type: ignore[no-untyped-def]
    """The lengths of the blocks NumPy's pairwise sum of ``n >= 1`` elements adds, left to right."""
    out = np.empty(n // 64 + 2, np.intp)
    if n <= BLOCK:
        out[0] = n
        return out[:1]
    pending = np.empty(_STACK, np.intp)
    tasks, count = 1, 0
    pending[0] = n
    while tasks:
        tasks -= 1
        m = pending[tasks]
        if m <= BLOCK:
            out[count] = m
            count += 1
            continue
        half = m // 2
        half -= half % 8
        pending[tasks], pending[tasks + 1] = m - half, half  # the left half on top: it comes first
        tasks += 2
    return out[:count]


leaf_lengths = njit(cache=True)(_leaf_lengths)


@intrinsic
def stack_buffer(typingctx, dtype):  # type: ignore[no-untyped-def]
    """A 1-d array of ``BLOCK + STACK_LEAVES`` elements of ``dtype`` (``np.float64``) on the
    caller's stack, for a run's blocks and block sums: a row sum inside a loop costs no heap
    allocation (with short rows, the allocation cost more than the sum). The slot is reserved
    once in the caller's entry block, so each call site reuses its own memory, and each thread
    of a parallel loop (its own call of the loop body) has its own. The array must not outlive
    the call: it owns no memory."""
    if not isinstance(dtype, types.NumberClass):
        return None
    array_type = types.Array(dtype.instance_type, 1, "C")

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        element = context.get_data_type(dtype.instance_type)
        length = BLOCK + STACK_LEAVES
        data = cgutils.alloca_once(builder, element, size=length)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(element))
        array = make_array(array_type)(context, builder)
        populate_array(array, data=data, shape=[context.get_constant(types.intp, length)], strides=[itemsize],
                       itemsize=itemsize, meminfo=None)
        return array._getvalue()

    return array_type(dtype), codegen


@njit(cache=True)
def leaf_sum(buffer, n):  # type: ignore[no-untyped-def]
    """NumPy's sum of a block: ``buffer[:n]``, ``1 <= n <= BLOCK``."""
    return _leaf_jit(buffer, 0, n)


def _combine_program(n):  # type: ignore[no-untyped-def]
    """How the block sums of ``n >= 1`` elements are added: NumPy's split tree in postfix order.

    ``0`` takes the next block sum, ``1`` adds the two values on top. ``_tree``'s walk, recorded
    once per length so that each row's addition (``_run_program``) allocates nothing; ``_tree``
    keeps its own walk rather than summing every block first: that costs a stored array's sum
    5-20%.
    """
    program = np.empty(2 * (n // 64) + 4, np.int8)  # at most n // 64 + 2 blocks, one addition fewer
    if n <= BLOCK:
        program[0] = 0
        return program[:1]
    pending = np.empty(_STACK, np.intp)  # a length to split, or -1: add
    tasks, count = 1, 0
    pending[0] = n
    while tasks:
        tasks -= 1
        m = pending[tasks]
        if m < 0 or m <= BLOCK:
            program[count] = 1 if m < 0 else 0
            count += 1
            continue
        half = m // 2
        half -= half % 8
        pending[tasks], pending[tasks + 1], pending[tasks + 2] = -1, m - half, half
        tasks += 3
    return program[:count]


combine_program = njit(cache=True)(_combine_program)


def _run_program(program, sums):  # type: ignore[no-untyped-def]
    """The sum ``program`` (``combine_program``) makes of the block sums ``sums``, which it overwrites.

    The value stack lives in ``sums`` itself: it never holds more values than blocks taken so far.
    """
    top, leaf = 0, 0
    for op in program:
        if op == 0:
            sums[top] = sums[leaf]
            top += 1
            leaf += 1
        else:
            top -= 1
            sums[top - 1] = sums[top - 1] + sums[top]
    return sums[0]


_run_program_jit = njit(cache=True)(_run_program)


def _flat(a):  # type: ignore[no-untyped-def]
    """``a`` as the 1-d run NumPy's iterator sums, or a typing error where that is not reproduced."""
    if a.ndim == 1:
        return lambda a: a
    if a.layout == "C":
        return lambda a: a.reshape(a.size)
    if a.layout == "F":
        return lambda a: a.T.reshape(a.size)
    raise TypingError(f"hotpath: NumPy's summation order over a non-contiguous {a.ndim}-d array "
                      "is not reproduced")


def _float_kind(a) -> type | None:  # type: ignore[no-untyped-def]
    if a.dtype == types.float64:
        return np.float64
    if a.dtype == types.float32:
        return np.float32
    return None


def pairwise_sum(a: np.ndarray) -> object:
    """``np.sum(a)`` (no axis) in NumPy's order; in Python it is ``np.sum`` itself."""
    return np.sum(a)


def pairwise_mean(a: np.ndarray) -> object:
    """``np.mean(a)`` (no axis) in NumPy's order; in Python it is ``np.mean`` itself."""
    return np.mean(a)


def _refuse(a, what: str) -> None:  # type: ignore[no-untyped-def]
    raise TypingError(f"hotpath: NumPy's {what} order of {a.dtype} arrays is not reproduced")


@overload(pairwise_sum)
def _sum_impl(a):  # type: ignore[no-untyped-def]
    if not isinstance(a, types.Array):
        return None
    kind = _float_kind(a)
    if kind is None:
        if isinstance(a.dtype, (types.Integer, types.Boolean)):
            return lambda a: np.sum(a)  # integer sums are exact in any order
        _refuse(a, "summation")
    flat = njit(_flat(a))
    zero = kind(0.0)  # type: ignore[misc]

    def impl(a):  # type: ignore[no-untyped-def]
        v = flat(a)
        if v.size == 0:
            return zero
        # NumPy adds the pairwise sum to the identity 0.0 (so a sum of -0.0 is 0.0).
        return zero + _tree_jit(v, 0, v.size)

    return impl


def pairwise_sum_of_leaves(program: np.ndarray, sums: np.ndarray) -> object:
    """What ``pairwise_sum`` returns for the elements whose blocks summed to ``sums`` (overwritten);
    ``program`` is ``combine_program`` of their number."""
    return sums.dtype.type(0.0) + _run_program(program, sums)


def pairwise_mean_of_leaves(n: int, program: np.ndarray, sums: np.ndarray) -> object:
    """What ``pairwise_mean`` returns for ``n >= 1`` elements whose blocks summed to ``sums``."""
    kind = sums.dtype.type
    return kind((kind(0.0) + _run_program(program, sums)) / kind(n))


@overload(pairwise_sum_of_leaves)
def _sum_of_leaves_impl(program, sums):  # type: ignore[no-untyped-def]
    kind = _float_kind(sums) if isinstance(sums, types.Array) else None
    if kind is None:
        return None
    zero = kind(0.0)
    return lambda program, sums: zero + _run_program_jit(program, sums)


@overload(pairwise_mean_of_leaves)
def _mean_of_leaves_impl(n, program, sums):  # type: ignore[no-untyped-def]
    kind = _float_kind(sums) if isinstance(sums, types.Array) else None
    if kind is None:
        return None
    zero = kind(0.0)
    return lambda n, program, sums: kind((zero + _run_program_jit(program, sums)) / kind(n))


@overload(pairwise_mean)
def _mean_impl(a):  # type: ignore[no-untyped-def]
    if not isinstance(a, types.Array):
        return None
    kind = _float_kind(a)
    if kind is None:
        if not isinstance(a.dtype, (types.Integer, types.Boolean)):
            _refuse(a, "mean's summation")
        flat = njit(_flat(a))

        def int_impl(a):  # type: ignore[no-untyped-def]
            v = flat(a)
            n = v.size
            if n == 0:
                return np.nan
            # NumPy casts to float64 through its buffer: each buffer is summed pairwise and
            # added to the running total.
            buffer = np.empty(min(n, BUFFER), np.float64)
            total = 0.0
            for start in range(0, n, BUFFER):
                m = min(BUFFER, n - start)
                for i in range(m):
                    buffer[i] = v[start + i]
                total = total + _tree_jit(buffer, 0, m)
            return total / n

        return int_impl
    flat = njit(_flat(a))
    zero = kind(0.0)

    def impl(a):  # type: ignore[no-untyped-def]
        v = flat(a)
        n = v.size
        if n == 0:
            return kind(np.nan)
        # NumPy divides in the array's precision (np.float32(s) / n is float32).
        return kind((zero + _tree_jit(v, 0, n)) / kind(n))

    return impl


__all__ = ["BLOCK", "BUFFER", "combine_program", "leaf_lengths", "leaf_sum", "pairwise_mean",
           "pairwise_mean_of_leaves", "pairwise_sum", "pairwise_sum_of_leaves"]
