"""The report as JSON (schema ``hotpath.gate-report/1``), for tools that post-process verdicts.

::

    {"schema": "hotpath.gate-report/1", "exit_code": 1, "baseline": "...", "current": "...",
     "settings": {...}, "only_in_baseline": [...], "only_in_current": [...],
     "comparisons": [{"name", "unit", "verdict", "ratio", "ci_low", "ci_high", "threshold",
                      "confidence", "baseline_estimate", "current_estimate", "baseline_count",
                      "current_count", "method", "min_detectable", "reason", "allow_reason"}]}
"""

from __future__ import annotations

import dataclasses
import json

from hotpath.gate.model import GateReport

SCHEMA = "hotpath.gate-report/1"


def render(report: GateReport) -> str:
    """The report as an indented JSON document."""
    doc = {
        "schema": SCHEMA,
        "exit_code": report.exit_code,
        "baseline": report.baseline,
        "current": report.current,
        "settings": dict(report.settings),
        "min_detectable": report.min_detectable,
        "only_in_baseline": list(report.only_in_baseline),
        "only_in_current": list(report.only_in_current),
        "comparisons": [
            {**dataclasses.asdict(c), "verdict": c.verdict.value} for c in report.comparisons
        ],
    }
    return json.dumps(doc, indent=1) + "\n"
