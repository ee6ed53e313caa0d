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
