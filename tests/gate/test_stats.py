"""The statistics on synthetic samples: scale-equivariance, robustness to interference, intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hotpath.gate import stats
from hotpath.gate.stats import MEDIAN, Estimator


def _processes(rng: np.random.Generator, level: float, n_proc: int = 12, per: int = 40,
               contended: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Samples shaped like pyperf runs on a shared machine: per-process levels, bursts, contended processes."""
    values, groups = [], []
    for g in range(n_proc):
        base = level * math.exp(rng.normal(0, 0.03))
        if g < contended:
            base *= 1.8  # a whole process while a neighbour held the core
        v = base * (1 + np.abs(rng.normal(0, 0.02, per)))
        burst = rng.random(per) < 0.15
        v[burst] *= 1.7
        values.append(v)
        groups.append(np.full(per, g))
    return np.concatenate(values), np.concatenate(groups)


def test_estimator_is_scale_equivariant() -> None:
    rng = np.random.default_rng(1)
    v, g = _processes(rng, 1e-3)
    est = Estimator()
    assert stats.location(v * 1.1, g, est) == pytest.approx(1.1 * stats.location(v, g, est))


def test_fast_cluster_ignores_contended_processes() -> None:
    rng = np.random.default_rng(2)
    v, g = _processes(rng, 1e-3, contended=0)
    v2, g2 = _processes(rng, 1e-3, contended=5)  # 5 of 12 processes at 1.8x
    est = Estimator()
    assert stats.location(v2, g2, est) / stats.location(v, g, est) == pytest.approx(1.0, abs=0.04)
    # The plain median is dragged along, which is why it is not used for times.
    assert stats.location(v2, g2, MEDIAN) / stats.location(v, g, MEDIAN) > 1.1


def test_interval_covers_no_change_and_excludes_a_large_one() -> None:
    rng = np.random.default_rng(3)
    b, bg = _processes(rng, 1e-3)
    c, cg = _processes(rng, 1e-3)
    s, sg = _processes(rng, 1.3e-3)
    kw = dict(estimator=Estimator(), confidence=0.95, resamples=1000)
    same = stats.ratio_interval(b, c, rng=np.random.default_rng(0), baseline_groups=bg, current_groups=cg, **kw)
    assert same.ci_low < 1.0 < same.ci_high
    slow = stats.ratio_interval(b, s, rng=np.random.default_rng(0), baseline_groups=bg, current_groups=sg, **kw)
    assert slow.ci_low > 1.15 and slow.ratio == pytest.approx(1.3, rel=0.05)


def test_bootstrap_is_reproducible_with_the_same_seed() -> None:
    rng = np.random.default_rng(4)
    v, g = _processes(rng, 1e-3)
    a = stats.bootstrap_locations(v, g, Estimator(), 500, np.random.default_rng(9))
    b = stats.bootstrap_locations(v, g, Estimator(), 500, np.random.default_rng(9))
    assert np.array_equal(a, b)
    assert stats.seed_for("x", 0) == stats.seed_for("x", 0) != stats.seed_for("y", 0)


def test_ungrouped_samples_use_contiguous_blocks() -> None:
    labels = stats.contiguous_blocks(100)
    assert labels[0] == 0 and labels[-1] == 9 and len(set(labels)) == 10
    assert len(set(stats.contiguous_blocks(6))) == 1  # too few samples to split


@pytest.mark.parametrize("processes, block", [(64, 4), (32, 4), (24, 3), (16, 2), (15, 1), (3, 1)])
def test_block_size_keeps_at_least_eight_blocks(processes: int, block: int) -> None:
    assert stats.block_size(processes) == block


