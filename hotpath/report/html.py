"""``hotpath report --html out.html``: one self-contained page (inline SVG and CSS, no network).

Plots: the speedup of every timed variant per function and backend (with 95% intervals), the
time per call before and after for every function with a winner, and a timeline of installs,
warm installs, refusals and rollbacks from the audit log. Then, per tuning run, the inputs it
verified on by rule, their line coverage and the install's guards; then the full trials table. A few
lines of inline script record each chart's laid-out size on the chart itself
(``data-rendered-width``/``-height``, ``data-marks``): the browser test reads them back.
"""

from __future__ import annotations

import datetime
from html import escape

from hotpath.report.model import Report
from hotpath.report.svg import Bar, Mark, Pair, before_after_chart, speedup_chart, timeline_chart

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #212121; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
.chart { display: block; margin: 8px 0 16px; background: #fafafa; border: 1px solid #e0e0e0; }
.chart-title { font-weight: 600; font-size: 14px; }
.label { text-anchor: end; font-size: 12px; } .value, .legend { font-size: 11px; }
.tick { text-anchor: middle; font-size: 10px; fill: #616161; }
.grid { stroke: #e0e0e0; } .lane { stroke: #eeeeee; } .unity { stroke: #212121; stroke-dasharray: 4 3; }
.whisker { stroke: #212121; stroke-width: 1.5; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #e0e0e0; padding: 3px 6px; }
th { background: #f5f5f5; text-align: left; } .won { color: #2e7d32; font-weight: 600; }
.incorrect, .failed { color: #c62828; } .skipped { color: #9e9e9e; } .empty { color: #757575; font-style: italic; }
"""

_SCRIPT = """
window.addEventListener('load', function () {
  var charts = document.querySelectorAll('svg.chart');
  var drawn = 0;
  charts.forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    var marks = Array.prototype.filter.call(svg.querySelectorAll('.mark'), function (m) {
      var b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
    svg.setAttribute('data-rendered-width', Math.round(box.width));
    svg.setAttribute('data-rendered-height', Math.round(box.height));
    svg.setAttribute('data-marks', marks.length);
    if (box.width > 0 && box.height > 0 && marks.length > 0) { drawn += 1; }
  });
  document.body.setAttribute('data-charts-drawn', drawn);
});
"""


def _short(function: str) -> str:
    return function.split(":", 1)[-1]


def _speedups(report: Report) -> list[Bar]:
    bars = []
    for run in report.runs:
        for t in run.trials:
            if t.speedup is not None:
                bars.append(Bar(f"{_short(run.function)} · {t.name}", t.speedup, t.ci_low, t.ci_high,
                                "won" if t.status == "won" else "correct", run.signature))
    return bars[-40:]


def _before_after(report: Report) -> list[Pair]:
    latest: dict[str, Pair] = {}
    for run in report.runs:
        won = run.winner
        if won is not None and won.original_s and won.candidate_s:
            latest[f"{_short(run.function)} {run.signature}"[:60]] = Pair(_short(run.function), won.original_s,
                                                                         won.candidate_s)
    return list(latest.values())


def _marks(report: Report) -> list[Mark]:
    return [Mark(e.created, _short(e.function), e.action,
                 f"{e.signature} {e.detail.get('variant', '')} {e.detail.get('reason', '')}".strip())
            for e in report.events]


def _trials_table(report: Report) -> str:
    head = ("when", "function", "signature", "backend", "variant", "verdict", "speedup [95% CI]", "original",
            "variant time", "compile s", "tune s", "reason")
    rows = []
    for run in report.runs:
        when = datetime.datetime.fromtimestamp(run.created).strftime("%Y-%m-%d %H:%M:%S")
        for t in run.trials:
            speed = "-" if t.speedup is None else (f"{t.speedup:.2f}x [{t.ci_low:.2f}, {t.ci_high:.2f}]"
                                                   if t.ci_low is not None else f"{t.speedup:.2f}x")
            cells = (when, run.function, run.signature, t.backend, t.name, t.status, speed,
                     "-" if t.original_s is None else f"{t.original_s * 1e3:.3f} ms",
                     "-" if t.candidate_s is None else f"{t.candidate_s * 1e3:.3f} ms",
                     "-" if t.compile_s is None else f"{t.compile_s:.2f}",
                     "-" if run.duration_s is None else f"{run.duration_s:.1f}",
                     (t.reason or "").splitlines()[0] if t.reason else "")
            rows.append("<tr>" + "".join(f'<td class="{escape(t.status) if i == 5 else ""}">{escape(c)}</td>'
                                         for i, c in enumerate(cells)) + "</tr>")
    return ("<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _verification_table(report: Report) -> str:
    """Per tuning run: the inputs it verified on by rule, the coverage they reached, the install's guards."""
    head = ("when", "function", "signature", "installed", "inputs by rule", "coverage", "guards")
    rows = []
    for run in report.runs:
        v = run.verification
        won = run.winner
        cells = (datetime.datetime.fromtimestamp(run.created).strftime("%Y-%m-%d %H:%M:%S"), run.function,
                 run.signature, won.name if won else "-",
                 ", ".join(f"{rule} {n}" for rule, n in v.inputs) + (f" (total {sum(n for _, n in v.inputs)})"
                                                                     if v.inputs else "not recorded"),
                 "-" if v.coverage_percent is None else f"{v.coverage_percent:.0f}% ({v.lines_run}/{v.lines_total} lines)",
                 "; ".join(v.guards) if v.guards else ("none" if won and v.guards is not None else "-"))
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    return ('<table id="verification"><thead><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def render(report: Report) -> str:
    """The whole page as a string."""
    speedups, pairs, marks = _speedups(report), _before_after(report), _marks(report)
    sections = [f"<h1>hotpath report</h1><p>State folder <code>{escape(report.state_dir)}</code>: "
                f"{len(report.runs)} tuning run(s), {len(report.trials)} variant(s) tried, "
                f"{sum(1 for i in report.installs if i.active)} installed now. Generated "
                f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S}.</p>"]
    sections.append("<h2>Speedup per function and variant</h2>")
    sections.append(speedup_chart("speedup-chart", "speedup over the original (log scale; whiskers: 95% interval)",
                                  speedups) if speedups else '<p class="empty">no variant was timed yet</p>')
    sections.append("<h2>Time per call, before and after</h2>")
    sections.append(before_after_chart("time-chart", "time per call: original vs installed variant (log scale)",
                                       pairs) if pairs else '<p class="empty">no winner yet</p>')
    sections.append("<h2>Installs and rollbacks</h2>")
    sections.append(timeline_chart("timeline-chart", "audit log: installs, warm starts, refusals, rollbacks", marks)
                    if marks else '<p class="empty">nothing installed or rolled back yet</p>')
    sections.append("<h2>What each run verified on, and the guards installed</h2>")
    sections.append(_verification_table(report))
    sections.append("<h2>Everything tried</h2>")
    sections.append(_trials_table(report))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>hotpath report</title>"
            f"<style>{_CSS}</style></head><body>" + "\n".join(sections)
            + f"<script>{_SCRIPT}</script></body></html>\n")
