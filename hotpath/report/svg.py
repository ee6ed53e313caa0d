"""Small, dependency-free SVG charts for the HTML report (inline, so the page needs no network).

Each chart is an ``<svg class="chart">`` with a ``<title>``, axis ticks, and one element per
data point (``class="mark"``), so a browser test can check that marks were laid out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 900
LABEL_W = 330
RIGHT_PAD = 150
ROW_H = 24
TOP = 34
COLORS = {"won": "#2e7d32", "correct": "#8bc34a", "before": "#9e9e9e", "after": "#1e88e5",
          "install": "#2e7d32", "warm-install": "#1e88e5", "rollback": "#e53935", "manual-rollback": "#fb8c00",
          "refusal": "#757575"}


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    low: float | None = None
    high: float | None = None
    kind: str = "correct"
    note: str = ""


@dataclass(frozen=True)
class Pair:
    label: str
    before: float
    after: float


@dataclass(frozen=True)
class Mark:
    when: float  # seconds since the epoch
    lane: str
    kind: str
    note: str = ""


class _LogAxis:
    def __init__(self, values: Sequence[float], x0: float, x1: float) -> None:
        positive = [v for v in values if v > 0] or [1.0]
        self.lo = math.floor(math.log10(min(min(positive), 1.0)))
        self.hi = math.ceil(math.log10(max(positive)))
        if self.hi <= self.lo:
            self.hi = self.lo + 1
        self.x0, self.x1 = x0, x1

    def __call__(self, value: float) -> float:
        value = max(value, 10.0 ** self.lo)
        return self.x0 + (math.log10(value) - self.lo) / (self.hi - self.lo) * (self.x1 - self.x0)

    def ticks(self) -> list[float]:
        return [10.0 ** k for k in range(self.lo, self.hi + 1)]


def _frame(chart_id: str, title: str, height: float, body: list[str]) -> str:
    return (f'<svg class="chart" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}" role="img">'
            f"<title>{escape(title)}</title>"
            f'<text x="8" y="20" class="chart-title">{escape(title)}</text>' + "".join(body) + "</svg>")


def _ticks(axis: _LogAxis, bottom: float, fmt: str) -> list[str]:
    parts = []
    for tick in axis.ticks():
        x = axis(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{bottom:.1f}" class="grid"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 14:.1f}" class="tick">{escape(fmt.format(tick))}</text>')
    return parts


def _format_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def speedup_chart(chart_id: str, title: str, bars: Sequence[Bar]) -> str:
    """Horizontal bars on a log scale with 95% interval whiskers and a line at 1x."""
    bottom = TOP + ROW_H * max(len(bars), 1)
    axis = _LogAxis([b.value for b in bars] + [b.high or 0 for b in bars], LABEL_W, WIDTH - RIGHT_PAD)
    body = _ticks(axis, bottom, "{:g}x")
    one = axis(1.0)
    body.append(f'<line x1="{one:.1f}" y1="{TOP - 6}" x2="{one:.1f}" y2="{bottom:.1f}" class="unity"/>')
    for i, bar in enumerate(bars):
        y = TOP + i * ROW_H
        x = axis(bar.value)
        color = COLORS.get(bar.kind, "#8bc34a")
        body.append(f'<text x="{LABEL_W - 6}" y="{y + 15}" class="label">{escape(bar.label)}</text>')
        body.append(f'<rect class="mark" x="{min(one, x):.1f}" y="{y + 4}" width="{max(abs(x - one), 1.5):.1f}" '
                    f'height="{ROW_H - 8}" fill="{color}"><title>{escape(bar.label)}: {bar.value:.2f}x '
                    f'{escape(bar.note)}</title></rect>')
        if bar.low and bar.high:
            lo, hi = axis(bar.low), axis(bar.high)
            mid = y + ROW_H / 2
            body.append(f'<line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}" class="whisker"/>')
        body.append(f'<text x="{max(x, one) + 4:.1f}" y="{y + 15}" class="value">{bar.value:.1f}x</text>')
    return _frame(chart_id, title, bottom + 24, body)


def before_after_chart(chart_id: str, title: str, pairs: Sequence[Pair]) -> str:
    """Per function: the original's time per call and the installed variant's (log scale)."""
    bottom = TOP + 2 * ROW_H * max(len(pairs), 1)
    axis = _LogAxis([v for p in pairs for v in (p.before, p.after)], LABEL_W, WIDTH - RIGHT_PAD)
    axis.lo = min(axis.lo, math.floor(math.log10(min([p.after for p in pairs if p.after > 0] or [1.0]))))
    body = _ticks(axis, bottom, "")
    body = [part for part in body if 'class="tick"' not in part]
    for tick in axis.ticks():
        body.append(f'<text x="{axis(tick):.1f}" y="{bottom + 14:.1f}" class="tick">{escape(_format_time(tick))}</text>')
    for i, pair in enumerate(pairs):
        y = TOP + i * 2 * ROW_H
        body.append(f'<text x="{LABEL_W - 6}" y="{y + ROW_H}" class="label">{escape(pair.label)}</text>')
        for j, (kind, value) in enumerate((("before", pair.before), ("after", pair.after))):
            x = axis(value)
            top = y + j * (ROW_H - 2) + 3
            body.append(f'<rect class="mark" x="{LABEL_W}" y="{top}" width="{max(x - LABEL_W, 1.5):.1f}" '
                        f'height="{ROW_H - 6}" fill="{COLORS[kind]}"><title>{kind}: {escape(_format_time(value))}'
                        f"</title></rect>")
            name = "original" if kind == "before" else "variant"
            body.append(f'<text x="{x + 4:.1f}" y="{top + 13}" class="value">{name} {escape(_format_time(value))}</text>')
    return _frame(chart_id, title, bottom + 24, body)


def timeline_chart(chart_id: str, title: str, marks: Sequence[Mark]) -> str:
    """Installs, warm installs, refusals and rollbacks over time, one lane per function."""
    lanes = sorted({m.lane for m in marks})
    bottom = TOP + ROW_H * max(len(lanes), 1)
    start = min((m.when for m in marks), default=0.0)
    end = max((m.when for m in marks), default=1.0)
    span = max(end - start, 1.0)
    x0, x1 = LABEL_W, WIDTH - RIGHT_PAD

    def x_of(when: float) -> float:
        return x0 + (when - start) / span * (x1 - x0)

    body = [f'<line x1="{x0}" y1="{bottom:.1f}" x2="{x1}" y2="{bottom:.1f}" class="grid"/>']
    import datetime

    for k in range(5):
        when = start + span * k / 4
        label = datetime.datetime.fromtimestamp(when).strftime("%m-%d %H:%M:%S")
        body.append(f'<text x="{x_of(when):.1f}" y="{bottom + 14:.1f}" class="tick">{label}</text>')
    for i, lane in enumerate(lanes):
        y = TOP + i * ROW_H + ROW_H / 2
        body.append(f'<text x="{LABEL_W - 6}" y="{y + 4}" class="label">{escape(lane)}</text>')
        body.append(f'<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" class="lane"/>')
    for m in marks:
        y = TOP + lanes.index(m.lane) * ROW_H + ROW_H / 2
        body.append(f'<circle class="mark" cx="{x_of(m.when):.1f}" cy="{y}" r="6" fill="{COLORS.get(m.kind, "#555")}">'
                    f"<title>{escape(m.kind)}: {escape(m.note)}</title></circle>")
    legend_x = x0
    for kind in ("install", "warm-install", "refusal", "rollback", "manual-rollback"):
        body.append(f'<circle cx="{legend_x}" cy="{bottom + 30}" r="5" fill="{COLORS[kind]}"/>'
                    f'<text x="{legend_x + 8}" y="{bottom + 34}" class="legend">{kind}</text>')
        legend_x += 100
    return _frame(chart_id, title, bottom + 44, body)
