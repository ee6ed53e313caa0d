"""JUnit XML, so CI systems list every benchmark as a test and regressions as failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hotpath.gate.model import GateReport, Verdict
from hotpath.gate.render.units import format_change, format_fraction, format_value, headline


def render(report: GateReport, suite_name: str = "hotpath.gate") -> str:
    """The report as a JUnit ``<testsuites>`` document."""
    failures = len(report.regressions)
    skipped = len(report.only_in_baseline)
    tests = len(report.comparisons) + skipped
    root = ET.Element("testsuites", name=suite_name, tests=str(tests), failures=str(failures), errors="0")
    suite = ET.SubElement(root, "testsuite", name=suite_name, tests=str(tests), failures=str(failures),
                          errors="0", skipped=str(skipped))
    props = ET.SubElement(suite, "properties")
    for key in ("baseline", "current"):
        ET.SubElement(props, "property", name=key, value=str(getattr(report, key)))
    ET.SubElement(props, "property", name="settings", value=str(report.settings.get("description", "")))
    for c in report.comparisons:
        case = ET.SubElement(suite, "testcase", classname=suite_name, name=c.name, time="0")
        detail = (
            f"baseline {format_value(c.baseline_estimate, c.unit)} (n={c.baseline_count}), "
            f"current {format_value(c.current_estimate, c.unit)} (n={c.current_count}), "
            f"change {format_change(c.ratio)}, threshold {c.threshold:.0%}, "
            f"smallest detectable {format_fraction(c.min_detectable)}; {c.reason}"
        )
        if c.verdict is Verdict.SLOWER:
            failure = ET.SubElement(case, "failure", type="PerformanceRegression",
                                    message=f"{format_change(c.ratio)} slower: {c.reason}")
            failure.text = detail
        else:
            ET.SubElement(case, "system-out").text = f"{c.verdict.value}: {detail}"
    for name in report.only_in_baseline:
        case = ET.SubElement(suite, "testcase", classname=suite_name, name=name, time="0")
        ET.SubElement(case, "skipped", message="in the baseline but not in the current results")
    ET.SubElement(suite, "system-out").text = headline(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
