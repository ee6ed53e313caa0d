"""CI performance gate: compare two benchmark result files and fail on a real slowdown.

Independent of the rest of hotpath. Reads pyperf, pytest-benchmark and ``hotpath.bench/1``
files (:mod:`.readers`), decides per benchmark with a threshold plus a bootstrap significance
test (:mod:`.decision`), and renders the verdicts for terminals, pull requests and CI
(:mod:`.render`). ``hotpath gate`` and ``hotpath measure`` live in :mod:`.cli`; the pytest plugin
in :mod:`.pytest_plugin`; the same judgement from Python is :func:`compare` (:mod:`.api`)::

    from hotpath.gate import compare
    report = compare("base.json", "head.json")   # a GateReport; report.exit_code is 0 or 1

Importing this package is cheap: the numeric parts load on first use, because every ``hotpath``
command imports the gate's CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hotpath.gate.errors import GateInputError
from hotpath.gate.model import (
    EXIT_INPUT_ERROR,
    EXIT_OK,
    EXIT_REGRESSION,
    BenchmarkSamples,
    Comparison,
    GateReport,
    ResultSet,
    SummaryStats,
    Verdict,
)

if TYPE_CHECKING:
    from hotpath.gate.api import compare
    from hotpath.gate.decision import compare_benchmark, run_gate
    from hotpath.gate.policy import Policy, Rule, load_policy
    from hotpath.gate.readers import load_results

__all__ = [
    "EXIT_INPUT_ERROR", "EXIT_OK", "EXIT_REGRESSION", "BenchmarkSamples", "Comparison",
    "GateInputError", "GateReport", "Policy", "ResultSet", "Rule", "SummaryStats", "Verdict",
    "compare", "compare_benchmark", "load_policy", "load_results", "run_gate",
]

_LAZY = {
    "compare": "hotpath.gate.api",
    "compare_benchmark": "hotpath.gate.decision",
    "run_gate": "hotpath.gate.decision",
    "Policy": "hotpath.gate.policy",
    "Rule": "hotpath.gate.policy",
    "load_policy": "hotpath.gate.policy",
    "load_results": "hotpath.gate.readers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hotpath.gate' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
