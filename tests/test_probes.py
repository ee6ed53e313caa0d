"""Value probes and coverage search: inputs derived from what the function does.

Unit tests check the generated inputs themselves (the captured signature, one leaf changed and
labelled with a correct ``Probe``, a bounded count); the tuning tests check the promise they
serve: a kernel tuned on harmless values returns what the original returns (or raises what it
raises) on later values it never saw.
"""

import math
from dataclasses import replace

import numpy as np
import pytest

import hotpath
from hotpath.rewriter.source import extract
from hotpath.runner import explore, probes
from hotpath.runner.inputs import CAPTURED, SMALL_CASE_BYTES, InputCase, array_bytes, rule_counts
from hotpath.runner.probes import derive_cases
from hotpath.runner.outcome import run_case
from hotpath.signature import signature_of


# --- kernels, written the way they are in the wild ------------------------------------------------


def int_power(base, k):
    result = 1
    for _ in range(k):
        result = result * base
    return result


def soft_total(x, beta):
    total = 0.0
    for v in x:
        total += math.log(1.0 + math.exp(beta * v))
    return total


def discounted_total(cash, rate, years):
    growth = math.exp(rate * years)
    total = 0.0
    for c in cash:
        total += c / growth + math.log(growth)
    return total


def signed_log_sum(x):
    total = 0.0
    for v in x:
        if v < 0.0:
            total -= math.log(-v) * math.sqrt(v * v - 1.0)
        else:
            total += v
    return total


def standardize(x, params, out, clip):
    mu, sigma = params
    for i in range(x.shape[0]):
        z = (x[i] - mu) / sigma
        if clip and z > 3.0:
            z = 3.0
        out[i] = z
    return out


def gather_sum(values, index):
    total = 0.0
    for j in index:
        total += values[j]
    return total


def list_moments(xs, p):
    s = 0
    for v in xs:
        s += v ** p
    return s


def three_way(n, x):
    if n % 7 == 3:
        return x * 2.0
    if x < -5.0:
        return -x
    return x


def shifted_total(x, n, m):
    if n == m + 1:
        return x.sum() * 2.0
    return x.sum()


def poisson_terms(lam, n):
    total = 0.0
    for k in range(n):
        total += lam ** k / math.factorial(k)
    return total


def valid_peak(signal, valid):
    return signal[valid].max()


def relaxed(u, target, rate):
    return u + rate * (target - u)


def elementwise_loop(a, b):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = a[i] * b[i]
    return out


def first_brightest(image):
    return np.argmax(image)


def logistic_margin(w, X, y):
    return np.sum(np.log1p(np.exp(-y * (X @ w))))


def face_fluxes(flux, w, tracer, dz):
    # Two stencil points summed into each interior face, as ocean models write their fluxes.
    nz = flux.shape[2]
    for k in range(2):
        flux[:, :, 1:-1] += w[:, :, k:nz - 2 + k] * tracer[:, :, 1:-1] / dz[np.newaxis, np.newaxis, 1:-1]
    return flux


def lag_covariance(x, lag):
    total = 0.0
    for k in range(1, lag + 1):
        total += np.sum(x[k:] * x[:-k])
    return total


def column_peak(field):
    return np.max(field, axis=2)


def _cases(fn, *args):
    return derive_cases(args, True, extract(fn))


