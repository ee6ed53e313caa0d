"""Small, dependency-free SVG charts for the HTML report (inline, so the page needs no network).

Each chart is an ``<svg class="chart">`` with a ``<title>``, axis ticks, and one element per
data point (``class="mark"``), so a browser test can check that marks were laid out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 1000
LABEL_W = 330
RIGHT_PAD = 190
ROW_H = 24
TOP = 34
COLORS = {"won": "#2e7d32", "correct": "#8bc34a", "before": "#9e9e9e", "after": "#1e88e5",
          "install": "#2e7d32", "warm-install": "#1e88e5", "rollback": "#e53935", "manual-rollback": "#fb8c00",
          "refusal": "#757575"}
#: Bar states (as ``report.model`` names them) drawn hatched in red, and the one drawn outlined.
LIVE, ROLLED = "live", "rolled back"
ROLLED_STATES = (ROLLED, "rolled back by hand")
ROLLED_COLOR = "#c62828"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    low: float | None = None
    high: float | None = None
    kind: str = "correct"
    note: str = ""
    state: str = ""  # live, rolled back, not installed, ...: marked on the bar


@dataclass(frozen=True)
class Pair:
    label: str
    before: float
    after: float
    state: str = ""  # the variant's: live, rolled back, ...


@dataclass(frozen=True)
class Mark:
    when: float  # seconds since the epoch
    lane: str
    kind: str
    note: str = ""


#: Tick mantissas per decade, coarsest first: the first set giving enough ticks is used.
_MANTISSAS = ((1.0,), (1.0, 3.0), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0),
              (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0))
#: Enough ticks to read the axis by, few enough that their labels do not run into each other.
_MIN_TICKS, _MAX_TICKS = 3, 9


class LogAxis:
    """A log axis fitted to the data (with a little room either side), ticked at round values."""

    def __init__(self, values: Sequence[float], x0: float, x1: float) -> None:
        positive = [v for v in values if v > 0 and math.isfinite(v)] or [1.0]
        low, high = math.log10(min(positive)), math.log10(max(positive))
        pad = max(0.06 * (high - low), 0.03)
        self.lo, self.hi = low - pad, high + pad
        self.x0, self.x1 = x0, x1

    def __call__(self, value: float) -> float:
        position = (math.log10(max(value, 1e-300)) - self.lo) / (self.hi - self.lo)
        return self.x0 + min(max(position, 0.0), 1.0) * (self.x1 - self.x0)

    def ticks(self) -> list[float]:
        inside: list[float] = []
        for mantissas in _MANTISSAS:
            inside = [m * 10.0 ** k for k in range(math.floor(self.lo), math.ceil(self.hi) + 1) for m in mantissas
                      if self.lo <= math.log10(m * 10.0 ** k) <= self.hi]
            if len(inside) >= _MIN_TICKS:
                break
        if len(inside) < 2:  # a narrow range: its two ends, rounded to two figures
            inside = sorted({float(f"{10.0 ** (self.lo + f * (self.hi - self.lo)):.2g}") for f in (0.1, 0.5, 0.9)})
        step = math.ceil(len(inside) / _MAX_TICKS)
        return inside[::step]


def _frame(chart_id: str, title: str, height: float, body: list[str]) -> str:
    return (f'<svg class="chart" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}" role="img">'
            f"<title>{escape(title)}</title>"
            f'<text x="8" y="20" class="chart-title">{escape(title)}</text>' + "".join(body) + "</svg>")


def _ticks(axis: LogAxis, bottom: float, fmt: str) -> list[str]:
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


def _fit(text: str, width: float, char_w: float = 6.6) -> str:
    """``text`` cut (with an ellipsis) to about ``width`` pixels of 12px labels."""
    most = max(4, int(width / char_w))
    return text if len(text) <= most else text[:most - 1] + "…"


def _hatch(chart_id: str) -> str:
    return (f'<defs><pattern id="{chart_id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffebee"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{ROLLED_COLOR}" stroke-width="2.5"/></pattern></defs>')


def _state_style(chart_id: str, state: str, color: str) -> str:
    """Fill and outline telling live, rolled back and never installed apart on every bar."""
    if state in ROLLED_STATES:
        return f'fill="url(#{chart_id}-hatch)" stroke="{ROLLED_COLOR}" stroke-width="1.5"'
    if state == LIVE:
        return f'fill="{color}" stroke="#1b5e20" stroke-width="2"'
    return f'fill="{color}" fill-opacity="0.55"'


def _state_legend(chart_id: str, y: float, live_color: str) -> list[str]:
    parts, x = [], float(LABEL_W)
    for state, style in ((LIVE, _state_style(chart_id, LIVE, live_color)),
                         (ROLLED, _state_style(chart_id, ROLLED, "")),
                         ("not installed / replaced", _state_style(chart_id, "not installed", COLORS["correct"]))):
        parts.append(f'<rect x="{x:.0f}" y="{y - 9:.0f}" width="16" height="11" {style}/>'
                     f'<text x="{x + 22:.0f}" y="{y:.0f}" class="legend">{escape(state)}</text>')
        x += 40 + 7 * len(state)
    return parts


def speedup_chart(chart_id: str, title: str, bars: Sequence[Bar]) -> str:
    """Horizontal bars on a log scale fitted to the data, with 95% interval whiskers, a line at
    1x, and each bar's state (live, rolled back, not installed) in its fill and its label."""
    bottom = TOP + ROW_H * max(len(bars), 1)
    axis = LogAxis([1.0] + [v for b in bars for v in (b.value, b.low or b.value, b.high or b.value)],
                    LABEL_W, WIDTH - RIGHT_PAD)
    body = [_hatch(chart_id), *_ticks(axis, bottom, "{:g}x")]
    one = axis(1.0)
    body.append(f'<line x1="{one:.1f}" y1="{TOP - 6}" x2="{one:.1f}" y2="{bottom:.1f}" class="unity"/>')
    for i, bar in enumerate(bars):
        y = TOP + i * ROW_H
        x = axis(bar.value)
        color = COLORS.get(bar.kind, "#8bc34a")
        state = f" · {bar.state}" if bar.state else ""
        body.append(f'<text x="{LABEL_W - 6}" y="{y + 15}" class="label">{escape(_fit(bar.label, LABEL_W - 12))}'
                    f"<title>{escape(bar.label)}</title></text>")
        body.append(f'<rect class="mark" data-state="{escape(bar.state)}" x="{min(one, x):.1f}" y="{y + 4}" '
                    f'width="{max(abs(x - one), 1.5):.1f}" height="{ROW_H - 8}" {_state_style(chart_id, bar.state, color)}>'
                    f"<title>{escape(bar.label)}: {bar.value:.2f}x{escape(state)} {escape(bar.note)}</title></rect>")
        right = max(x, one)
        if bar.low and bar.high:
            lo, hi = axis(bar.low), axis(bar.high)
            mid = y + ROW_H / 2
            body.append(f'<line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}" class="whisker"/>'
                        f'<line x1="{lo:.1f}" y1="{mid - 4}" x2="{lo:.1f}" y2="{mid + 4}" class="whisker"/>'
                        f'<line x1="{hi:.1f}" y1="{mid - 4}" x2="{hi:.1f}" y2="{mid + 4}" class="whisker"/>')
            right = max(right, hi)  # the value's label starts past the whisker, never on it
        body.append(f'<text x="{right + 5:.1f}" y="{y + 15}" class="value">{bar.value:.1f}x{escape(state)}</text>')
    body += _state_legend(chart_id, bottom + 34, COLORS["won"])
    return _frame(chart_id, title, bottom + 46, body)


