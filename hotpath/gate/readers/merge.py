"""Several result files as one: how interleaved base/head runs reach the gate.

On a shared machine the speed of the whole box drifts over seconds to minutes, so a baseline
measured at one moment and a change measured at another differ by more than most regressions.
Measuring both in alternating chunks (base, head, base, head, ...) exposes them to the same
drift; each side's chunks are then merged here. Every file keeps its own process labels so the
bootstrap still resamples whole processes; a file without labels (pytest-benchmark) was one
process, and becomes one group, so that two sessions count as two processes and not as twenty
blocks that would pass for processes.
"""

from __future__ import annotations

from collections.abc import Sequence

from hotpath.gate.errors import GateInputError
from hotpath.gate.model import BenchmarkSamples, ResultSet

def merge_results(sets: Sequence[ResultSet], role: str = "results") -> ResultSet:
    """One :class:`ResultSet` holding every sample of ``sets``, benchmark by benchmark."""
    if len(sets) == 1:
        return sets[0]
    values: dict[str, list[float]] = {}
    groups: dict[str, list[int]] = {}
    units: dict[str, str] = {}
    next_group: dict[str, int] = {}
    for result in sets:
        for name, bench in result.benchmarks.items():
            if not bench.has_raw:
                raise GateInputError(
                    f"{role} file {result.source!r} has only summary statistics for {name!r}, which "
                    "cannot be merged with other files; keep raw samples (--benchmark-save-data)"
                )
            if name in units and units[name] != bench.unit:
                raise GateInputError(
                    f"benchmark {name!r} is in {units[name]!r} in one {role} file but {bench.unit!r} in "
                    f"{result.source!r}; merge only files measured the same way"
                )
            units[name] = bench.unit
            own = list(bench.groups) if bench.groups is not None else [0] * len(bench.values)
            offset = next_group.get(name, 0)
            relabel = {g: offset + i for i, g in enumerate(dict.fromkeys(own))}
            values.setdefault(name, []).extend(bench.values)
            groups.setdefault(name, []).extend(relabel[g] for g in own)
            next_group[name] = offset + len(relabel)
    merged = {
        name: BenchmarkSamples(name=name, unit=units[name], values=tuple(values[name]), groups=tuple(groups[name]))
        for name in values
    }
    formats = sorted({s.format for s in sets})
    return ResultSet(
        source=" + ".join(s.source for s in sets),
        format=formats[0] if len(formats) == 1 else "mixed",
        benchmarks=merged,
    )

