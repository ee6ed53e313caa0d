"""Reading benchmark results: one module per format, one entry point that detects which.

Formats are recognised by content, not by file name, because CI artifacts get renamed:

* pyperf (``"version"`` + ``"benchmarks"`` whose items have ``"runs"``), also gzip-compressed;
* pytest-benchmark (``"machine_info"`` + ``"benchmarks"`` whose items have ``"stats"``);
* hotpath's own ``{"schema": "hotpath.bench/1", ...}`` (see :mod:`.hotpath_json`).
"""

from __future__ import annotations

import glob
import gzip
import json
import logging
import os
import zlib
from typing import Any

from hotpath.gate.errors import GateInputError
from hotpath.gate.model import ResultSet
from hotpath.gate.readers import hotpath_json, pyperf_json, pytest_benchmark_json
from hotpath.gate.readers.common import check_samples
from hotpath.gate.readers.merge import merge_results

log = logging.getLogger(__name__)

__all__ = ["load_results", "load_many", "parse_results", "detect_format", "expand_paths", "merge_results"]

_FORMAT_HELP = (
    "write results with pyperf (-o FILE), pytest-benchmark (--benchmark-json=FILE) "
    "or `hotpath measure` (-o FILE)"
)


def load_results(path: str | os.PathLike[str], role: str = "results") -> ResultSet:
    """Read a results file of any supported format.

    ``role`` ("baseline", "current") only improves the error messages.
    Raises :class:`GateInputError` for anything unusable, never a bare parsing error.
    """
    data = _read_json(os.fspath(path), role)
    return parse_results(data, source=os.fspath(path), role=role)


def load_many(spec: str | os.PathLike[str] | list[str], role: str = "results") -> ResultSet:
    """Read one file, or several merged (``"a.json,b.json"``, a quoted glob, or a list).

    Several files are how interleaved measurements arrive: see :mod:`.merge`.
    """
    paths = expand_paths(spec, role)
    return merge_results([load_results(p, role) for p in paths], role)


def expand_paths(spec: str | os.PathLike[str] | list[str], role: str = "results") -> list[str]:
    """The files named by ``spec``: comma-separated names and shell globs, in order."""
    if not isinstance(spec, list) and os.path.exists(os.fspath(spec)):
        return [os.fspath(spec)]  # a name that happens to contain a comma
    items = [os.fspath(s) for s in spec] if isinstance(spec, list) else os.fspath(spec).split(",")
    paths: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if any(ch in item for ch in "*?[") and not os.path.exists(item):
            matched = sorted(glob.glob(item))
            if not matched:
                raise GateInputError(f"{role} pattern {item!r} matches no file; run the benchmarks first")
            paths.extend(matched)
        else:
            paths.append(item)
    if not paths:
        raise GateInputError(f"no {role} file given")
    return paths


def parse_results(data: Any, source: str, role: str = "results") -> ResultSet:
    """Turn already-parsed JSON into a :class:`ResultSet`, checking it is usable."""
    fmt = detect_format(data)
    if fmt is None:
        raise GateInputError(
            f"{role} file {source!r} is not a benchmark result the gate knows; {_FORMAT_HELP}"
        )
    parser = {
        "pyperf": pyperf_json.parse,
        "pytest-benchmark": pytest_benchmark_json.parse,
        hotpath_json.SCHEMA: hotpath_json.parse,
    }[fmt]
    try:
        benchmarks = parser(data, source)
    except GateInputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # A file that looked right at the top but is malformed inside: say where, not a traceback.
        raise GateInputError(
            f"{role} file {source!r} looks like {fmt} output but is malformed ({type(exc).__name__}: "
            f"{exc}); regenerate it with the tool that wrote it"
        ) from exc
    if not benchmarks:
        raise GateInputError(
            f"{role} file {source!r} contains no benchmark results; check that the benchmark "
            "run actually ran (and was not skipped or disabled)"
        )
    for bench in benchmarks:
        check_samples(bench, source, fmt)
    names: dict[str, int] = {}
    for bench in benchmarks:
        names[bench.name] = names.get(bench.name, 0) + 1
    duplicates = sorted(name for name, count in names.items() if count > 1)
    if duplicates:
        raise GateInputError(
            f"{role} file {source!r} has several benchmarks named {duplicates[0]!r}; "
            "give each benchmark a unique name"
        )
    log.debug("read %d benchmarks (%s) from %s", len(benchmarks), fmt, source)
    return ResultSet(source=source, format=fmt, benchmarks={b.name: b for b in benchmarks})


def detect_format(data: Any) -> str | None:
    """Name the format of parsed JSON, or ``None`` when it is none the gate reads."""
    if not isinstance(data, dict):
        return None
    schema = data.get("schema")
    if isinstance(schema, str) and schema.startswith("hotpath.bench/"):
        return hotpath_json.SCHEMA
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, list):
        return None
    first = benchmarks[0] if benchmarks and isinstance(benchmarks[0], dict) else {}
    if "machine_info" in data or "stats" in first:
        return "pytest-benchmark"
    if "version" in data and ("runs" in first or not benchmarks):
        return "pyperf"
    return None


def _read_json(path: str, role: str) -> Any:
    if not os.path.exists(path):
        raise GateInputError(
            f"{role} file {path!r} does not exist; run the benchmarks first and pass the file "
            "they wrote"
        )
    if os.path.isdir(path):
        raise GateInputError(f"{role} path {path!r} is a folder; pass the results file inside it")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called (pyperf writes .json.gz)
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise GateInputError(
            f"{role} file {path!r} cannot be read ({exc}); it is probably truncated: re-run "
            "the benchmarks"
        ) from exc
    if not raw.strip():
        raise GateInputError(
            f"{role} file {path!r} is empty; the benchmark run probably failed before writing "
            "results: re-run it and check its log"
        )
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise GateInputError(f"{role} file {path!r} is not UTF-8 JSON text; {_FORMAT_HELP}") from exc
    except json.JSONDecodeError as exc:
        raise GateInputError(
            f"{role} file {path!r} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}); it is probably truncated: re-run the benchmarks"
        ) from exc