def test_blocks_count_processes_that_share_the_machine_state() -> None:
    """Consecutive processes at a shared level (a busy second on the machine) widen the interval.

    The same levels in shuffled order are independent, and resampled block by block they must
    give a narrower interval: the blocks are what makes the correlation count.
    """
    rng = np.random.default_rng(11)

    def side(level: float) -> tuple[np.ndarray, np.ndarray]:
        shared = np.repeat(np.exp(rng.normal(0, 0.04, 8)), 4)  # 8 stretches of 4 processes
        levels = level * shared * np.exp(rng.normal(0, 0.01, 32))
        values = np.repeat(levels, 20) * (1 + np.abs(rng.normal(0, 0.01, 640)))
        return values, np.repeat(np.arange(32), 20)

    (b, bg), (c, cg) = side(1e-3), side(1e-3)
    kw = dict(estimator=Estimator(), confidence=0.90, resamples=2000)
    in_order = stats.ratio_interval(b, c, rng=np.random.default_rng(0), baseline_groups=bg, current_groups=cg, **kw)
    relabel_b, relabel_c = rng.permutation(32), rng.permutation(32)
    shuffled = stats.ratio_interval(b, c, rng=np.random.default_rng(0), baseline_groups=relabel_b[bg],
                                    current_groups=relabel_c[cg], **kw)
    assert in_order.ratio == pytest.approx(shuffled.ratio)  # same data, same estimate
    assert in_order.se_log > 1.3 * shuffled.se_log


def test_a_short_last_block_is_padded_not_invented() -> None:
    rng = np.random.default_rng(12)
    v, g = _processes(rng, 1e-3, n_proc=34)  # blocks of 4: eight full, one of 2
    est = stats.ratio_interval(v, v * 1.2, estimator=Estimator(), confidence=0.90, resamples=500,
                               rng=np.random.default_rng(0), baseline_groups=g, current_groups=g)
    assert est.ratio == pytest.approx(1.2) and est.ci_low == pytest.approx(1.2) == pytest.approx(est.ci_high)
    padded = np.array([[1.0, 1.1, np.nan], [1.0, 1.1, 2.5]])
    assert np.allclose(Estimator().of_levels(padded), Estimator().of_levels(np.array([1.0, 1.1])))


def test_fewer_than_three_processes_fall_back_to_time_blocks() -> None:
    labels, are_processes = stats.unit_labels(100, np.repeat([0, 1], 50))
    assert not are_processes and len(set(labels)) == 10
    labels, are_processes = stats.unit_labels(100, np.repeat(np.arange(4), 25))
    assert are_processes and len(set(labels)) == 4
    assert stats.process_count(None) is None and stats.process_count((3, 3, 5)) == 2


def test_pooled_and_median_paths() -> None:
    rng = np.random.default_rng(5)
    few = np.array([1.0, 1.01, 0.99, 1.02])  # one block: pooled
    est = stats.ratio_interval(few, few * 1.5, estimator=Estimator(), confidence=0.95, resamples=500, rng=rng)
    assert est.ratio == pytest.approx(1.5)
    counts = np.array([1000.0, 1000.0, 1001.0])
    est = stats.ratio_interval(counts, counts * 1.02, estimator=MEDIAN, confidence=0.95, resamples=500, rng=rng)
    assert est.ratio == pytest.approx(1.02) and est.ci_low > 1.0


def test_large_inputs_are_thinned_and_stay_fast() -> None:
    rng = np.random.default_rng(6)
    big = 1e-6 * (1 + np.abs(rng.normal(0, 0.05, 200_000)))
    est = stats.ratio_interval(big, big * 1.2, estimator=Estimator(), confidence=0.95, resamples=2000,
                               rng=np.random.default_rng(0))
    assert est.ci_low > 1.1


def test_min_detectable_grows_with_noise_and_never_beats_the_threshold() -> None:
    quiet = stats.min_detectable(0.05, 0.001, 0.95)
    noisy = stats.min_detectable(0.05, 0.05, 0.95)
    assert 0.05 < quiet < 0.06 < noisy
    assert noisy == pytest.approx(math.expm1((1.959964 + 1.644854) * 0.05), rel=1e-4)


@pytest.mark.parametrize("p, z", [(0.5, 0.0), (0.975, 1.959964), (0.95, 1.644854), (0.995, 2.575829), (0.001, -3.090232)])
def test_normal_quantile(p: float, z: float) -> None:
    assert stats._z(p) == pytest.approx(z, abs=1e-5)
