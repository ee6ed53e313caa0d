"""The rich table ``hotpath gate`` and the pytest plugin print.

CI logs and pipes are often 80 columns wide, and a benchmark name cut in half can neither be
read nor pasted into ``--allow``. So identifiers and verdicts are never cut: the full table is
used when it fits, a compact one (name, change, interval, verdict) when that fits, and otherwise
one block per benchmark, its name alone on a line. Lines that carry names are printed without
hard wrapping (a terminal wraps them visually; a log keeps them whole), and names never go
through rich's markup, since pytest ids such as ``test_x[float64]`` look like tags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotpath.gate.model import Comparison, GateReport, Verdict
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
    from rich.table import Table

_STYLES = {
    Verdict.SLOWER: "bold red",
    Verdict.FASTER: "green",
    Verdict.UNCHANGED: "dim",
    Verdict.ACCEPTED: "yellow",
}


def render(report: GateReport, console: Console, verbose: bool = False) -> None:
    """Print the verdicts (in the widest layout that fits), what was not compared, and the result."""
    from rich.text import Text

    confidence = float(report.settings.get("confidence", 0.90))  # type: ignore[arg-type]
    for compact in (False, True):
        table = _table(report, confidence, compact)
        if _fits(table, console):
            console.print(table)
            break
    else:
        _blocks(report, confidence, console)
    for c in report.comparisons:
        if verbose or c.verdict in (Verdict.SLOWER, Verdict.ACCEPTED):
            line = Text("  ")
            line.append(c.name, style=_STYLES[c.verdict])
            line.append(f" (n={c.baseline_count}/{c.current_count}): {c.reason}")
            console.print(line, soft_wrap=True)
    if report.only_in_baseline:
        line = Text("Not in current results (not compared): ", style="yellow")
        line.append(", ".join(report.only_in_baseline), style="default")
        console.print(line, soft_wrap=True)
    if report.only_in_current:
        console.print(Text(f"New benchmarks (no baseline yet): {', '.join(report.only_in_current)}"), soft_wrap=True)
    console.print(Text(detectable_line(report)), soft_wrap=True)
    console.print(Text(f"Settings: {report.settings.get('description', '')}", style="dim"))
    style = "bold red" if report.regressions else "bold green"
    console.print(Text(headline(report), style=style), soft_wrap=True)


def _table(report: GateReport, confidence: float, compact: bool) -> Table:
    """The verdict table; ``compact`` keeps only name, change, interval and verdict."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title="hotpath gate", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    table.add_column("benchmark", no_wrap=True)
    headers = ("change", f"{confidence:.0%} CI") if compact else (
        "baseline", "current", "change", f"{confidence:.0%} CI", "thr", "detects")
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for c in report.comparisons:
        cells = _cells(c)
        values = [cells[h] for h in ("change", "ci")] if compact else [cells[h] for h in (
            "baseline", "current", "change", "ci", "thr", "detects")]
        table.add_row(Text(c.name), *values, Text(VERDICT_SYMBOLS[c.verdict], style=_STYLES[c.verdict]))
    return table


def _cells(c: Comparison) -> dict[str, str]:
    return {
        "baseline": format_value(c.baseline_estimate, c.unit),
        "current": format_value(c.current_estimate, c.unit),
        "change": format_change(c.ratio),
        "ci": format_interval(c, compact=True),
        "thr": f"{c.threshold:.0%}",
        "detects": format_fraction(c.min_detectable),
    }


def _fits(table: Table, console: Console) -> bool:
    """Whether ``table`` renders at its natural width, so no cell is folded or cut."""
    from rich.measure import Measurement

    # Measured against unlimited room: a measurement within the console's width is clamped to it.
    natural = Measurement.get(console, console.options.update_width(1 << 16), table).maximum
    return natural <= console.width


def _blocks(report: GateReport, confidence: float, console: Console) -> None:
    """One record per benchmark: the name alone on a line, then the verdict first."""
    from rich.text import Text

    console.print(Text("hotpath gate", style="italic"))
    for c in report.comparisons:
        cells = _cells(c)
        console.print(Text(c.name, style="bold"), soft_wrap=True)
        line = Text("  ")
        line.append(VERDICT_SYMBOLS[c.verdict], style=_STYLES[c.verdict])
        line.append(f"  {cells['change']}  {confidence:.0%} CI {cells['ci']}  {cells['baseline']} -> "
                    f"{cells['current']}  thr {cells['thr']}  detects {cells['detects']}")
        console.print(line)
