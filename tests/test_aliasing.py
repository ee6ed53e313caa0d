"""Arguments that share memory (``f(x, x)``, ``f(u[1:], u[:-1])``) are copied with their
aliasing kept, so the watch's shadow call and the sandbox run the original on what the caller
passed, and a restore writes the caller's arrays back consistently."""

import math

import numpy as np
import pytest

import hotpath
from hotpath.runner.outcome import copy_args, fresh_args
from hotpath.runner.timing import restore

#: Settings under which every call of an install is shadow-verified.
EVERY_CALL = {"verify_rate": 1.0, "watch_fraction": math.inf}


def axpy(a, x, y):
    for i in range(x.shape[0]):
        y[i] += a * x[i]


def neighbours(u, out):
    for i in range(1, u.shape[0] - 1):
        out[i] = u[i - 1] + u[i + 1]


def shares(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.shares_memory(a, b))


@pytest.mark.parametrize("changeable_only", [False, True])
def test_overlapping_views_stay_overlapping_in_one_fresh_buffer(changeable_only):
    u = np.arange(10.0)
    ahead, behind = copy_args((u[1:], u[:-1]), changeable_only)
    assert shares(ahead, behind) and not shares(ahead, u)
    np.testing.assert_array_equal(ahead, u[1:])
    np.testing.assert_array_equal(behind, u[:-1])
    ahead[0] = 99.0  # u[1] in the caller's terms: behind[1]
    assert behind[1] == 99.0 and u[1] == 1.0


def test_an_array_passed_twice_stays_one_object():
    u = np.arange(5.0)
    x, y = copy_args((u, u), changeable_only=True)
    assert x is y and x is not u
    x, y = fresh_args((u, u))
    assert x is y and x is not u


def test_offsets_strides_and_memory_order_are_kept():
    m = np.asfortranarray(np.arange(48.0).reshape(6, 8))
    views = (m[1:, ::2], m.T, m[::-1, 3], m)
    copied = fresh_args(views)
    for original, copy in zip(views, copied):
        np.testing.assert_array_equal(copy, original)
        assert copy.strides == original.strides
    assert all(shares(copied[3], c) for c in copied[:3])
    copied[3][5, 3] = -1.0  # seen through the reversed column at its first element
    assert copied[2][0] == -1.0 and copied[0][4, 2] == m[5, 4]
    assert copied[3].flags.f_contiguous


def test_interleaved_and_disjoint_views():
    u = np.arange(12.0)
    even, odd, head, tail = fresh_args((u[::2], u[1::2], u[:3], u[6:]))
    assert shares(head, even) and not shares(head, tail)
    odd[0] = -1.0
    assert u[1] == 1.0 and not np.isin(-1.0, even)


def test_read_only_flags_are_kept_and_a_read_only_view_of_a_changed_array_is_copied():
    u = np.arange(6.0)
    frozen = u[2:]
    frozen.flags.writeable = False
    written, seen = copy_args((u, frozen), changeable_only=True)
    assert written.flags.writeable and not seen.flags.writeable
    assert shares(written, seen) and not shares(seen, u)
    written[3] = 7.0
    assert seen[1] == 7.0
    alone = np.arange(3.0)
    alone.flags.writeable = False
    assert copy_args((alone, alone[1:]), changeable_only=True)[0] is alone  # nothing to change: shared
    assert not fresh_args((u[1:], frozen))[1].flags.writeable


def test_arrays_inside_containers_keep_their_overlap():
    u = np.arange(8.0)
    (pair, named), scale = copy_args((((u[1:], u[:-1]), {"out": u[:4]}), 2.0), changeable_only=True)
    assert scale == 2.0
    assert shares(pair[0], pair[1]) and shares(pair[1], named["out"]) and not shares(pair[0], u)


def test_a_memmap_stays_a_memmap_apart_from_its_file(tmp_path):
    mm = np.memmap(tmp_path / "data", dtype=np.float64, mode="w+", shape=(10,))
    mm[:] = np.arange(10.0)
    ahead, behind = fresh_args((mm[1:], mm[:-1]))
    assert isinstance(ahead, np.memmap) and isinstance(behind, np.memmap)
    assert shares(ahead, behind) and not shares(ahead, mm)
    ahead[0] = 5.0
    assert behind[1] == 5.0 and mm[1] == 1.0
    del mm


def test_views_of_one_bytes_object_are_copied_as_views_alone():
    raw = np.arange(8.0).tobytes()
    a, b = np.frombuffer(raw), np.frombuffer(raw, offset=8)
    ca, cb = fresh_args((a, b))
    np.testing.assert_array_equal(ca, a)
    np.testing.assert_array_equal(cb, b)
    assert not ca.flags.writeable and not cb.flags.writeable


def test_restore_writes_overlapping_targets_consistently():
    u = np.arange(10.0)
    args = (u[1:], u[:-1], u[::3])
    before = u.copy()
    pristine = copy_args(args, changeable_only=True)
    axpy(2.0, args[1], args[0])
    assert not np.array_equal(u, before)
    restore(args, pristine)
    np.testing.assert_array_equal(u, before)


def calls(shape_args):
    """Each later call's arguments built from one fresh buffer, for the optimized function and
    for the original alike."""
    return shape_args(np.random.default_rng(3).random(2001))


@pytest.mark.slow
@pytest.mark.parametrize("kernel, tune_args, aliased", [
    (axpy, lambda: (2.0, np.ones(2000), np.zeros(2000)), [
        lambda u: (0.5, u, u), lambda u: (0.5, u[:-1], u[1:]), lambda u: (0.5, u[1:], u[:-1])]),
    (neighbours, lambda: (np.ones(2000), np.zeros(2000)), [
        lambda u: (u, u), lambda u: (u[:-1], u[1:]), lambda u: (u[1:], u[:-1])]),
], ids=["axpy", "neighbours"])
def test_a_shadow_checked_install_answers_aliased_calls_as_the_original(fast, kernel, tune_args, aliased):
    result = hotpath.tune(kernel, *tune_args(), config=fast.replace(**EVERY_CALL))
    assert result.winner is not None, result.summary()
    opt = result.optimized
    for make in aliased:
        mine, theirs = calls(make), calls(make)
        assert opt(*mine) is None
        kernel(*theirs)
        for got, want in zip(mine, theirs):
            np.testing.assert_array_equal(got, want)
        assert opt.installed, f"rolled back on {make(np.arange(4.0))!r}"
