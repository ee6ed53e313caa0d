"""A rich table of one tuning run: every candidate, its verdict, its timing."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from hotpath.reasons import headline
from hotpath.tuning import TuneResult

_STYLE = {"won": "bold green", "correct": "green", "incorrect": "red", "failed": "red", "skipped": "dim"}


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3f}"


def trials_table(result: TuneResult) -> Table:
    """Original first, then each candidate: correct or not, time, speedup with its interval."""
    table = Table(title=f"{result.function} {result.signature or ''}", title_justify="left")
    table.add_column("variant", no_wrap=True)
    table.add_column("verdict")
    table.add_column("correct", justify="center")
    table.add_column("ms/call", justify="right")
    table.add_column("speedup [95% CI]", justify="right")
    table.add_column("why", overflow="fold", max_width=70)
    table.add_row("original", "", "", _ms(result.baseline_s), "1.00x", "")
    for trial in result.trials:
        correct = {True: "yes", False: "no", None: "-"}[trial.correct]
        timing = trial.timing
        speed = f"{timing.speedup:.2f}x [{timing.ci_low:.2f}, {timing.ci_high:.2f}]" if timing else "-"
        table.add_row(trial.name, Text(trial.status, style=_STYLE.get(trial.status, "")), correct,
                      _ms(timing.candidate_s if timing else None), speed,
                      Text(headline(trial.reason)))  # Text: "[gpu]" is not rich markup
    return table


def verdict_line(result: TuneResult) -> Text:
    if result.winner is not None:
        return Text(f"installed {result.winner.name}: {result.speedup:.1f}x faster, "
                    f"verified on every input tried", style="bold green")
    return Text(f"nothing installed: {result.reason}", style="yellow")
