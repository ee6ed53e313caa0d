"""Elementary functions LLVM can vectorize, for the loops the devectorizer emits (Numba only).

NumPy computes ``exp``, ``log``, ``expm1``, ``log1p`` and the absolute value of complex numbers
with SIMD code (AVX2/AVX-512), about 1 ns an element here. A Numba loop calls the C library's
scalar function once per element, which LLVM cannot vectorize (pip's llvmlite has no vector math
library): 3-15 ns. So a fused loop bound by them lost to the NumPy original it was fusing
(softmax, log-sum-exp, Gaussian kernels ran at 0.45-0.85x, a complex chain around ``np.abs`` at
0.48x). These functions are straight-line arithmetic and bit moves with selects, no calls and no
branches, so LLVM inlines and vectorizes them in the caller's loop (about 1 ns), and they return
NumPy's results for every special value (NaN, +-inf, +-0, negative arguments, subnormal arguments
and results, overflow). Their distance from NumPy's results, over random bit patterns:

- ``exp`` (1 ulp): ``x = k ln2 + r`` with ``|r| <= ln2 / 2`` (Cody-Waite: ``ln2`` in two parts,
  so ``r`` is exact), ``exp(r)`` by its Taylor polynomial to degree 13 (truncation below 1e-17),
  ``2**k`` applied in two factors built from their exponent bits, so that results near overflow
  and subnormal results round once.
- ``log`` (1 ulp): fdlibm's ``__ieee754_log``: ``x = 2**e m`` with ``m`` in
  ``[sqrt(2)/2, sqrt(2))``, ``log(m) = f - f**2/2 + s (f**2/2 + R(s**2))`` with
  ``s = f / (2 + f)``; subnormal ``x`` scaled by ``2**52`` first.
- ``expm1`` (4 ulp): the Taylor polynomial where ``exp(x) - 1`` would cancel, ``exp(x) - 1``
  outside. ``log1p`` (1 ulp): ``log(1 + x)`` corrected by what rounding ``1 + x`` lost.
- ``tanh`` (4 ulp): ``expm1(2x) / (expm1(2x) + 2)`` with ``x`` clamped to ``[-22, 22]`` (beyond,
  ``tanh`` rounds to +-1), which neither cancels, overflows nor underflows. Numba inlines it into the caller (``inline="always"``):
  left to LLVM, ``tanh`` with the ``expm1`` and ``exp`` it calls is over LLVM's inlining threshold,
  and a loop calling it stays scalar.
- ``hypot`` and ``cabs`` (2 ulp): the larger part times ``sqrt(1 + (smaller / larger)**2)``.

Each is compiled ``forceinline`` (LLVM's ``alwaysinline``): left to LLVM's inliner, a call in a
loop that LLVM guesses is rarely reached stays a call, and the loop scalar. LLVM guesses so from
the branches before the loop: each check that can raise (Numba's own, in allocations and
reshapes, and the fused code's broadcast checks) is taken as half likely, so deep in a big fused
function a loop looks colder than 2% of the entry, where the inliner's threshold drops to 45
(``isoneutral_mixing``'s bottom-face triads: the second ``tanh`` loop called ``expm1`` per
element, 14 ns, against 3 ns inlined and vectorized).

The C library is within 1 ulp of NumPy too; the verifier's tolerance is 1e-9 relative. float32
callers convert to float64 and back (the emitter adds the cast): one rounding, within NumPy's
own float32 error. The functions are compiled with NumPy's error model: Python's would raise
ZeroDivisionError, a branch that stops LLVM from vectorizing the loop; for the same reason a
value is computed before a conditional expression chooses it, never inside one. Like
``pairwise``, this module imports Numba and only generated modules import it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.core.extending import intrinsic

#: The NumPy ufuncs this module computes (their NumPy names), and the function computing each.
#: ``absolute`` is of a complex number: float absolute values are no call.
FUNCTIONS = {"exp": "exp", "log": "log", "expm1": "expm1", "log1p": "log1p", "tanh": "tanh", "hypot": "hypot",
             "absolute": "cabs"}

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
# expm1: its Taylor polynomial (degree 14: truncation below 3e-19 relative) where exp(x) - 1
# would cancel; outside, exp(x) - 1 cancels at most 2 bits.
_EXPM1_TAYLOR = 0.34657359027997264  # ln(2) / 2
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


@njit(cache=True, error_model="numpy", forceinline=True)
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


@njit(cache=True, error_model="numpy", forceinline=True)
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


@njit(cache=True, error_model="numpy", forceinline=True)
def expm1(x):  # type: ignore[no-untyped-def]
    """``np.expm1`` of a float64, within 4 ulp, vectorizable (``-0.0`` stays ``-0.0``)."""
    x = float(x)
    taylor = x * (1.0 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24 + x * (1 / 120 + x * (1 / 720 + x * (
        1 / 5040 + x * (1 / 40320 + x * (1 / 362880 + x * (1 / 3628800 + x * (1 / 39916800 + x * (
            1 / 479001600 + x * (1 / 6227020800 + x * (1 / 87178291200))))))))))))))
    # Both computed, then selected: a call inside a conditional expression is a branch.
    direct = exp(x) - 1.0
    return taylor if abs(x) < _EXPM1_TAYLOR else direct  # NaN: exp's NaN


@njit(cache=True, error_model="numpy", forceinline=True)
def log1p(x):  # type: ignore[no-untyped-def]
    """``np.log1p`` of a float64, within 2 ulp, vectorizable: ``log(1 + x)`` corrected by what
    rounding ``1 + x`` lost (Goldberg)."""
    x = float(x)
    u = 1.0 + x
    y = log(u) - ((u - 1.0) - x) / u
    y = y if u != 1.0 else x  # |x| below half an ulp of 1 (and -0.0, which stays -0.0)
    y = y if u != 0.0 else -math.inf
    return y if x != math.inf else x


@njit(cache=True, error_model="numpy", inline="always", forceinline=True)
def tanh(x):  # type: ignore[no-untyped-def]
    """``np.tanh`` of a float64, within 4 ulp, vectorizable (``-0.0`` stays ``-0.0``, -inf is -1)."""
    x = float(x)
    # Beyond +-22 tanh rounds to +-1. Clamped there, exp never underflows: a subnormal or zero
    # result costs a microcode assist per element (about 10 ns) for the common saturated inputs.
    e = expm1(2.0 * min(max(x, -22.0), 22.0))
    # Inlined, the body takes the caller's error model: Python's checks a division for zero, a
    # branch that keeps the loop scalar. np.divide never raises.
    t = np.divide(e, e + 2.0)
    return x if x != x else t


@njit(cache=True, error_model="numpy", forceinline=True)
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


@njit(cache=True, error_model="numpy", forceinline=True)
def cabs(z):  # type: ignore[no-untyped-def]
    """``np.abs`` of a complex number (NumPy's is SIMD too), as ``hypot`` of its parts."""
    return hypot(z.real, z.imag)
