"""Where a C double becomes a Python object, the Cython emitter boxes it as the object the original
held: ``np.float64`` for values computed from array elements, a Python float for literals, and,
for a local that holds either by path, whichever it holds now (a flag kept beside it).

The emitter tests are fast (no build); the end-to-end ones build with Cython and are slow.
"""

import ast
import inspect
import textwrap

import numpy as np
import pytest

import hotpath
from hotpath.kernels import get_backend
from hotpath.kernels.cython_emit import BOX, FLAG, IEEE_DIV, PY_INT, emit_function
from hotpath.kernels.cython_types import NP, PY, TAGGED, infer
from hotpath.signature import signature_of
from tests import cython_kernels as k

NUMPY = frozenset({"np"})


def tree(fn) -> ast.FunctionDef:
    return ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]  # type: ignore[return-value]


def emitted(fn, *args) -> str:
    return emit_function(tree(fn), signature_of(args), frozenset(), NUMPY, {}).source


def test_a_local_holding_python_or_numpy_scalar_by_path_is_flagged():
    a = np.linspace(1.0, 2.0, 10)
    scope = infer(tree(k.largest_gain), signature_of((a,)), frozenset(), NUMPY, {})
    assert scope.origins["best"] == TAGGED
    assert scope.origins["low"] == NP and scope.origins["gain"] == NP and scope.origins["i"] == PY
    source = emitted(k.largest_gain, a)
    assert f"cdef bint {FLAG}best = False" in source
    assert f"{FLAG}best = True" in source and f"{FLAG}best = False" in source
    assert f"return {BOX}(best) if {FLAG}best else best" in source
    assert f"gain = {IEEE_DIV}(_mv_a[i] - low, low)" in source


def test_numpy_scalar_meeting_a_python_object_is_boxed_as_numpy_s():
    # an int step stays a Python object: the division runs in Python, on NumPy's scalar as in the original
    source = emitted(k.bin_index, np.zeros(4), 0.0, 2)
    assert f"{PY_INT}({BOX}(_mv_x[i] - origin) / step)" not in source  # an object: Python's int already
    assert f"int({BOX}(_mv_x[i] - origin) / step)" in source


def test_division_of_a_numpy_scalar_is_ieee_and_of_python_floats_python_s():
    # a float step is a C double: the division is C's, IEEE like NumPy's (cdivision or not)
    source = emitted(k.bin_index, np.zeros(4), 0.0, 0.5)
    assert f"_mv_out[i] = {PY_INT}({IEEE_DIV}(_mv_x[i] - origin, step))" in source  # Python's int(), not a C cast

    def python_division(x, a, b):
        return a / b + x[0]

    def in_place(x, b):
        t = x[0]
        t /= b
        return t

    assert IEEE_DIV not in emitted(python_division, np.zeros(2), 1.0, 0.0)  # 1.0 / 0.0 raises in Python
    assert f"t = {IEEE_DIV}(t, b)" in emitted(in_place, np.zeros(2), 0.0)


def test_python_floats_stay_python_floats():
    def mean_of_literals(n):
        total = 0.0
        for i in range(n):
            total += 0.5
        return total

    source = emitted(mean_of_literals, 3)
    assert BOX + "(" not in source and FLAG not in source


def test_float32_elements_are_not_claimed():
    def first(a):
        v = a[0] * 2.0
        return v

    source = emitted(first, np.zeros(3, dtype=np.float32))
    assert BOX + "(" not in source  # float32 arithmetic keeps its width: not tracked, left as before


@pytest.fixture(scope="module")
def cython_only(fast):
    return fast.replace(backends=("cython",))


def verified_variant(result):
    """The first Cython candidate verification passed, loaded and called directly (whether or not
    it was fast enough to be installed)."""
    passed = [t for t in result.trials if t.backend == "cython" and t.correct]
    assert passed, result.summary()
    return get_backend("cython").load(passed[0].candidate)


@pytest.mark.slow
def test_returned_scalar_type_follows_the_path_taken(cython_only):
    rising = np.linspace(1.0, 2.0, 5000)
    prices = 100.0 + np.cumsum(np.random.default_rng(4).normal(0.0, 1.0, 5000))
    variant = verified_variant(hotpath.tune(k.largest_gain, prices, config=cython_only))
    # a gain found: np.float64; none (falling, all NaN, one value): the Python float 0.0
    for a in (prices, rising[::-1].copy(), np.full(7, np.nan), np.array([3.0]), prices * 2.0, rising):
        expected, got = k.largest_gain(a), variant(a)
        assert type(got) is type(expected) and got == expected


@pytest.mark.slow
def test_division_of_numpy_scalar_by_python_zero_is_numpy_s(cython_only):
    x = np.random.default_rng(5).normal(0.0, 1.0, 5000)
    variant = verified_variant(hotpath.tune(k.bin_index, x, -3.0, 0.25, config=cython_only))
    with np.errstate(divide="ignore", invalid="ignore"):
        for step in (0.0, -0.0):  # inf (and -inf): int() raises OverflowError, not ZeroDivisionError
            with pytest.raises(OverflowError):
                k.bin_index(x, -3.0, step)
            with pytest.raises(OverflowError):
                variant(x, -3.0, step)
        with pytest.raises(ValueError):  # NaN: int() raises, where a C cast would give a number
            variant(np.array([np.nan]), 0.0, 1.0)
        assert np.array_equal(variant(x, -3.0, 0.5), k.bin_index(x, -3.0, 0.5))


def test_an_accumulator_of_elements_is_a_c_double():
    # acc += a[i] is read before the loop variable i is typed; that must not make acc an object
    def inner(a, b):
        acc = 0.0
        for i in range(a.shape[0]):
            acc += a[i] * b[i]
        return acc

    a = np.zeros(3)
    scope = infer(tree(inner), signature_of((a, a)), frozenset(), NUMPY, {})
    assert scope.locals["acc"] == "double" and scope.origins["acc"] == TAGGED
    assert f"return {BOX}(acc) if {FLAG}acc else acc" in emitted(inner, a, a)  # 0.0 for an empty a, as Python's
