"""The pure pieces: guard keys, generated inputs, comparison, interval statistics, source extraction."""

import random

import numpy as np
import pytest

from hotpath.errors import NotRewritable
from hotpath.rewriter.source import extract
from hotpath.runner.compare import Tolerance, difference, outcome_difference
from hotpath.runner.adapters import aliasing_guard, finite_guard, return_cast, return_dtypes
from hotpath.runner.probes import derive_cases
from hotpath.runner.outcome import run_case
from hotpath.runner.timing import median_interval
from hotpath.signature import guard_key, signature_of
from tests import sample_kernels as k

STRICT = Tolerance(None, 0.0)


class TestGuardKey:
    def test_arrays_differ_by_dtype_ndim_layout_and_writeability(self):
        a = np.ones((4, 4))
        variants = [a, a.astype(np.float32), np.ones(16), np.asfortranarray(a), a[:, ::2]]
        readonly = a.copy()
        readonly.flags.writeable = False
        variants.append(readonly)
        assert len({guard_key((v,)) for v in variants}) == len(variants)

    def test_shape_and_values_do_not_matter(self):
        assert guard_key((np.ones(3), 1.0)) == guard_key((np.zeros(300), 2.5))

    def test_scalars_by_type_and_containers_by_content(self):
        assert guard_key((1,)) != guard_key((1.0,))
        assert guard_key(((1, 2.0),)) != guard_key(((1, 2),))
        assert guard_key(([1.0],)) != guard_key(([1],))

    def test_readable_signature(self):
        sig = signature_of((np.ones((2, 3), order="F"), 3, (1.0, np.ones(2, np.int32))))
        assert str(sig) == "(array(float64, 2d, F), int, tuple[float, array(int32, 1d, C)])"


class TestInputs:
    def test_edge_cases_keep_the_signature_and_shape_relations(self):
        u = np.random.default_rng(0).random((20, 30))
        out = np.zeros((18, 28))
        cases = {c.name: c for c in derive_cases((u, out, 0.5))}
        assert {"captured", "empty", "length-1", "size-2", "size-7", "nan", "inf", "negative-zero",
                "huge-float", "scalar-nan", "scalar-inf", "scalar-negative-zero"} <= set(cases)
        for case in cases.values():
            assert signature_of(case.args) == signature_of((u, out, 0.5))
            a, b, _ = case.args
            assert (a.shape[0] - b.shape[0], a.shape[1] - b.shape[1]) == (2, 2)
        assert np.isnan(cases["nan"].args[0]).any()
        assert np.isinf(cases["inf"].args[1]).any()

    def test_aliasing_between_arguments_is_preserved(self):
        a = np.arange(10.0)
        for case in derive_cases((a, a)):
            assert case.args[0] is case.args[1]

    def test_integer_cases_overflow_int64(self):
        cases = {c.name: c for c in derive_cases((np.arange(100, dtype=np.int64),))}
        huge = cases["huge-int"].args[0]
        assert sum(int(x) for x in huge[:4]) != int(huge[:4].sum())  # the int64 sum wraps

    def test_strided_and_fortran_layouts_survive(self):
        for a in (np.ones((9, 9))[:, ::2], np.asfortranarray(np.ones((9, 12)))):
            for case in derive_cases((a,)):
                assert signature_of(case.args) == signature_of((a,))


class TestCompare:
    def test_tolerance_applies_to_floats_only(self):
        assert difference(1.0, 1.0 + 1e-12, STRICT) is None
        assert difference(1.0, 1.0 + 1e-6, STRICT) is not None
        assert difference(np.int64(5), np.int64(6), Tolerance(1.0, 1.0)) is not None

    def test_float32_gets_a_few_ulps(self):
        x = np.float32(0.1)
        assert difference(x, np.nextafter(x, np.float32(1), dtype=np.float32), STRICT) is None
        assert difference(x, np.float32(0.1001), STRICT) is not None

    def test_default_tolerance_is_relative_to_the_array_scale(self):
        expected = np.array([1.0, 1e-12])
        assert difference(expected, np.array([1.0, 1.5e-12]), STRICT) is None  # cancellation noise
        assert difference(expected, np.array([1.0, 1e-8]), STRICT) is not None
        assert difference(expected, np.array([1.0, 1.5e-12]), Tolerance(1e-9, 0.0)) is not None  # explicit rtol

    def test_nan_inf_and_dtype(self):
        assert difference(np.array([np.nan, np.inf]), np.array([np.nan, np.inf]), STRICT) is None
        assert difference(np.array([np.inf]), np.array([-np.inf]), STRICT) is not None
        assert difference(np.array([np.nan]), np.array([0.0]), STRICT) is not None
        assert "dtype" in difference(np.zeros(2), np.zeros(2, np.float32), STRICT)
        assert "shape" in difference(np.zeros(2), np.zeros(3), STRICT)

    def test_complex_infinities_and_nans_compare_part_by_part(self):
        z = np.array([complex(np.inf, np.nan), complex(np.nan, 1.0), 1 + 2j])
        assert difference(z, z.copy(), STRICT) is None  # inf+nanj is not == itself
        assert difference(np.array([complex(1, np.nan)]), np.array([complex(2, np.nan)]), STRICT) is not None
        assert difference(complex(np.inf, 0.0), complex(np.inf, 1.0), STRICT) is not None

    def test_nested_results_and_python_ints(self):
        assert difference((1, [2.0, {"a": 3}]), (1, [2.0, {"a": 3}]), STRICT) is None
        assert "[1][1]['a']" in difference((1, [2.0, {"a": 3}]), (1, [2.0, {"a": 4}]), STRICT)
        assert difference(2**80, 2**80 + 1, STRICT) is not None
        # Same value, different behaviour downstream (np.float64(2.0) / 0 is inf, 2.0 / 0 raises).
        assert "float 2.0 instead of numpy.float64" in difference(np.float64(2.0), 2.0, STRICT)
        assert difference(np.float64(2.0), np.float64(2.0), STRICT) is None

    def test_exceptions_and_mutation(self):
        want = run_case(k.first_plus_total, (np.zeros(0),))
        assert want.raised == "builtins.IndexError"
        got = run_case(k.sum_squares, (np.zeros(0),))
        assert "returned normally where the original raised IndexError" in outcome_difference(want, got, STRICT)
        a = np.arange(5.0)
        mutated = run_case(k.scale_in_place, (a, 2.0))
        untouched = run_case(lambda x, f: None, (a, 2.0))
        assert "argument 0 after the call" in outcome_difference(mutated, untouched, STRICT)
        assert a[1] == 1.0  # run_case works on copies


