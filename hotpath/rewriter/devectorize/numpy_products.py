"""Matrix products for Numba code, computed by NumPy's own call: the original's result, bit for bit.

Numba compiles ``a @ b`` and ``np.dot(a, b)`` to calls into SciPy's BLAS, while NumPy calls the
BLAS it ships with, and picks the routine itself (``gemm``, ``gemv``, ``syrk`` for ``a @ a.T``,
its own loops for some strides): another library and sometimes another routine, so another
summation order and, on inputs with cancellation, another answer. A variant calling Numba's
product reassociates (``reduction_order``) and was tried only at a loose tolerance.

``matmul(a, b)`` and ``dot(a, b)`` hand the operands to NumPy in ``numba.objmode`` and return
its result, typed from the operands' types (a fresh C-ordered array, or a scalar for two
vectors): about 2 us a call, nothing for a product of any size, a lot inside a loop of tiny
products, which is why they replace Numba's products only where the tolerance forbids
reassociation. Integer and boolean products are left to Numba (exact in any order); operands
that are not arrays fail to type, so the candidate fails to build rather than being wrong.

Like ``pairwise``, this module imports Numba and only generated modules import it.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import types
from numba.extending import overload


def matmul(a: np.ndarray, b: np.ndarray) -> Any:
    """``a @ b`` (``np.matmul``), as NumPy computes it."""
    return np.matmul(a, b)


def dot(a: np.ndarray, b: np.ndarray) -> Any:
    """``np.dot(a, b)`` (``a.dot(b)``), as NumPy computes it."""
    return np.dot(a, b)


def _result_type(a: types.Type, b: types.Type, ndim: int) -> types.Type | None:
    if not (isinstance(a, types.Array) and isinstance(b, types.Array)):
        return None
    dtype = np.result_type(np.dtype(str(a.dtype)), np.dtype(str(b.dtype)))
    if dtype.kind not in "fc":
        return None
    element = numba.from_dtype(dtype)
    return element if ndim == 0 else types.Array(element, ndim, "C")


def _interpreted(function: Any, result: types.Type) -> Any:
    """An implementation that calls NumPy's ``function`` in the interpreter, typed ``result``."""
    def impl(a, b):  # type: ignore[no-untyped-def]
        with numba.objmode(out=result):
            out = function(a, b)
        return out
    return impl


@overload(matmul)
def _matmul_impl(a, b):  # type: ignore[no-untyped-def]
    if not (isinstance(a, types.Array) and isinstance(b, types.Array)):
        return None
    # NumPy's rule: vectors lose their axis in the result, stacks of matrices broadcast.
    ndim = 0 if a.ndim == b.ndim == 1 else max(a.ndim, b.ndim) - (1 if min(a.ndim, b.ndim) == 1 else 0)
    result = _result_type(a, b, ndim)
    return None if result is None else _interpreted(np.matmul, result)


@overload(dot)
def _dot_impl(a, b):  # type: ignore[no-untyped-def]
    if not (isinstance(a, types.Array) and isinstance(b, types.Array)):
        return None
    result = _result_type(a, b, max(a.ndim + b.ndim - 2, 0))
    return None if result is None else _interpreted(np.dot, result)
