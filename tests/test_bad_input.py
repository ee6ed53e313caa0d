"""Functions hotpath cannot rewrite run as the original, with the reason in the result."""

import inspect
import math
import threading

import numpy as np
import pytest

import hotpath
from tests import sample_kernels as k

A = np.ones(100)


@pytest.mark.parametrize(
    "fn, args, kwargs, reason",
    [
        (math.hypot, (3.0, 4.0), {}, "not a Python function"),
        (lambda a: a.sum(), (A,), {}, "lambda"),
        (k.generator_kernel, (A,), {}, "generator"),
        (k.Model().energy, (A,), {}, "bound method"),
        (k.Model.energy, (k.Model(), A), {}, "defined in a class"),
        (k.with_options, (A,), {"scale": 2.0}, "keyword-only parameter 'scale'"),
    ],
    ids=["builtin", "lambda", "generator", "method", "class-function", "keyword-only"],
)
def test_unrewritable_functions_keep_running(fn, args, kwargs, reason, fast):
    result = hotpath.tune(fn, *args, config=fast, **kwargs)
    assert result.winner is None
    assert reason in result.reason
    got, want = result.optimized(*args, **kwargs), fn(*args, **kwargs)
    if inspect.isgenerator(want):
        got, want = list(got), list(want)
    assert got == want


def test_function_without_source(fast):
    namespace: dict = {}
    exec("def made_by_exec(a):\n    return a.sum()\n", namespace)
    result = hotpath.tune(namespace["made_by_exec"], A, config=fast)
    assert result.winner is None and "source" in result.reason


def test_unpicklable_arguments(fast):
    lock = threading.Lock()
    result = hotpath.tune(k.counts_values, [lock], config=fast)
    assert result.winner is None and "cannot be sent to the sandbox" in result.reason
    assert result.optimized([lock]) == 1


def test_background_tuning_of_bad_input_never_raises(fast, caplog):
    opt = hotpath.optimize(k.counts_values, config=fast.replace(hot_calls=1))
    lock = threading.Lock()
    assert opt([lock]) == 1
    assert opt.wait(timeout=60)
    (result,) = opt.results.values()
    assert "cannot be sent to the sandbox" in result.reason


def test_decorating_what_is_never_rewritten_warns_where_it_is_decorated(fast):
    with pytest.warns(hotpath.NotOptimizedWarning, match="generator") as caught:
        generator = hotpath.optimize(k.generator_kernel, config=fast)
    assert caught[0].filename == __file__  # points at the decoration, not into hotpath
    assert list(generator(A)) == list(k.generator_kernel(A))

    with pytest.warns(hotpath.NotOptimizedWarning, match="is defined in a class") as caught:
        class Model:
            @hotpath.optimize(config=fast)
            def energy(self, a):
                return float(a.sum())
    assert caught[0].filename == __file__
    # Bound, it is still tuned as the function it wraps: refused with the reason, no AttributeError.
    result = hotpath.tune(Model().energy, A)
    assert result.winner is None and "defined in a class" in result.reason


def test_a_rewritable_function_decorates_without_warning(fast):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", hotpath.NotOptimizedWarning)
        hotpath.optimize(k.counts_values, config=fast)
