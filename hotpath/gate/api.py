"""The gate as a Python function: :func:`compare`, what ``hotpath gate`` does, minus the printing.

::

    from hotpath.gate import compare

    report = compare("base.json", "head.json")                 # any format the gate reads
    report = compare({"parse": base_times}, {"parse": head_times}, policy=Policy(threshold=0.10))
    for c in report.regressions:
        print(c.name, f"{c.change:+.1%}", c.reason)
    raise SystemExit(report.exit_code)

Importing this module is cheap; numpy loads when :func:`compare` runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Union

from hotpath.gate.errors import GateInputError
from hotpath.gate.model import UNIT_SECONDS, BenchmarkSamples, GateReport, ResultSet

if TYPE_CHECKING:
    from hotpath.gate.policy import Policy

#: What :func:`compare` accepts for each side: a results file (any format the gate reads), several
#: files merged (a list, a comma-separated string or a quoted glob), an already read
#: :class:`ResultSet`, or benchmark name -> samples (seconds per call, or
#: :class:`BenchmarkSamples` for other units and process labels).
Results = Union[
    str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]], ResultSet,
    Mapping[str, Union[Sequence[float], BenchmarkSamples]],
]


def compare(
    baseline: Results,
    current: Results,
    policy: Policy | str | os.PathLike[str] | None = None,
) -> GateReport:
    """Judge every benchmark present in both ``baseline`` and ``current``, as ``hotpath gate`` does.

    ``policy`` is a :class:`~hotpath.gate.policy.Policy`, a policy file (JSON, TOML or
    ``pyproject.toml``), or ``None`` for the defaults (5 % threshold for times, 1 % for
    instruction counts, 90 % intervals). The returned :class:`GateReport` holds one
    :class:`~hotpath.gate.model.Comparison` per benchmark (``verdict``, ``ratio``, ``ci_low``,
    ``ci_high``, ``threshold``, ``min_detectable``, ``reason``), ``regressions`` and
    ``exit_code`` (0 or 1). Samples given without process labels (plain lists, pytest-benchmark
    files) are single-process data, judged by the wider rule of docs/gate.md.

    Raises :class:`GateInputError` for anything unusable (a missing file, fewer than 2 samples,
    no benchmark in common, mismatched units), with a message that says what to do.
    """
    from hotpath.gate.decision import run_gate
    from hotpath.gate.policy import Policy, load_policy

    if policy is None:
        policy = Policy()
    elif not isinstance(policy, Policy):
        policy = load_policy(policy)
    return run_gate(_results(baseline, "baseline"), _results(current, "current"), policy)


def _results(spec: Results, role: str) -> ResultSet:
    """``spec`` as a checked :class:`ResultSet`."""
    from hotpath.gate.readers import load_many, parse_results

    if isinstance(spec, ResultSet):
        return spec
    if isinstance(spec, Mapping):
        benchmarks = [_samples(name, data, role) for name, data in spec.items()]
        document = {"schema": "hotpath.bench/1", "benchmarks": [
            {"name": b.name, "unit": b.unit, "samples": list(b.values),
             **({"groups": list(b.groups)} if b.groups is not None else {})} for b in benchmarks]}
        # Through the reader, so Python input gets the very checks a file gets.
        return parse_results(document, source=f"{role} (Python)", role=role)
    if isinstance(spec, (str, os.PathLike)):
        return load_many(spec, role=role)
    if isinstance(spec, Sequence):
        return load_many([os.fspath(p) for p in spec], role=role)
    raise GateInputError(
        f"{role}: expected a results file, a list of files, a ResultSet or a mapping of benchmark "
        f"name to samples, got {type(spec).__name__}"
    )


def _samples(name: str, data: Sequence[float] | BenchmarkSamples, role: str) -> BenchmarkSamples:
    if isinstance(data, BenchmarkSamples):
        if not data.has_raw:
            raise GateInputError(f"{role} benchmark {name!r} has no raw samples; pass its values")
        return BenchmarkSamples(name=str(name), unit=data.unit, values=data.values, groups=data.groups)
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence) and not hasattr(data, "__len__"):
        raise GateInputError(f"{role} benchmark {name!r}: expected a sequence of times in seconds, got {type(data).__name__}")
    try:
        values = tuple(float(v) for v in data)  # numpy arrays too
    except (TypeError, ValueError):
        raise GateInputError(f"{role} benchmark {name!r}: samples must be numbers (seconds per call)") from None
    return BenchmarkSamples(name=str(name), unit=UNIT_SECONDS, values=values)
