"""pytest-benchmark's JSON (``--benchmark-json`` or ``--benchmark-save``).

Benchmarks are matched by ``fullname`` (``path::test[param]``), which is unique in a session.
Raw per-round timings are under ``stats.data`` when the file was written with
``--benchmark-json`` or ``--benchmark-save-data``; otherwise only summary statistics remain and
the gate falls back to its conservative summary rule.
"""

from __future__ import annotations

from typing import Any

from hotpath.gate.model import UNIT_SECONDS, BenchmarkSamples, SummaryStats
from hotpath.gate.readers.common import as_float_tuple


def parse(data: dict[str, Any], source: str) -> list[BenchmarkSamples]:
    """All benchmarks of a pytest-benchmark results file."""
    out = []
    for bench in data["benchmarks"]:
        stats = bench["stats"]
        name = bench.get("fullname") or bench["name"]
        raw = stats.get("data")
        values = as_float_tuple(raw) if raw is not None else ()
        summary = SummaryStats(
            minimum=float(stats["min"]),
            q1=float(stats["q1"]),
            median=float(stats["median"]),
            q3=float(stats["q3"]),
            maximum=float(stats["max"]),
            count=int(stats["rounds"]),
        )
        out.append(BenchmarkSamples(name=str(name), unit=UNIT_SECONDS, values=values, summary=summary))
    return out
