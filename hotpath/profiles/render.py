"""Rich tables for ``hotpath profile`` and ``hotpath optimize``."""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from hotpath.profiles import events, pick
from hotpath.profiles.model import Profile
from hotpath.profiles.pick import Choice


def _where(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def profile_table(profile: Profile, top: int | None = None,
                  min_python_share: float = pick.DEFAULT_MIN_PYTHON_SHARE) -> Table:
    """Functions by share of the program's time: Python/native/system split, rewritable or why not;
    the caption says which ones ``hotpath optimize`` tries, with this profile's noise band."""
    band = pick.noise_band(profile, min_python_share)
    table = Table(title=f"hot functions of {profile.script} ({profile.profiler}, {profile.elapsed_s:.2f} s)",
                  title_justify="left", caption_justify="left",
                  caption=f"`hotpath optimize` tries rewritable functions with at least {min_python_share:.1%} of "
                          f"the time in Python, and one tuned before in {band.describe()}")
    table.add_column("#", justify="right")
    table.add_column("function", no_wrap=True)
    table.add_column("file:line", no_wrap=True)
    table.add_column("time", justify="right")
    table.add_column("python", justify="right")
    table.add_column("native", justify="right")
    table.add_column("system", justify="right")
    table.add_column("rewritable", overflow="fold", max_width=60)
    for rank, f in enumerate(profile.functions[:top] if top else profile.functions, 1):
        verdict = (Text("yes", style="green") if f.rewritable else
                   Text(f"no: {f.reason}", style="yellow") if f.rewritable is False else Text("?"))
        table.add_row(str(rank), f.function, f"{_where(f.file)}:{f.line}", f"{f.share:.1%}",
                      f"{f.python_share:.1%}", f"{f.native_share:.1%}", f"{f.system_share:.1%}", verdict)
    return table


def choices_table(choices: Sequence[Choice]) -> Table:
    """Every profiled function with the decision about it and the reason (``pick.choose``)."""
    table = Table(title="functions to try", title_justify="left")
    table.add_column("function", no_wrap=True)
    table.add_column("python time", justify="right")
    table.add_column("decision", overflow="fold", max_width=80)
    for c in choices:
        style = "green" if c.picked else "dim"
        table.add_row(c.function.function, f"{c.function.python_share:.1%}",
                      Text(("try: " if c.picked else "skip: ") + c.why, style=style))
    return table


def summary_table(captured: Sequence[events.Captured], skipped: Sequence[events.CaptureSkipped],
                  tuned: Sequence[events.Tuned]) -> Table:
    """One row per captured signature: what won, by how much, how long tuning took; then the skipped."""
    table = Table(title="hotpath optimize: results (stored; `hotpath run` uses them)", title_justify="left")
    table.add_column("function", no_wrap=True)
    table.add_column("signature", overflow="fold", max_width=48)
    table.add_column("calls", justify="right")
    table.add_column("winner")
    table.add_column("speedup [95% CI]", justify="right")
    table.add_column("tune s", justify="right")
    table.add_column("note", overflow="fold", max_width=60)
    done = {(t.function, t.signature): t for t in tuned}
    for c in captured:
        t = done.get((c.function, c.signature))
        if t is None:
            table.add_row(c.function, c.signature, str(c.calls), "-", "-", "-", Text("not finished", style="yellow"))
        elif t.winner:
            table.add_row(c.function, c.signature, str(c.calls), Text(t.winner, style="bold green"),
                          f"{t.speedup:.1f}x [{t.ci_low:.1f}, {t.ci_high:.1f}]", f"{t.duration_s:.1f}", "installed")
        else:
            table.add_row(c.function, c.signature, str(c.calls), "-", "-", f"{t.duration_s:.1f}",
                          Text(f"nothing installed: {t.reason}", style="yellow"))
    for s in skipped:
        table.add_row(s.function, s.signature or "-", "-", "-", "-", "-", Text(f"skipped: {s.reason}", style="yellow"))
    return table
