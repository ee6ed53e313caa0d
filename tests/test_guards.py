"""Value guards: what an install does with calls whose values were never verified."""

import math

import numpy as np
import pytest

from hotpath.runner import adapters
from hotpath.runner.compare import Tolerance, difference
from hotpath.kernels.base import Failure
from hotpath.runner.inputs import Probe


def _ladder(path, values):
    return [Probe(path, v, v) for v in values]


def test_range_stops_before_the_first_failing_probe_on_each_side():
    captured = Probe((1,), 3.0, 3.0)
    failed = _ladder((1,), [1e300, -1e300])
    passed = _ladder((1,), [0.0, 1e3, -1e3, 1e8, -1e8, 1e150])
    allowed = adapters.verified_range(captured, failed, passed)
    assert (allowed.low, allowed.high) == (-1e8, 1e150)
    assert allowed.admits((None, 1e150)) and allowed.admits((None, -1e8))
    assert not allowed.admits((None, 1e151)) and not allowed.admits((None, -1e9))


def test_integers_are_admitted_with_headroom_only():
    # Each argument passed at 2**62 alone; two of them added overflow together.
    allowed = adapters.verified_range(Probe((0,), 3, 3), _ladder((0,), [2.0**63]), _ladder((0,), [2**62, -(2**62)]))
    assert allowed.admits((2**31,)) and allowed.admits((-(2**31),))
    assert not allowed.admits((2**31 + 1,)) and not allowed.admits((np.int64(2**40),))
    assert allowed.admits((2.0**40,))  # a float is not an int that wraps


def test_no_range_for_values_that_overflow_together():
    # A narrow integer array or a list of Python ints overflows in a sum of small values.
    assert adapters.value_probe((np.ones(4, dtype=np.int16),), (0,)) is None
    assert adapters.value_probe(([1, 2, 3],), (0,)) is None
    assert adapters.value_probe((np.ones(4, dtype=np.int64),), (0,)) is not None


def test_range_never_admits_what_no_probe_reached():
    # Nothing failed above the captured value, but nothing was tried there either.
    captured = Probe((0,), 5.0, 9.0)
    allowed = adapters.verified_range(captured, _ladder((0,), [-1.0]), _ladder((0,), [0.0]))
    assert (allowed.low, allowed.high) == (0.0, 9.0)
    assert not allowed.admits((np.array([0.5, 9.5]),))


def test_no_range_when_a_failing_probe_overlaps_the_captured_values():
    captured = Probe((0,), -1.0, 10.0)
    assert adapters.verified_range(captured, _ladder((0,), [5.0]), []) is None


def test_nan_is_admitted_only_when_no_nan_probe_failed():
    captured = Probe((0,), 1.0, 2.0)
    nan_failed = [Probe((0,), 1.0, 2.0, nan=True)]
    allowed = adapters.verified_range(captured, nan_failed, [])
    assert allowed is not None and not allowed.nan
    assert not allowed.admits((np.array([1.0, np.nan]),)) and not allowed.admits((float("nan"),))
    assert allowed.admits((np.array([1.0, 2.0]),)) and allowed.admits((np.zeros(0),))


def test_guard_spec_round_trips_and_routes_to_the_original():
    allowed = adapters.LeafRange((1, 1), -math.inf, 100.0, False)
    spec = adapters.range_spec([allowed])
    assert adapters.parse_ranges(spec) == (allowed,)
    guarded = adapters.apply((adapters.RANGE + spec,), lambda x, p: ("variant", p[1]), lambda x, p: ("original", p[1]))
    assert guarded(None, (0, 50)) == ("variant", 50)
    assert guarded(None, (0, 101)) == ("original", 101)
    assert guarded(None, (0, 10**400)) == ("original", 10**400)  # Python ints compare exactly


