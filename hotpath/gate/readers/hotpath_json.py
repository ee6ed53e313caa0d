"""hotpath's own results format, ``hotpath.bench/1``.

::

    {
      "schema": "hotpath.bench/1",
      "metadata": {...},                      # optional, free-form (command, tool, date)
      "benchmarks": [
        {
          "name": "parse_big_file",           # unique in the file; the gate matches on it
          "unit": "s",                        # "s" (seconds) or "instructions", or any label
          "samples": [0.0123, 0.0121, ...],   # one measurement each, at least 2, all > 0
          "groups": [0, 0, 1, 1, ...],        # optional: the process each sample came from
          "metadata": {...}                   # optional, free-form
        }
      ]
    }

A later ``hotpath.bench/2`` may add fields; readers of ``/1`` ignore fields they do not know.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from hotpath.gate.errors import GateInputError
from hotpath.gate.model import BenchmarkSamples
from hotpath.gate.readers.common import as_float_tuple

SCHEMA = "hotpath.bench/1"


def parse(data: dict[str, Any], source: str) -> list[BenchmarkSamples]:
    """All benchmarks of a ``hotpath.bench/1`` document."""
    if data.get("schema") != SCHEMA:
        raise GateInputError(
            f"{source!r} declares schema {data.get('schema')!r}; this hotpath reads {SCHEMA!r}: "
            "upgrade hotpath or regenerate the file"
        )
    out = []
    for bench in data["benchmarks"]:
        values = as_float_tuple(bench["samples"])
        groups = bench.get("groups")
        out.append(
            BenchmarkSamples(
                name=str(bench["name"]),
                unit=str(bench.get("unit", "s")),
                values=values,
                groups=tuple(int(g) for g in groups) if groups is not None else None,
            )
        )
    return out


def to_document(
    benchmarks: Iterable[BenchmarkSamples], metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``hotpath.bench/1`` document for ``benchmarks``."""
    entries = []
    for bench in benchmarks:
        entry: dict[str, Any] = {"name": bench.name, "unit": bench.unit, "samples": list(bench.values)}
        if bench.groups is not None:
            entry["groups"] = list(bench.groups)
        entries.append(entry)
    doc: dict[str, Any] = {"schema": SCHEMA, "benchmarks": entries}
    if metadata:
        doc["metadata"] = dict(metadata)
    return doc


def dump(
    path: str | os.PathLike[str],
    benchmarks: Iterable[BenchmarkSamples],
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write ``benchmarks`` to ``path`` as ``hotpath.bench/1`` (atomically, so CI never reads half)."""
    doc = to_document(benchmarks, metadata)
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)