class TestStatistics:
    def test_median_interval_covers_the_median_at_the_stated_rate(self):
        rng = random.Random(1)
        for n in (6, 10, 31):
            misses = 0
            trials = 4000
            for _ in range(trials):
                sample = [rng.lognormvariate(0.0, 0.5) for _ in range(n)]  # true median 1.0
                low, high = median_interval(sample)
                misses += not (low <= 1.0 <= high)
            assert misses / trials <= 0.05 + 0.012

    def test_small_samples_use_the_extremes(self):
        assert median_interval([3.0, 1.0, 2.0, 6.0, 5.0, 4.0]) == (1.0, 6.0)


class TestGuard:
    def test_finite_guard_routes_non_finite_calls_to_the_original(self):
        seen = []
        guarded = finite_guard(lambda a: seen.append("variant"), lambda a: seen.append("original"))
        guarded(np.ones(3))
        guarded(np.array([1.0, np.nan]))
        guarded(np.array([1e200, 1.0]))
        assert seen == ["variant", "original", "original"]

    def test_aliasing_guard_sends_overlapping_arrays_to_the_original(self):
        seen = []
        guarded = aliasing_guard(lambda *a: seen.append("variant"), lambda *a: seen.append("original"))
        x = np.zeros(10)
        guarded(x, np.zeros(10))
        guarded(x, x)
        guarded(x[:5], x[3:])
        guarded(x[:5], x[5:])
        assert seen == ["variant", "original", "original", "variant"]

    def test_return_cast_restores_numpy_scalar_types(self):
        expected = (np.float32(1.5), 3, np.int32(2))
        dtypes = return_dtypes(expected)
        assert dtypes == "float32,-,int32"
        cast = return_cast(lambda: (1.5, 3, 2), dtypes)()
        assert [type(v) for v in cast] == [np.float32, int, np.int32]
        assert return_dtypes(1.5) is None


class TestSource:
    def test_closures_and_globals_are_resolved(self):
        scale = 3.0

        def scaled_total(a):
            return (a * scale).sum() + k.math.pi

        fs = extract(scaled_total)
        kinds = {r.name: r.kind for r in fs.refs}
        assert kinds == {"scale": "value", "k": "module"}
        assert "@" not in fs.source

    def test_helpers_are_extracted_recursively(self):
        fs = extract(k.weighted_total)
        assert [h.name for h in fs.helpers] == ["_weight"]

    def test_global_statement_is_refused(self):
        with pytest.raises(NotRewritable, match="non-local state"):
            extract(_uses_global)


COUNTER = 0


def _uses_global(a):
    global COUNTER
    COUNTER += 1
    return a


def test_timed_inputs_stay_in_the_captured_range_a_range_guard_admits():
    from hotpath.runner.outcome import rescale, scaled_args

    a = np.array([0.25, 0.5, 1.0, np.nan])
    copied = np.empty_like(a)
    rescale((copied,), (a,), 0.999)  # into another array
    for got in (copied, scaled_args((a,), 0.999)[0]):  # and in place, as the reference run does
        assert np.nanmin(got) >= 0.25 and np.nanmax(got) <= 1.0 and np.isnan(got[3])
        assert not np.array_equal(got[:3], a[:3])  # values no earlier call saw
    np.testing.assert_array_equal(copied, scaled_args((a,), 0.999)[0])  # the same inputs either way
