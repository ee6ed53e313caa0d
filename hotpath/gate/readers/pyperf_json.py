"""pyperf's JSON format (https://pyperf.readthedocs.io/en/latest/file_format.html).

A file is always a suite: ``{"version": "1.0", "metadata": {...}, "benchmarks": [...]}``, even
for a single benchmark. Metadata common to all benchmarks is hoisted to the suite, so a
benchmark's name and unit may live there. Each benchmark holds ``runs`` (one per worker
process); a run's ``values`` are already per loop iteration, its ``warmups`` are ignored, and
calibration runs have no ``values`` at all.
"""

from __future__ import annotations

from typing import Any

from hotpath.gate.errors import GateInputError
from hotpath.gate.model import UNIT_SECONDS, BenchmarkSamples
from hotpath.gate.readers.common import as_float_tuple

#: pyperf's unit names mapped to the gate's; others ("byte", "integer") pass through.
_UNITS = {"second": UNIT_SECONDS}


def parse(data: dict[str, Any], source: str) -> list[BenchmarkSamples]:
    """All benchmarks of a pyperf suite."""
    version = str(data.get("version", ""))
    if not version.startswith("1."):
        raise GateInputError(
            f"{source!r} uses pyperf file format {version!r}; the gate reads format 1.x: "
            "re-save it with a current pyperf (`python -m pyperf convert`)"
        )
    suite_meta = data.get("metadata") or {}
    out = []
    for index, bench in enumerate(data["benchmarks"]):
        meta = {**suite_meta, **(bench.get("metadata") or {})}
        name = meta.get("name") or f"benchmark-{index}"
        unit = str(meta.get("unit", "second"))
        values: list[float] = []
        groups: list[int] = []
        for run_index, run in enumerate(bench.get("runs", [])):
            run_values = as_float_tuple(run.get("values", []))
            values.extend(run_values)
            groups.extend([run_index] * len(run_values))
        out.append(
            BenchmarkSamples(
                name=str(name),
                unit=_UNITS.get(unit, unit),
                values=tuple(values),
                groups=tuple(groups),
            )
        )
    return out