def before_after_chart(chart_id: str, title: str, pairs: Sequence[Pair]) -> str:
    """Per function: the original's time per call and the installed variant's (log scale fitted
    to the data), the variant's bar showing whether it is live or was rolled back."""
    bottom = TOP + 2 * ROW_H * max(len(pairs), 1)
    axis = LogAxis([v for p in pairs for v in (p.before, p.after)], LABEL_W, WIDTH - RIGHT_PAD)
    axis.lo -= 0.08 * (axis.hi - axis.lo)  # room left of the fastest bar, so it has a length
    body = [_hatch(chart_id)] + [part for part in _ticks(axis, bottom, "") if 'class="tick"' not in part]
    for tick in axis.ticks():
        body.append(f'<text x="{axis(tick):.1f}" y="{bottom + 14:.1f}" class="tick">{escape(_format_time(tick))}</text>')
    for i, pair in enumerate(pairs):
        y = TOP + i * 2 * ROW_H
        body.append(f'<text x="{LABEL_W - 6}" y="{y + ROW_H}" class="label">{escape(_fit(pair.label, LABEL_W - 12))}'
                    f"<title>{escape(pair.label)}</title></text>")
        for j, (kind, value) in enumerate((("before", pair.before), ("after", pair.after))):
            x = axis(value)
            top = y + j * (ROW_H - 2) + 3
            style = f'fill="{COLORS[kind]}"' if kind == "before" else _state_style(chart_id, pair.state, COLORS[kind])
            name = "original" if kind == "before" else f"variant{' · ' + pair.state if pair.state else ''}"
            body.append(f'<rect class="mark" data-state="{escape(pair.state if kind == "after" else "")}" '
                        f'x="{LABEL_W}" y="{top}" width="{max(x - LABEL_W, 1.5):.1f}" height="{ROW_H - 6}" {style}>'
                        f"<title>{name}: {escape(_format_time(value))}</title></rect>")
            body.append(f'<text x="{x + 4:.1f}" y="{top + 13}" class="value">{escape(name)} '
                        f"{escape(_format_time(value))}</text>")
    body += _state_legend(chart_id, bottom + 34, COLORS["after"])
    return _frame(chart_id, title, bottom + 46, body)


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
