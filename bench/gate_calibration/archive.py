"""The calibration's runs on disk: pyperf files of a collection, and the compact committed archive.

A *round* maps each variant label (``A``, ``A2``, ``B05``, ...) to that run's samples, grouped by
pyperf worker process in time order. ``runs.json.gz`` keeps every value as integer nanoseconds,
per process, so an evaluation can be repeated from the committed data alone.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from hotpath.gate.model import BenchmarkSamples, ResultSet
from hotpath.gate.readers import load_results
from hotpath.gate.readers.merge import merge_results

#: The benchmark name written by workload.py.
BENCHMARK = "loop"

Rounds = dict[int, dict[str, BenchmarkSamples]]


def load_workdir(workdir: Path, labels: tuple[str, ...]) -> Rounds:
    """Every complete round of a collection folder (``round-NNN/LABEL.json``)."""
    rounds: Rounds = {}
    for folder in sorted(workdir.glob("round-*")):
        files = {label: folder / f"{label}.json" for label in labels}
        if not all(f.exists() for f in files.values()):
            continue  # an interrupted round
        rounds[int(folder.name.split("-")[1])] = {
            label: load_results(path).benchmarks[BENCHMARK] for label, path in files.items()
        }
    return rounds


def load_archive(path: Path) -> tuple[Rounds, dict]:
    """The rounds of a ``runs.json.gz`` and its header (pyperf arguments, chunks)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    scale = doc["seconds_per_unit"]
    rounds: Rounds = {}
    for r, runs in doc["rounds"].items():
        rounds[int(r)] = {}
        for label, processes in runs.items():
            values = [v * scale for proc in processes for v in proc]
            groups = [g for g, proc in enumerate(processes) for _ in proc]
            rounds[int(r)][label] = BenchmarkSamples(name=BENCHMARK, unit="s", values=tuple(values), groups=tuple(groups))
    header = {k: v for k, v in doc.items() if k != "rounds"}
    return rounds, header


def save_archive(rounds: Rounds, path: Path, header: dict) -> None:
    """Every run's values, per worker process, as integer nanoseconds (compact, exact enough)."""
    def processes(bench: BenchmarkSamples) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for value, group in zip(bench.values, bench.groups or [0] * len(bench.values)):
            out.setdefault(group, []).append(round(value * 1e9))
        return list(out.values())

    doc = {
        "description": "per-call times of every calibration run: rounds -> label -> worker processes -> values",
        "seconds_per_unit": 1e-9,
        **header,
        "rounds": {str(r): {label: processes(b) for label, b in runs.items()} for r, runs in rounds.items()},
    }
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as fh:
        json.dump(doc, fh, separators=(",", ":"))


def first_processes(bench: BenchmarkSamples, count: int) -> BenchmarkSamples:
    """The samples of the first ``count`` worker processes: a smaller collection of the same run.

    Files are built chunk by chunk, so the first 16 processes of an 8-chunk file are exactly
    what a 4-chunk collection would have measured at those moments.
    """
    assert bench.groups is not None
    keep = list(dict.fromkeys(bench.groups))[:count]
    chosen = set(keep)
    pairs = [(v, g) for v, g in zip(bench.values, bench.groups) if g in chosen]
    return BenchmarkSamples(name=bench.name, unit=bench.unit, values=tuple(v for v, _ in pairs),
                            groups=tuple(g for _, g in pairs))


def merged(*benches: BenchmarkSamples) -> BenchmarkSamples:
    """Several runs of one side as the gate merges them (``hotpath gate a1,a2 b1,b2``)."""
    sets = [ResultSet(source=str(i), format="pyperf", benchmarks={BENCHMARK: b}) for i, b in enumerate(benches)]
    return merge_results(sets).benchmarks[BENCHMARK]


def restrict(rounds: Rounds, processes: int | None) -> Rounds:
    """Every run cut to its first ``processes`` worker processes (``None``: unchanged)."""
    if processes is None:
        return rounds
    return {r: {label: first_processes(b, processes) for label, b in runs.items()} for r, runs in rounds.items()}


def joined(rounds: Rounds, span: int) -> Rounds:
    """Round r as rounds r .. r+span-1 merged per label: a collection with ``span`` times the chunks.

    The couples overlap ((0, 1), (1, 2), ...), so consecutive joined rounds share data; each is
    still a faithful larger collection, a few tens of seconds longer than a real one.
    """
    if span == 1:
        return rounds
    out: Rounds = {}
    for r in sorted(rounds):
        parts = [rounds.get(r + k) for k in range(span)]
        if all(p is not None for p in parts):
            out[r] = {label: merged(*(p[label] for p in parts)) for label in rounds[r]}
    return out
