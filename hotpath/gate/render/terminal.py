"""The rich table ``hotpath gate`` prints."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    from rich.table import Table

    confidence = report.settings.get("confidence", 0.99)
    table = Table(title="hotpath gate", title_justify="left", show_lines=False)
    table.add_column("benchmark", overflow="fold")
    table.add_column("baseline", justify="right")
    table.add_column("current", justify="right")
    table.add_column("change", justify="right")
    table.add_column(f"{confidence:.0%} interval", justify="right")
    table.add_column("threshold", justify="right")
    table.add_column("detectable", justify="right")
    table.add_column("verdict")
    if verbose:
        table.add_column("why", overflow="fold")
    for c in report.comparisons:
        style = _STYLES[c.verdict]
        row = [
            c.name,
            f"{format_value(c.baseline_estimate, c.unit)} (n={c.baseline_count})",
            f"{format_value(c.current_estimate, c.unit)} (n={c.current_count})",
            format_change(c.ratio),
            format_interval(c),
            f"{c.threshold:.0%}",
            format_fraction(c.min_detectable),
            f"[{style}]{VERDICT_SYMBOLS[c.verdict]}[/]",
        ]
        if verbose:
            row.append(c.reason)
        table.add_row(*row)
    console.print(table)
    for c in report.comparisons:
        if c.verdict in (Verdict.SLOWER, Verdict.ACCEPTED):
            console.print(f"  [{_STYLES[c.verdict]}]{c.name}[/]: {c.reason}", highlight=False)
    if report.only_in_baseline:
        console.print(f"[yellow]Not in current results (not compared):[/] {', '.join(report.only_in_baseline)}",
                      highlight=False)
    if report.only_in_current:
        console.print(f"New benchmarks (no baseline yet): {', '.join(report.only_in_current)}", highlight=False)
    console.print(detectable_line(report), highlight=False)
    console.print(f"Settings: {report.settings.get('description', '')}", style="dim", highlight=False)
    style = "bold red" if report.regressions else "bold green"
    console.print(f"[{style}]{headline(report)}[/]", highlight=False)
