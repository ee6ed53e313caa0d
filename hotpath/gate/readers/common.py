"""Checks every reader applies, so the statistics never see samples they cannot use."""

from __future__ import annotations

import math
from typing import Any

from hotpath.gate.errors import GateInputError
from hotpath.gate.model import BenchmarkSamples

#: Fewer samples than this and no spread can be estimated, so no decision can be defended.
MIN_SAMPLES = 2


def check_samples(bench: BenchmarkSamples, source: str, fmt: str) -> None:
    """Raise :class:`GateInputError` when ``bench`` cannot be compared at all."""
    if bench.count < MIN_SAMPLES:
        raise GateInputError(
            f"benchmark {bench.name!r} in {source!r} has {bench.count} sample(s); the gate needs "
            f"at least {MIN_SAMPLES} to see the noise: {_more_samples_hint(fmt)}"
        )
    for value in bench.values:
        if not (math.isfinite(value) and value > 0):
            raise GateInputError(
                f"benchmark {bench.name!r} in {source!r} has a sample of {value!r}; measurements "
                "must be positive finite numbers: check the timer or the measuring command"
            )
    if bench.summary is not None and not bench.values:
        s = bench.summary
        stats = (s.minimum, s.q1, s.median, s.q3, s.maximum)
        if not all(math.isfinite(v) and v > 0 for v in stats):
            raise GateInputError(
                f"benchmark {bench.name!r} in {source!r} has non-positive summary statistics; "
                "re-run it with --benchmark-save-data so the raw samples are kept"
            )
    if bench.groups is not None and len(bench.groups) != len(bench.values):
        raise GateInputError(
            f"benchmark {bench.name!r} in {source!r} has {len(bench.groups)} group labels for "
            f"{len(bench.values)} samples; regenerate the file"
        )


def as_float_tuple(values: Any) -> tuple[float, ...]:
    """Samples as floats, rejecting anything that is not a number (bool included)."""
    if not isinstance(values, list):
        raise TypeError(f"expected a list of numbers, got {type(values).__name__}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"expected a number, got {v!r}")
        out.append(float(v))
    return tuple(out)


def _more_samples_hint(fmt: str) -> str:
    if fmt == "pyperf":
        return "run pyperf with more --processes/--values (and not --debug-single-value)"
    if fmt == "pytest-benchmark":
        return "raise --benchmark-min-rounds and keep raw data with --benchmark-save-data"
    return "repeat the measurement (hotpath measure --repeat N)"