def _leaves_equal(a, b):
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, list):
        return len(a) == len(b) and all(_leaves_equal(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)


# --- unit tests of the generated inputs -------------------------------------------------------------


class TestProbeCases:
    x = np.random.default_rng(0).random(300)

    def test_every_case_keeps_the_signature_and_layouts(self):
        strided = np.random.default_rng(1).random((40, 30))[:, ::2]
        readonly = np.arange(50, dtype=np.int32)
        readonly.flags.writeable = False
        for fn, args in [(standardize, (np.asfortranarray(self.x.reshape(20, 15))[:, 0], (0.5, 2.0),
                                        np.zeros(20), False)),
                         (gather_sum, (strided[0].copy(), readonly)),
                         (list_moments, ([1, 2, 3, 4], 2)),
                         (soft_total, (strided[:, 1], 1.5))]:
            cases = _cases(fn, *args)
            assert len({c.name for c in cases}) == len(cases)
            for case in cases:
                assert signature_of(case.args) == signature_of(args), case.name

    def test_a_probe_names_the_one_leaf_changed_and_its_range(self):
        args = (self.x[:20].copy(), (0.5, 2.0), np.zeros(20), False)
        cases = _cases(standardize, *args)
        small = next(c for c in cases if c.name == "size-7").args
        probed = [c for c in cases if c.probe is not None]
        assert len(probed) > 30
        for case in probed:
            base = args if len(case.args[0]) == len(args[0]) else small
            before = {leaf.path: leaf.value for leaf in probes.leaves(base)}
            after = {leaf.path: leaf.value for leaf in probes.leaves(case.args)}
            changed = [p for p in before if not _leaves_equal(before[p], after[p])]
            assert changed == [case.probe.path], case.name
            values = np.asarray(after[case.probe.path], dtype=float).reshape(-1)
            finite = values[~np.isnan(values)]
            assert case.probe.nan == bool(np.isnan(values).any())
            if finite.size:
                assert (case.probe.low, case.probe.high) == (finite.min(), finite.max()), case.name
        paths = {c.probe.path for c in probed}
        assert {(0,), (1, 0), (1, 1), (3,)} <= paths  # scalars inside the tuple and the flag too
        assert (2,) not in paths  # ``out`` is only written: its values are never probed

    def test_cases_of_large_arguments_with_a_short_axis_stay_small(self):
        """(n, 10) features and n labels: one short axis must not keep every case n long.

        Shrinking every axis alike stops at the short one; each case was then a full copy, and
        76 of them for a 160 MB matrix did not fit in the sandbox (the original crashed there)."""
        n = SMALL_CASE_BYTES // 4  # the labels alone are twice as large as a small case may be
        w, X, y = np.ones(10), np.random.default_rng(2).random((n, 10)), np.zeros(n)
        cases = _cases(logistic_margin, w, X, y)
        sizes = {c.name: c.args[1].shape for c in cases}
        assert sizes["size-7"] == (7, 10) and sizes["empty"] == (0, 10) and sizes["length-1"] == (1, 10)
        assert all(c.args[2].shape == (c.args[1].shape[0],) for c in cases)  # rows and labels alike
        shared = {id(X), id(y), id(w)}
        copied = sum(a.nbytes for c in cases for a in c.args if isinstance(a, np.ndarray) and id(a) not in shared)
        assert copied < 4 * X.nbytes  # only the probes that change X itself at its captured size
        for case in cases:
            assert signature_of(case.args) == signature_of((w, X, y)), case.name
            if case.probe is not None and case.args[1].shape == X.shape and case.probe.path != (1,):
                assert case.args[1] is X  # an unchanged argument is shared, not copied

    def test_sums_across_elements_keep_their_length_and_element_wise_ones_shrink(self):
        """An array updated through slices sums a chain per element, as long as its loop: the
        probes of a 140^3 grid shrink to ``MODERATE_BYTES``. A sum across elements (here inside
        ``np.sum`` of slices) keeps the captured length, where its order shows."""
        shape = (140, 140, 140)
        rng = np.random.default_rng(3)
        grid = (np.zeros(shape), rng.random(shape), rng.random(shape), np.linspace(1.0, 2.0, shape[2]))
        cases = _cases(face_fluxes, *grid)
        element_wise = [c for c in cases if c.name.startswith("accumulation/")]
        assert {c.name.split("/")[1] for c in element_wise} >= {"w", "tracer", "dz"}
        assert not any(c.name.startswith("cancellation/") for c in cases)
        for case in cases:
            if case.name != CAPTURED:
                assert array_bytes(case.args) <= probes.MODERATE_BYTES, case.name
            assert signature_of(case.args) == signature_of(grid), case.name
        w = next(c for c in element_wise if c.name.startswith("accumulation/w/"))
        assert {1e16, -1e16, 1.0} == set(np.unique(w.args[1]).tolist())

        x = rng.random(5000)
        lengths = sorted(len(c.args[0]) for c in _cases(lag_covariance, x, 3) if c.name.startswith("cancellation/x/"))
        assert lengths == [1000, 5000]

    def test_ties_in_a_large_grid_are_probed_at_a_moderate_size(self):
        field = np.random.default_rng(4).random((140, 140, 140))
        tied = [c for c in _cases(column_peak, field) if c.name.startswith("ties/")]
        assert len(tied) == 2
        assert all(0 < c.args[0].nbytes <= probes.MODERATE_BYTES and c.args[0].ndim == 3 for c in tied)

    def test_generic_value_cases_that_change_one_leaf_carry_probes(self):
        cases = {c.name: c for c in _cases(soft_total, self.x, 1.5)}
        assert cases["nan"].probe.path == (0,) and cases["nan"].probe.nan
        assert cases["scalar-inf"].probe == probes.Probe((1,), math.inf, math.inf, False)
        assert cases["size-7"].probe is None and cases[CAPTURED].probe is None

    def test_python_ints_get_magnitudes_past_int64_of_both_signs(self):
        cases = _cases(int_power, 3, 20)
        bases = {c.args[0] for c in cases if c.probe is not None and c.probe.path == (0,)}
        assert {2**31, 2**62, 2**63 - 1, -(2**63), 2**64, -(2**100)} <= bases
        exponents = {c.args[1] for c in cases if c.probe is not None and c.probe.path == (1,)}
        assert min(exponents) < 0 and max(exponents) <= 2**15  # a loop bound: no endless loops
        huge = next(c for c in cases if c.args[0] == 2**100)
        assert huge.probe.low == huge.probe.high == float(2**100)

    def test_values_whose_cost_grows_without_bound_are_left_out(self):
        # n bounds a loop and feeds factorial: huge n would run for hours in C, where no time
        # limit interrupts; negative n (an empty loop) is still tried.
        ns = [c.args[1] for c in _cases(poisson_terms, 2.5, 30) if c.probe is not None and c.probe.path == (1,)]
        assert ns and max(ns) <= 2**7 and min(ns) <= -(2**63)

    def test_semantics_found_in_the_source_get_their_values(self):
        soft = {c.name: c for c in _cases(soft_total, self.x, 1.5)}
        assert any(c.probe and c.probe.low >= 709 for n, c in soft.items() if n.startswith("exp-domain/beta"))
        long_sums = [c for n, c in soft.items() if n.startswith("cancellation/x/")]
        assert sorted(len(c.args[0]) for c in long_sums) == [300]  # the captured length (< 1000)
        assert {1e16, -1e16, 1.0} == set(long_sums[0].args[0].tolist())
        longer = _cases(soft_total, np.random.default_rng(2).random(5000), 1.5)
        assert sorted(len(c.args[0]) for c in longer if c.name.startswith("cancellation/")) == [1000, 5000]

        nan_first = next(c for c in _cases(signed_log_sum, self.x) if c.name == "nan-position/x/first")
        assert math.isnan(nan_first.args[0][0]) and not np.isnan(nan_first.args[0][1:]).any()

        index = {c.name: c for c in _cases(gather_sum, self.x, np.arange(10))}
        out_of_range = [c for n, c in index.items() if n.startswith("index/index/")]
        assert any(c.args[1].size and c.args[1].min() < 0 for c in out_of_range)
        assert any(c.args[1].size and c.args[1].max() >= len(c.args[0]) for c in out_of_range)
        assert any(c.args[1].size == 0 and c.probe is None for c in out_of_range)

        moments = {c.name: c for c in _cases(list_moments, [1, 2, 3], 2)}
        assert any(n.startswith("exponent/p/") and c.args[1] < 0 for n, c in moments.items())
        assert any(c.probe and c.probe.path == (0,) and c.probe.high > 2**64 for c in moments.values())

    def test_boolean_masks_select_nothing_everything_and_mismatch_in_length(self):
        signal, valid = self.x[:50].copy(), self.x[50:100] > 0.3
        cases = {c.name: c for c in _cases(valid_peak, signal, valid)}
        nothing, everything = cases["mask/valid/all-false"], cases["mask/valid/all-true"]
        assert not nothing.args[1].any() and everything.args[1].all()
        assert nothing.probe == probes.Probe((1,), 0.0, 0.0) and everything.probe == probes.Probe((1,), 1.0, 1.0)
        shorter, longer = cases["mask/valid/shorter"], cases["mask/valid/longer"]
        assert len(shorter.args[1]) == len(shorter.args[0]) - 1 and len(longer.args[1]) == len(longer.args[0]) + 1
        assert shorter.probe is None and longer.probe is None  # a size, not a range: no guard routes it away
        for case in cases.values():
            assert signature_of(case.args) == signature_of((signal, valid)), case.name
        with pytest.raises(IndexError):
            valid_peak(*shorter.args)
        # Derived masks (``signal > lo``) are not argument leaves; float leaves get no mask cases.
        assert not any(n.startswith("mask/signal/") for n in cases)

    def test_arrays_of_an_elementwise_operation_get_lengths_that_do_not_broadcast(self):
        u, target = self.x[:60].copy(), self.x[60:120].copy()
        cases = {c.name: c for c in _cases(relaxed, u, target, 0.1)}
        resized = {n: c for n, c in cases.items() if n.startswith("broadcast/")}
        assert {"broadcast/u/longer", "broadcast/u/shorter", "broadcast/target/longer"} <= set(resized)
        for case in resized.values():
            assert case.probe is None  # a size, not a range: no guard routes it away
            assert signature_of(case.args) == signature_of((u, target, 0.1))
            assert len(case.args[0]) != len(case.args[1]) and 1 not in (len(case.args[0]), len(case.args[1]))
            with pytest.raises(ValueError):
                relaxed(*case.args)  # what every candidate must raise too
        # Element by element (``a[i] * b[i]``) is no broadcast: a loop bound by one array reading
        # another is the index rules' business.
        assert not any(n.startswith("broadcast/") for n in (c.name for c in _cases(elementwise_loop, u, target)))

    def test_searches_and_sorts_get_ties_within_the_captured_range(self):
        image = np.random.default_rng(7).uniform(-1.0, 1.0, (80, 50))
        cases = {c.name: c for c in _cases(first_brightest, image)}
        for label in ("levels", "few"):
            tied = cases[f"ties/image/{label}"]
            values = tied.args[0]
            assert values.shape == image.shape and values.dtype == image.dtype
            assert set(np.unique(values)) == {image.min(), image.max(), image.min() / 2 + image.max() / 2}
            assert np.count_nonzero(values == values.max()) >= 3 and np.argmax(values) > 0
            # Inside the captured range: a candidate that breaks ties otherwise gets no range guard.
            assert (tied.probe.low, tied.probe.high) == (image.min(), image.max())
        ints = {c.name: c for c in derive_cases(([5, 1, 9, 9, 3, 0, 7, 2],), True, extract(first_brightest))}
        assert all(type(v) is int for v in ints["ties/image/levels"].args[0])

    def test_bool_flags_are_flipped(self):
        cases = _cases(standardize, self.x[:20].copy(), (0.5, 2.0), np.zeros(20), False)
        flipped = [c for c in cases if c.name.startswith("flag/clip/")]
        assert [c.args[3] for c in flipped] == [True]

    def test_aliasing_is_kept(self):
        for case in _cases(soft_total, self.x, 1.5)[1:]:
            assert case.args[0] is not self.x  # a copy: the captured arguments stay as they were
        a = np.arange(12.0)
        for case in derive_cases((a, a), True, extract(gather_sum)):
            assert case.args[0] is case.args[1]

    def test_the_count_is_bounded(self):
        def many(a, b, c, d, e, f, g):
            return np.exp(a).sum() + np.log(b).sum() + c.sum() / d.max() + (e ** f).sum() + g

        arrays = [np.random.default_rng(i).random(100) for i in range(6)]
        cases = derive_cases((*arrays, 3), True, extract(many))
        assert len([c for c in cases if "/" in c.name]) <= probes.MAX_PROBES
        counts = dict(rule_counts([c.name for c in cases]))
        assert counts[CAPTURED] == 1 and counts["range"] > 0 and counts["exp-domain"] > 0

    def test_without_the_source_only_the_generic_cases(self):
        cases = derive_cases((self.x, 1.5))
        assert not any("/" in c.name for c in cases)


class TestCoverageSearch:
    def test_lines_are_counted_for_the_function_only(self):
        tracer = explore.LineTracer(explore.functions(three_way))
        with tracer:
            three_way(1, 2.0)
        assert tracer.coverage().total == 5
        assert tracer.coverage().run == 3  # the two tests and the last return

    def test_the_search_reaches_a_branch_the_inputs_missed(self):
        tracer = explore.LineTracer(explore.functions(three_way))
        seed = InputCase(CAPTURED, (1, 2.0))

        def run(case):
            with tracer:
                return run_case(three_way, case.args)

        run(seed)
        found = explore.search(run, tracer, [seed], ("n", "x"), budget_s=2.0)
        assert tracer.coverage().run == tracer.coverage().total
        assert found and all(signature_of(c.args) == signature_of(seed.args) for c, _ in found)
        for case, outcome in found:
            assert case.name.startswith("search/")
            assert outcome.returned == three_way(*case.args)
            if case.probe is not None:  # one leaf changed: its range is the value it holds
                value = case.args[case.probe.path[0]]
                assert case.probe.low == case.probe.high == float(value)


# --- tuned on harmless values, called on others ----------------------------------------------------


def _same_as_original(optimized, original, args):
    def call(fn):
        fresh = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        try:
            with np.errstate(all="ignore"):  # NumPy warns where it returns inf; the values are compared
                return "returned", fn(*fresh)
        except Exception as exc:  # the exception type is part of the behaviour
            return "raised", type(exc)
    got, want = call(optimized), call(original)
    assert got[0] == want[0], (args, got, want)
    if got[0] == "raised":
        assert got[1] is want[1]
    else:
        assert type(got[1]) is type(want[1]) and (got[1] == want[1] or (got[1] != got[1] and want[1] != want[1]))


@pytest.fixture
def unwatched(fast):
    """No shadow verification after install: a wrong variant would answer the later calls."""
    return replace(fast, verify_rate=0.0)


@pytest.mark.slow
def test_integer_power_by_a_loop_never_wraps(unwatched):
    result = hotpath.tune(int_power, 3, 20, config=unwatched)
    assert "generated" in result.summary() and "coverage" in result.summary()
    for later in [(3, 50), (7, 40), (-3, 41), (2, 63), (2, 64), (3, -2), (10**12, 3)]:
        _same_as_original(result.optimized, int_power, later)


@pytest.mark.slow
def test_exp_and_log_of_float_arguments_raise_as_python_does(unwatched):
    cash = np.random.default_rng(3).random(20_000)
    result = hotpath.tune(discounted_total, cash, 0.05, 10.0, config=unwatched)
    assert result.coverage is not None and result.coverage.percent == 100.0
    for later in [(cash, 80.0, 10.0), (cash, -80.0, 10.0), (cash, 0.03, 30.0), (cash, 709.0, 1.0), (-cash, 0.1, 1.0)]:
        _same_as_original(result.optimized, discounted_total, later)
    x = np.random.default_rng(5).random(20_000)
    result = hotpath.tune(soft_total, x, 1.5, config=unwatched)
    for later in [(x, 800.0), (x, -800.0), (-x, 3.0), (x * 700.0, 1.0), (x, 2.0)]:
        _same_as_original(result.optimized, soft_total, later)


@pytest.mark.slow
def test_a_branch_taken_only_for_negative_values(unwatched):
    x = np.random.default_rng(4).random(20_000)
    result = hotpath.tune(signed_log_sum, x, config=unwatched)
    for later in [(-x,), (x - 0.5,), (-3.0 * x - 1.0,), (x,), (x * 1e3 - 5e2,)]:
        _same_as_original(result.optimized, signed_log_sum, later)


@pytest.mark.slow
def test_inputs_the_search_finds_are_verified_and_reported(fast):
    x = np.random.default_rng(6).random(50_000)
    result = hotpath.tune(shifted_total, x, 5, 10, config=fast)
    counts = dict(result.inputs)
    assert counts.get("search", 0) >= 1, result.summary()  # no single-leaf probe makes n == m + 1
    assert result.coverage.percent == 100.0 and result.coverage.found == counts["search"]
    assert "found by coverage search" in result.summary()
    checked = [t for t in result.trials if t.status in ("correct", "won")]
    assert checked and all(t.cases_checked == sum(counts.values()) for t in checked)