def test_refinement_builds_a_range_guard_from_the_probes():
    from hotpath.kernels.base import Candidate, Failure
    from pathlib import Path

    candidate = Candidate("numba", "numba", (), "", "f", Path("f.py"), b"")
    failure = Failure("mismatch", "on input 'int-2**62': return value differs", "int-2**62",
                      failed_probes=tuple(_ladder((0,), [2.0**62])),
                      passed_probes=tuple(_ladder((0,), [2**7, 2**31])),
                      captured_probes=(Probe((0,), 10, 10),))
    refined = adapters.refine(candidate, failure)
    assert refined.name == "numba+range-guard"
    (adapter,) = refined.adapters
    (allowed,) = adapters.parse_ranges(adapter[len(adapters.RANGE):])
    assert (allowed.low, allowed.high) == (10, 2**31)
    assert allowed.admits((2**31,)) and not allowed.admits((2**31 + 1,))
    # A failure on an input that is not a probe (a size, say) gets no range guard.
    assert adapters.refine(candidate, Failure("mismatch", "x", "empty")) is None


def test_value_probe_reads_scalars_arrays_and_lists_anywhere_in_the_arguments():
    args = (np.array([1.0, np.nan, -3.0]), (2, 2**70), [1.5, -4.0], np.float64("nan"))
    assert adapters.value_probe(args, (0,)) == Probe((0,), -3.0, 1.0, True)
    assert adapters.value_probe(args, (1, 1)) == Probe((1, 1), 2.0**70, 2.0**70)
    assert adapters.value_probe(args, (2,)) == Probe((2,), -4.0, 1.5)
    assert adapters.value_probe(args, (3,)).nan
    assert adapters.value_probe((10**400,), (0,)).high == math.inf
    assert adapters.value_probe((np.zeros(0),), (0,)) is None  # nothing to centre a range on


def test_finite_guard_sees_numpy_scalars_and_scalars_in_tuples():
    guarded = adapters.finite_guard(lambda *a: "variant", lambda *a: "original")
    assert guarded(np.ones(3), 1.0) == "variant"
    assert guarded(np.ones(3), np.float64("nan")) == "original"
    assert guarded(np.ones(3), np.float32("inf")) == "original"
    assert guarded(np.ones(3), (0.0, float("nan"))) == "original"


def test_aliasing_guard_sees_memmaps_and_arrays_inside_tuples(tmp_path):
    guarded = adapters.aliasing_guard(lambda *a: "variant", lambda *a: "original")
    mm = np.memmap(tmp_path / "u.dat", dtype=np.float64, mode="w+", shape=(8,))
    assert guarded(mm, mm[2:]) == "original"
    u = np.zeros(8)
    assert guarded((u, u[1:]),) == "original"
    assert guarded((u, np.zeros(8)),) == "variant"


@pytest.mark.parametrize("want, got", [(np.float64(1.5), 1.5), (np.int64(3), 3), (1.5, np.float64(1.5))])
def test_numpy_and_python_scalars_differ(want, got):
    found = difference(want, got, Tolerance(None, 0.0))
    assert found is not None and "instead of" in found


def test_size_guard_sends_tiny_arrays_to_the_original():
    from hotpath.kernels.base import Candidate, Failure
    from pathlib import Path

    candidate = Candidate("numba", "numba", (), "", "f", Path("f.py"), b"")
    refined = adapters.refine(candidate, Failure("mismatch", "on input 'empty': float", "empty", below_size=1))
    assert refined.name == "numba+min-size" and refined.adapters == (adapters.MIN_SIZE + "1",)
    variant = adapters.apply(refined.adapters, lambda a, s: "variant", lambda a, s: "original")
    assert variant(np.zeros(0), 1.0) == "original"
    assert variant(np.zeros(1), 1.0) == "variant"
    assert variant((np.zeros(3), np.zeros((2, 0))), 1.0) == "original"
    assert variant(3, 1.0) == "variant"  # no arrays: nothing to measure


