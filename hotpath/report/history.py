"""``hotpath report`` in the terminal: every trial ever recorded, grouped by tuning run."""

from __future__ import annotations

import datetime

from rich.console import Group
from rich.table import Table
from rich.text import Text

from hotpath.reasons import headline
from hotpath.report import health
from hotpath.report.model import Report

_STYLE = {"won": "bold green", "correct": "green", "incorrect": "red", "failed": "red", "skipped": "dim"}


def _speed(speedup: float | None, low: float | None, high: float | None) -> str:
    if speedup is None:
        return "-"
    if low is None or high is None:
        return f"{speedup:.2f}x"
    return f"{speedup:.2f}x [{low:.2f}, {high:.2f}]"


def trials_history(report: Report, function: str | None = None) -> Table:
    """Function, signature, variant, verdict and reason, speedup with its interval, tune time; under
    each run, what it verified on (inputs by rule, coverage) and its install's guards."""
    table = Table(title=f"everything tried (store in {report.state_dir})", title_justify="left")
    table.add_column("when", no_wrap=True)
    table.add_column("function", no_wrap=True)
    table.add_column("signature", overflow="fold", max_width=36)
    table.add_column("backend / variant", no_wrap=True)
    table.add_column("verdict")
    table.add_column("speedup [95% CI]", justify="right")
    table.add_column("tune s", justify="right")
    table.add_column("reason", overflow="fold", max_width=60)
    for run in report.runs:
        if function and run.function != function:
            continue
        when = datetime.datetime.fromtimestamp(run.created).strftime("%Y-%m-%d %H:%M")
        tune = "-" if run.duration_s is None else f"{run.duration_s:.1f}"
        for i, t in enumerate(run.trials):
            first = i == 0
            table.add_row(when if first else "", run.function if first else "", run.signature if first else "",
                          f"{t.backend} / {t.name}", Text(t.status, style=_STYLE.get(t.status, "")),
                          _speed(t.speedup, t.ci_low, t.ci_high), tune if first else "",
                          headline(t.reason or ""))
        verified = run.verification
        if verified.inputs or verified.coverage_percent is not None:
            table.add_row("", "", "", "verification", "", "", "", Text(verified.inputs_line()), style="dim")
        if verified.guards:
            table.add_row("", "", "", "install guards", "", "", "", Text("; ".join(verified.guards)))
        table.add_section()
    return table


def health_tables(h: health.Health) -> Group:
    """The loop's health: one line per metric, then what each install was verified on, then what
    no record holds."""
    metrics = Table(title="loop health", title_justify="left")
    metrics.add_column("metric", no_wrap=True)
    metrics.add_column("value", overflow="fold")
    for metric, value in health.summary(h):
        metrics.add_row(metric, Text(value, style="dim" if value == "not recorded" else ""))
    per_install = Table(title="verification per install", title_justify="left")
    for column in ("function", "signature", "variant", "state", "inputs", "coverage", "guards"):
        per_install.add_column(column, overflow="fold", no_wrap=column in ("function", "variant", "state"))
    for c in h.coverage:
        per_install.add_row(c.function, c.signature, c.variant, c.state,
                            "not recorded" if c.inputs is None else str(c.inputs),
                            "not recorded" if c.coverage_percent is None else f"{c.coverage_percent:.0f}%",
                            "not recorded" if c.guards is None else ("; ".join(c.guards) or "none"))
    notes = [Text(f"not recorded: {note}", style="dim") for note in h.not_recorded]
    return Group(metrics, *([per_install] if h.coverage else []), *notes)
