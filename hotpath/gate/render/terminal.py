"""The rich table ``hotpath gate`` prints."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotpath.gate.model import GateReport, Verdict
from hotpath.gate.render.units import (
    detectable_line,
    format_change,
    format_fraction,
    format_interval,
    format_value,
    headline,
)

if TYPE_CHECKING:
    from rich.console import Console

_STYLES = {
    Verdict.SLOWER: "bold red",
    Verdict.FASTER: "green",
    Verdict.UNCHANGED: "dim",
    Verdict.ACCEPTED: "yellow",
}


def render(report: GateReport, console: Console, verbose: bool = False) -> None:
    """Print the verdict table, what could not be compared, and the overall result."""
    from rich import box
    from rich.table import Table

    confidence = report.settings.get("confidence", 0.90)
    table = Table(title="hotpath gate", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    longest = max((len(c.name) for c in report.comparisons), default=9)
    table.add_column("benchmark", overflow="fold", min_width=min(36, max(9, longest)))
    for header in ("baseline", "current", "change", f"{confidence:.0%} CI", "thr", "detects"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True, min_width=9)
    for c in report.comparisons:
        style = _STYLES[c.verdict]
        table.add_row(
            c.name,
            format_value(c.baseline_estimate, c.unit),
            format_value(c.current_estimate, c.unit),
            format_change(c.ratio),
            format_interval(c, compact=True),
            f"{c.threshold:.0%}",
            format_fraction(c.min_detectable),
            f"[{style}]{c.verdict.value}[/]",
        )
    console.print(table)
    for c in report.comparisons:
        if verbose or c.verdict in (Verdict.SLOWER, Verdict.ACCEPTED):
            console.print(f"  [{_STYLES[c.verdict]}]{c.name}[/] (n={c.baseline_count}/{c.current_count}): {c.reason}",
                          highlight=False)
    if report.only_in_baseline:
        console.print(f"[yellow]Not in current results (not compared):[/] {', '.join(report.only_in_baseline)}",
                      highlight=False)
    if report.only_in_current:
        console.print(f"New benchmarks (no baseline yet): {', '.join(report.only_in_current)}", highlight=False)
    console.print(detectable_line(report), highlight=False)
    console.print(f"Settings: {report.settings.get('description', '')}", style="dim", highlight=False)
    style = "bold red" if report.regressions else "bold green"
    console.print(f"[{style}]{headline(report)}[/]", highlight=False)