def test_length_guard_sends_arrays_that_no_longer_match_to_the_original():
    from hotpath.kernels.base import Candidate
    from pathlib import Path

    captured = (np.zeros(5), (np.zeros((5, 2)), np.zeros(3)), np.zeros(3), 2.0, np.zeros(0))
    groups = adapters.equal_length_groups(captured)
    assert groups == (((0,), (1, 0)), ((1, 1), (2,)))  # first axes 5 and 3; the empty one alone
    assert adapters.parse_lengths(adapters.lengths_spec(groups)) == groups
    candidate = Candidate("pythran", "pythran", (), "", "f", Path("f.py"), b"")
    refined = adapters.refine(candidate, Failure("mismatch", "on input 'broadcast/a/longer'", "broadcast/a/longer",
                                                 equal_lengths=groups))
    assert refined.name == "pythran+same-lengths"
    assert adapters.refine(refined, Failure("mismatch", "again", "broadcast/a/longer", equal_lengths=groups)) is None
    variant = adapters.apply(refined.adapters, lambda *a: "variant", lambda *a: "original")
    assert variant(*captured) == "variant"
    assert variant(np.zeros(7), (np.zeros((7, 9)), np.zeros(1)), np.zeros(1), 0.0, np.zeros(4)) == "variant"
    assert variant(np.zeros(6), (np.zeros((5, 2)), np.zeros(3)), np.zeros(3), 2.0, np.zeros(0)) == "original"
    assert variant(np.zeros(5), (np.zeros((5, 2)), np.zeros(3)), np.zeros(4), 2.0, np.zeros(0)) == "original"
    assert variant(np.zeros(5), (np.zeros((5, 2)), 1.0), np.zeros(3), 2.0, np.zeros(0)) == "original"
    assert adapters.describe(refined.adapters[0]) == (
        "length guard: calls where argument 1 and argument 2, item 1 differ in length, or argument 2, item 2 "
        "and argument 3 do, go to the original")


def test_a_loop_sum_is_installed_with_the_original_scalar_types(fast):
    """``s = 0.0; s += a[i]`` returns np.float64, or the Python float 0.0 when the loop never
    runs; compiled code returns a Python float. The install must reproduce both."""
    import hotpath
    from tests import sample_kernels as k

    a = np.random.default_rng(1).random(20_000)
    result = hotpath.tune(k.sum_squares, a, config=fast)
    assert result.winner is not None, result.summary()
    assert any(x.startswith(adapters.CAST_RETURN) for x in result.winner.adapters)
    # The cast and the size guard come in one refinement: the worker verified past the inputs
    # that only they would fix.
    serial = [t.name for t in result.trials if t.name.startswith("numba+")]
    assert serial == ["numba+cast-return+min-size"], result.summary()
    for later in (a[:100].copy(), a[:1].copy(), a[:0].copy(), np.full(5, 1e200)):
        got, want = result.optimized(later), k.sum_squares(later)
        assert type(got) is type(want) and difference(want, got, Tolerance(None, 0.0)) is None


def test_a_sibling_gets_the_adapters_a_refinement_needed_of_kinds_it_lacks():
    from pathlib import Path

    from hotpath.kernels.base import Candidate

    plain = Candidate("numba", "numba-fused", (), "", "f", Path("f.py"), b"")
    refined = adapters.refine(plain, Failure("mismatch", "return value: float instead of numpy.float64", "captured",
                                             return_dtypes="float64", below_size=1))
    learned = adapters.added_by(plain, refined)
    assert refined.name == "numba-fused+cast-return+min-size" and len(learned) == 2
    sibling = Candidate("numba", "numba-fused-parallel", (), "", "f", Path("f.py"), b"")
    given = adapters.with_learned(sibling, learned)
    assert given.name == "numba-fused-parallel+cast-return+min-size" and given.adapters == learned
    guarded = Candidate("numba", "numba", (), "", "f", Path("f.py"), b"", adapters=("min-size:3",))
    assert adapters.with_learned(guarded, learned).adapters == ("min-size:3", learned[0])  # its own size kept
    assert adapters.with_learned(sibling, ()) is sibling
