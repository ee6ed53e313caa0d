"""The decorated callable: tier-0 counting, background tuning, guards, rollback, the off switch."""

import numpy as np
import pytest

import hotpath
from tests import sample_kernels as k
from tests.checks import agrees


def test_hot_signature_is_tuned_in_the_background_then_used(fast):
    # persist=False: a winner other tests stored for this function would be warm-started on the
    # first call, and this test is about the tiers before anything is installed.
    opt = hotpath.optimize(k.sum_squares, config=fast.replace(hot_calls=3, hot_seconds=100.0, persist=False))
    a = np.random.default_rng(8).random(100_000)
    for _ in range(2):
        assert agrees(opt(a), k.sum_squares(a))
    assert opt.installed == {}
    assert agrees(opt(a), k.sum_squares(a))  # third call: hot; returns before tuning is done
    assert opt.installed == {}, "the call that made it hot must not wait for tuning"
    assert opt.wait(timeout=180)
    (signature,) = opt.installed
    assert str(signature) == "(array(float64, 1d, C))"
    assert opt.results[signature].winner is not None
    assert agrees(opt(a), k.sum_squares(a))
    calls, seconds = opt.stats[signature]
    assert calls == 3 and seconds > 0


def test_rollback_returns_every_signature_to_the_original(fast):
    a = np.random.default_rng(9).random(50_000)
    result = hotpath.tune(k.sum_squares, a, config=fast)
    opt = result.optimized
    assert opt.installed
    opt.rollback()
    assert opt.installed == {}
    assert agrees(opt(a), k.sum_squares(a))


def test_cold_functions_are_not_tuned():
    opt = hotpath.optimize(k.sum_squares, hot_calls=1000, hot_seconds=1000.0)
    a = np.ones(10)
    for _ in range(20):
        opt(a)
    assert opt.results == {} and opt.installed == {}


def test_keyword_and_default_arguments_bind_to_one_signature():
    opt = hotpath.optimize(k.scale_in_place, background=False)
    a, b = np.ones(4), np.ones(4)
    opt(a, 2.0)
    opt(b, factor=2.0)
    np.testing.assert_array_equal(a, b)
    assert len(opt.stats) == 1 and list(opt.stats.values())[0][0] == 2


def test_wrong_arguments_raise_the_same_type_error_as_python():
    opt = hotpath.optimize(k.scale_in_place)
    with pytest.raises(TypeError):
        opt(np.ones(3), 2.0, 3.0)


def test_disable_switch_turns_everything_off(monkeypatch, fast):
    monkeypatch.setenv("HOTPATH_DISABLE", "1")
    opt = hotpath.optimize(k.sum_squares, config=fast.replace(hot_calls=1))
    a = np.ones(1000)
    assert agrees(opt(a), k.sum_squares(a))
    assert opt.stats == {}
    result = hotpath.tune(k.sum_squares, a, config=fast)
    assert result.winner is None and "HOTPATH_DISABLE" in result.reason


def test_optimize_rejects_unknown_options_clearly():
    with pytest.raises(hotpath.ConfigError, match="unknown option"):
        hotpath.optimize(k.sum_squares, verify_rat=0.1)
    with pytest.raises(hotpath.ConfigError, match="verify_rate"):
        hotpath.optimize(k.sum_squares, verify_rate=2.0)
