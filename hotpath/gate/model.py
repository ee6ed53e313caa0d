"""What passes between the gate's stages: samples read from a file, and the verdicts on them.

Readers produce :class:`ResultSet`; :mod:`hotpath.gate.decision` turns two of them into a
:class:`GateReport`; the renderers only read reports. Everything here is frozen so a stage can
never change what an earlier stage saw.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

#: Exit statuses of ``hotpath gate`` (and of the pytest plugin's verdict).
EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_INPUT_ERROR = 2

#: Units the readers normalise to. Time is always seconds; other units pass through unchanged.
UNIT_SECONDS = "s"
UNIT_INSTRUCTIONS = "instructions"


@dataclass(frozen=True)
class SummaryStats:
    """The order statistics a tool kept when it threw its raw samples away (pytest-benchmark)."""

    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float
    count: int


@dataclass(frozen=True)
class BenchmarkSamples:
    """One benchmark's measurements from one file.

    ``values`` are per-iteration measurements in ``unit``. ``groups`` says, for each value, which
    process (pyperf run) produced it; the bootstrap resamples whole groups first because values
    from one process share its memory layout and hash seed. ``values`` is empty when the file
    only kept ``summary`` statistics.
    """

    name: str
    unit: str
    values: tuple[float, ...] = ()
    groups: tuple[int, ...] | None = None
    summary: SummaryStats | None = None

    @property
    def count(self) -> int:
        """How many measurements back this benchmark (raw or summarised)."""
        if self.values:
            return len(self.values)
        return self.summary.count if self.summary else 0

    @property
    def has_raw(self) -> bool:
        """Whether individual samples are available (needed for a significance test)."""
        return bool(self.values)


@dataclass(frozen=True)
class ResultSet:
    """All benchmarks read from one results file, keyed by name."""

    source: str
    format: str
    benchmarks: Mapping[str, BenchmarkSamples] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "benchmarks", MappingProxyType(dict(self.benchmarks)))

    def names(self) -> list[str]:
        """Benchmark names in file order."""
        return list(self.benchmarks)


class Verdict(str, enum.Enum):
    """What the gate concluded about one benchmark."""

    FASTER = "faster"
    UNCHANGED = "unchanged"
    SLOWER = "slower"
    #: Slower, but a policy or ``--allow`` acknowledged it, so it does not fail the gate.
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class Comparison:
    """The verdict on one benchmark with the evidence behind it.

    ``ratio`` is current / baseline of the location estimate (above 1 is slower). ``ci_low`` and
    ``ci_high`` bound it at ``confidence`` (``None`` without raw samples). ``min_detectable`` is
    the smallest slowdown (as a fraction, 0.07 = 7 %) this pair of measurements would flag with
    95 % probability, given the noise seen in them; ``None`` when it cannot be estimated.
    """

    name: str
    unit: str
    verdict: Verdict
    ratio: float
    ci_low: float | None
    ci_high: float | None
    threshold: float
    confidence: float
    baseline_estimate: float
    current_estimate: float
    baseline_count: int
    current_count: int
    method: str
    min_detectable: float | None
    reason: str
    allow_reason: str | None = None

    @property
    def change(self) -> float:
        """Relative change of the estimate (+0.10 = 10 % slower)."""
        return self.ratio - 1.0

    @property
    def fails(self) -> bool:
        """Whether this benchmark fails the gate."""
        return self.verdict is Verdict.SLOWER


@dataclass(frozen=True)
class GateReport:
    """Every comparison between two result sets, plus what could not be compared."""

    baseline: str
    current: str
    comparisons: tuple[Comparison, ...]
    only_in_baseline: tuple[str, ...] = ()
    only_in_current: tuple[str, ...] = ()
    settings: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    @property
    def regressions(self) -> tuple[Comparison, ...]:
        """Comparisons that fail the gate."""
        return tuple(c for c in self.comparisons if c.fails)

    @property
    def exit_code(self) -> int:
        """0 when nothing regressed, 1 when something did."""
        return EXIT_REGRESSION if self.regressions else EXIT_OK

    def count(self, verdict: Verdict) -> int:
        """How many benchmarks got ``verdict``."""
        return sum(1 for c in self.comparisons if c.verdict is verdict)

    @property
    def min_detectable(self) -> float | None:
        """The largest per-benchmark detectable slowdown: what the whole run can vouch for."""
        values = [c.min_detectable for c in self.comparisons if c.min_detectable is not None]
        return max(values) if values else None
