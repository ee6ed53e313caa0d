"""``exp`` and ``log`` that LLVM can vectorize, for the loops the devectorizer emits (Numba only).

NumPy computes ``np.exp`` and ``np.log`` of a float array with SIMD code (AVX2/AVX-512), about
1 ns an element here. A Numba loop calls the C library's scalar ``exp`` once per element, which
LLVM cannot vectorize (pip's llvmlite has no vector math library): about 3.3 ns. So a fused loop
bound by ``exp`` lost to the NumPy original it was fusing (softmax, log-sum-exp, Gaussian kernels
ran at 0.45-0.85x). These functions are straight-line arithmetic and bit moves with selects, no
calls and no branches, so LLVM inlines and vectorizes them in the caller's loop: 1.0 ns for
``exp`` and 0.9 ns for ``log`` per element in a Numba loop, within 1 ulp of NumPy's results (as the
C library's are), with NumPy's results for every special value (NaN, +-inf, +-0, negative
arguments, subnormal arguments and results, overflow to inf). ``hypot`` (and ``np.abs`` of a
complex number, which NumPy computes with SIMD code) is within 2 ulp: 0.7 ns where the C
library's ``hypot`` takes 15 ns.

- ``exp``: ``x = k ln2 + r`` with ``|r| <= ln2 / 2`` (Cody-Waite: ``ln2`` in two parts, so ``r``
  is exact), ``exp(r)`` by its Taylor polynomial to degree 13 (truncation below 1e-17), and
  ``2**k`` applied in two factors, each built from its exponent bits, so that results near
  overflow and subnormal results round once, like the correctly scaled value.
- ``log``: fdlibm's ``__ieee754_log``: ``x = 2**e m`` with ``m`` in ``[sqrt(2)/2, sqrt(2))``,
  ``log(m) = f - f**2/2 + s (f**2/2 + R(s**2))`` with ``s = f / (2 + f)``; subnormal ``x`` are
  scaled by ``2**52`` first.

float32 callers convert to float64 and back (the emitter adds the cast), one rounding from a
result within 1 ulp of float64: within NumPy's own float32 error. The functions are compiled
with NumPy's error model: Python's would raise ZeroDivisionError, a branch that stops LLVM from
vectorizing the loop. Like ``pairwise``, this module imports Numba and only generated modules
import it.
"""

from __future__ import annotations

import math
from typing import Any

from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.core.extending import intrinsic

#: The NumPy ufuncs this module computes (their NumPy names), and the function computing each.
#: ``absolute`` is of a complex number: float absolute values are no call.
FUNCTIONS = {"exp": "exp", "log": "log", "hypot": "hypot", "absolute": "cabs"}

_LOG2E = 1.4426950408889634
# ln 2 in two parts: k * _LN2_HI is exact for |k| < 2**11, so x - k ln 2 loses nothing.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# exp(x) is inf above ~709.78 and 0 below ~-745.13; clamping keeps k's conversion to an integer
# defined (NaN is restored at the end) without changing either result.
_EXP_LOW, _EXP_HIGH = -746.0, 710.0
# fdlibm's log coefficients (a minimax R(z) on s**2 in [0, 0.1716]).
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SMALLEST_NORMAL = 2.2250738585072014e-308
_TWO_52 = 4503599627370496.0
_MANTISSA = 0xFFFFFFFFFFFFF
_SQRT2_MANTISSA = 0x6A09E667F3BCD  # the mantissa bits of sqrt(2)


def _bit_cast(source: types.Type, target: types.Type, llvm_target: llvm_ir.Type) -> Any:
    """A Numba intrinsic that reinterprets a value's 64 bits as another type (LLVM vectorizes it)."""
    def typer(typingctx, value):  # type: ignore[no-untyped-def]
        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            return builder.bitcast(args[0], llvm_target)
        return target(source), codegen
    return intrinsic(typer)


_float_from_bits = _bit_cast(types.int64, types.float64, llvm_ir.DoubleType())
_bits_from_float = _bit_cast(types.float64, types.int64, llvm_ir.IntType(64))


@njit(cache=True, error_model="numpy")
def exp(x):  # type: ignore[no-untyped-def]
    """``np.exp`` of a float64, within 1 ulp, vectorizable."""
    x = float(x)
    clamped = min(max(x, _EXP_LOW), _EXP_HIGH)
    kf = math.floor(clamped * _LOG2E + 0.5)
    r = (clamped - kf * _LN2_HI) - kf * _LN2_LO
    p = 1.0 + r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (
        1 / 720 + r * (1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (1 / 3628800 + r * (
            1 / 39916800 + r * (1 / 479001600 + r * (1 / 6227020800)))))))))))))
    k = int(kf)
    half = k >> 1
    scaled = p * _float_from_bits((half + 1023) << 52) * _float_from_bits((k - half + 1023) << 52)
    return x if x != x else scaled


@njit(cache=True, error_model="numpy")
def log(x):  # type: ignore[no-untyped-def]
    """``np.log`` of a float64, within 1 ulp, vectorizable."""
    x = float(x)
    subnormal = x < _SMALLEST_NORMAL
    bits = _bits_from_float(x * _TWO_52 if subnormal else x)
    exponent = ((bits >> 52) & 0x7FF) - (1023 + 52 if subnormal else 1023)
    mantissa = bits & _MANTISSA
    above = mantissa > _SQRT2_MANTISSA  # m in [sqrt(2), 2): halve it
    m = _float_from_bits(mantissa | ((1022 if above else 1023) << 52))
    dk = float(exponent + (1 if above else 0))
    f = m - 1.0
    half_f2 = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
    y = dk * _LN2_HI - ((half_f2 - (s * (half_f2 + r) + dk * _LN2_LO)) - f)
    y = y if x < math.inf else x
    y = y if x != 0.0 else -math.inf
    return y if x >= 0.0 else math.nan


@njit(cache=True, error_model="numpy")
def hypot(x, y):  # type: ignore[no-untyped-def]
    """``np.hypot`` of two float64, within 2 ulp, vectorizable: the larger times
    ``sqrt(1 + (smaller / larger)**2)``, which neither overflows nor underflows early."""
    x, y = float(x), float(y)
    ax, ay = abs(x), abs(y)
    big = ax if ax > ay else ay
    small = ay if ax > ay else ax
    ratio = small / big
    h = big * math.sqrt(1.0 + ratio * ratio)
    h = h if big > 0.0 else 0.0  # both zero: 0 / 0 above
    h = h if (x == x) & (y == y) else math.nan
    return math.inf if (ax == math.inf) | (ay == math.inf) else h  # inf even beside a NaN


@njit(cache=True, error_model="numpy")
def cabs(z):  # type: ignore[no-untyped-def]
    """``np.abs`` of a complex number (NumPy's is SIMD too), as ``hypot`` of its parts."""
    return hypot(z.real, z.imag)
