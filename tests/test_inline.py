"""Inlining the small helpers a kernel calls (hotpath.rewriter.inline): what is inlined, that
the inlined function computes what the original does, and where inlining would change the
order of evaluation it is not done."""

import ast
import math
import re

import numpy as np
import pytest

from hotpath.rewriter.inline import inline_helpers
from hotpath.rewriter.source import extract

rho0 = 1024.0
beta = 1.67e-4
sref = 35.0
weights = np.array([0.25, 0.5, 0.25])  # an array global is read by name, not folded


def where(mask, a, b):
    return np.where(mask, a, b)


def floor_at(x, floor):
    return np.where(x > floor, x, floor)


def weighted(x):
    return x * weights


def linear_eos(salt, temp):
    """Two intermediates before the return, as equations of state are written."""
    anomaly = temp - 10.0
    haline = 0.76554 * (salt - sref)
    return -beta * anomaly * anomaly * 0.5 + haline


def standardize(x):
    x = np.asarray(x, dtype=np.float64)  # a parameter rebound in the helper
    return (x - x.mean()) / x.std()


def density(salt, temp):
    rho = rho0 * (1 + linear_eos(salt, temp))
    return where(rho > 1030.0, rho, 1030.0 - (1030.0 - rho) * 0.5)


def nested(salt, temp):
    return where(linear_eos(salt, temp) > 0.0, linear_eos(salt + 1.0, temp), 0.0)


def rebinding(x, y):
    z = standardize(x * 2.0) + standardize(y)
    return z


def conditional(x, flag):
    return floor_at(x, 0.0) if flag else standardize(x + 1.0)


def clip_inplace(a):
    np.clip(a, 0.0, 1.0, out=a)
    return a


def mutates_first(a):
    # Python runs clip_inplace(a) before a * 2.0: evaluating the argument first would read the
    # array before the clip.
    return clip_inplace(a).sum() + where(a * 2.0 > 1.0, 1.0, 0.0).sum()


def copied_first_plus(a, b):
    # np.copyto returns None; adding it would raise, so only its place in the order matters here.
    return [np.copyto(a, b), where(a * 2.0 > 1.0, a, 0.0)][1]


def sorted_first(a):
    return a.sort() or where(a * 2.0 > 1.0, a, 0.0)


def _inlined(fn):
    fs = extract(fn)
    tree, names = inline_helpers(fs.tree, [h.tree for h in fs.walk()][1:])
    namespace = dict(globals())
    exec(compile(ast.Module([tree], []), "<inlined>", "exec"), namespace)
    return namespace[fn.__name__], names, ast.unparse(tree)


@pytest.mark.parametrize("fn", [density, nested, rebinding])
def test_inlined_function_computes_what_the_original_does(fn):
    inlined, names, source = _inlined(fn)
    assert names, source
    rng = np.random.default_rng(4)
    args = (35.0 + rng.standard_normal(200), 10.0 + 20.0 * rng.standard_normal(200))
    np.testing.assert_array_equal(inlined(*args), fn(*args))
    for name in names:  # no call of an inlined helper is left
        assert not re.search(rf"(?<![.\w]){name}\(", source), source


def test_helper_locals_get_fresh_names_and_arguments_are_evaluated_once():
    _, names, source = _inlined(rebinding)
    assert names == ("standardize", "standardize")
    assert source.count("x * 2.0") == 1
    assert "anomaly" not in source and "x.mean()" not in source  # renamed, not reused
    _, names, source = _inlined(density)
    assert names == ("linear_eos", "where")
    assert source.count("temp - 10.0") == 1 and "linear_eos_anomaly_" in source


def test_only_expression_helpers_with_simple_arguments_inline_under_a_condition():
    inlined, names, source = _inlined(conditional)
    assert names == ("floor_at",)  # standardize(x + 1.0) would run its statements unconditionally
    x = np.linspace(-1.0, 1.0, 7)
    np.testing.assert_array_equal(inlined(x, True), conditional(x, True))
    np.testing.assert_array_equal(inlined(x, False), conditional(x, False))


@pytest.mark.parametrize("fn", [mutates_first, sorted_first, copied_first_plus])
def test_nothing_is_evaluated_early_in_a_statement_that_changes_an_array(fn):
    inlined, names, source = _inlined(fn)
    assert "where_mask" not in source and "where(a * 2.0 > 1.0" in source, source
    a, b = np.linspace(-2.0, 2.0, 9), np.linspace(-2.0, 2.0, 9)
    extra = (np.linspace(0.0, 1.0, 9),) if fn is copied_first_plus else ()
    result = inlined(a, *extra)
    expected = fn(b, *extra)
    np.testing.assert_array_equal(result, expected)


def test_a_helper_reading_a_global_the_caller_binds_is_not_inlined():
    def shadowing(x):
        weights = 2.0  # weighted reads the module's weights, not this one
        return weighted(x) * weights

    _, names, source = _inlined(shadowing)
    assert names == () and "weighted(x)" in source
    assert math.isclose(shadowing(np.ones(3)).sum(), 2.0)
