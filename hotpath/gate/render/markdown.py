"""A pull-request comment: headline, verdict table, what the gate could detect."""

from __future__ import annotations

from hotpath.gate.model import GateReport, Verdict
from hotpath.gate.render.units import (
    VERDICT_SYMBOLS,
    detectable_line,
    format_change,
    format_fraction,
    format_interval,
    format_value,
    headline,
)

_ICONS = {
    Verdict.SLOWER: ":red_circle:",
    Verdict.FASTER: ":green_circle:",
    Verdict.UNCHANGED: ":white_circle:",
    Verdict.ACCEPTED: ":yellow_circle:",
}


def render(report: GateReport) -> str:
    """The report as GitHub-flavoured Markdown."""
    confidence = report.settings.get("confidence", 0.90)
    title = ":x: Performance regression" if report.regressions else ":white_check_mark: No performance regression"
    lines = [
        f"### {title}",
        "",
        _escape(headline(report)),
        "",
        f"| | benchmark | baseline | current | change | {confidence:.0%} interval | threshold | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    # Regressions first: they are what a reviewer came for.
    order = {Verdict.SLOWER: 0, Verdict.ACCEPTED: 1, Verdict.FASTER: 2, Verdict.UNCHANGED: 3}
    for c in sorted(report.comparisons, key=lambda c: order[c.verdict]):
        lines.append(
            f"| {_ICONS[c.verdict]} | `{_escape(c.name)}` | {format_value(c.baseline_estimate, c.unit)} | "
            f"{format_value(c.current_estimate, c.unit)} | {format_change(c.ratio)} | {format_interval(c)} | "
            f"{c.threshold:.0%} | {VERDICT_SYMBOLS[c.verdict]} |"
        )
    lines.append("")
    flagged = [c for c in report.comparisons if c.verdict in (Verdict.SLOWER, Verdict.ACCEPTED)]
    for c in flagged:
        lines.append(f"- `{_escape(c.name)}`: {_escape(c.reason)}")
    if flagged:
        lines.append("")
    if report.only_in_baseline:
        lines.append("Not in the current results: " + ", ".join(f"`{_escape(n)}`" for n in report.only_in_baseline))
        lines.append("")
    if report.only_in_current:
        lines.append("New, no baseline yet: " + ", ".join(f"`{_escape(n)}`" for n in report.only_in_current))
        lines.append("")
    lines += [
        _escape(detectable_line(report)),
        "",
        "<details><summary>How the gate decides</summary>",
        "",
        f"Settings: {_escape(str(report.settings.get('description', '')))}.",
        "A benchmark is *slower* only when its change exceeds the threshold **and** the bootstrap "
        "interval of the change excludes zero. Acknowledge a known regression with "
        "`hotpath gate --allow NAME=reason`.",
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


__all__ = ["render", "format_fraction"]
