"""``hotpath report --html out.html``: one self-contained page (inline SVG, CSS and script, no network).

From the top: the machine (CPU, library versions) and whether the store's runs were recorded on
it; the loop's own health; the speedup of every timed variant (95% intervals, each bar marked
live, rolled back or not installed); time per call before and after; the whole program's time
where ``hotpath optimize`` recorded it; the install/rollback timeline; each function's file;
what each run verified on; every variant's generated source and its diff against the original,
one click away (``<details>``); then every trial, in a table sorted by clicking its headers.

A few lines of inline script record each chart's laid-out size on the chart itself
(``data-rendered-width``/``-height``, ``data-marks``): the browser test reads them back.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from html import escape
from pathlib import Path

from hotpath.profiles.programs import ProgramRun
from hotpath.reasons import headline
from hotpath.report import environment, health, sources
from hotpath.report.model import LIVE, NOT_INSTALLED, Report, TuningRun
from hotpath.report.svg import Bar, Mark, Pair, before_after_chart, speedup_chart, timeline_chart
from hotpath.store import queries
from hotpath.store.queries import TrialRow

#: Variants whose generated source the page carries (the newest): enough to read, a page that loads.
MAX_SOURCES = 60

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #212121; max-width: 1400px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; } h3 { font-size: 14px; margin: 12px 0 2px; }
.chart { display: block; margin: 8px 0 16px; background: #fafafa; border: 1px solid #e0e0e0; }
.chart-title { font-weight: 600; font-size: 14px; }
.label { text-anchor: end; font-size: 12px; } .value, .legend { font-size: 11px; }
.tick { text-anchor: middle; font-size: 10px; fill: #616161; }
.grid { stroke: #e0e0e0; } .lane { stroke: #eeeeee; } .unity { stroke: #212121; stroke-dasharray: 4 3; }
.whisker { stroke: #212121; stroke-width: 1.5; }
table { border-collapse: collapse; font-size: 12px; margin: 6px 0 12px; }
td, th { border: 1px solid #e0e0e0; padding: 3px 6px; vertical-align: top; }
th { background: #f5f5f5; text-align: left; } .won { color: #2e7d32; font-weight: 600; }
table.sortable th { cursor: pointer; user-select: none; } table.sortable th::after { content: " \\2195"; color: #bdbdbd; }
th[aria-sort="ascending"]::after { content: " \\25B2" !important; color: #424242 !important; }
th[aria-sort="descending"]::after { content: " \\25BC" !important; color: #424242 !important; }
.incorrect, .failed { color: #c62828; } .skipped { color: #9e9e9e; } .empty, .unrecorded { color: #757575; font-style: italic; }
.state-live { color: #1b5e20; font-weight: 600; } .state-rolled { color: #c62828; font-weight: 600; }
details { margin: 2px 0 6px; } summary { cursor: pointer; }
pre { background: #f5f5f5; border: 1px solid #e0e0e0; padding: 6px 8px; font-size: 12px; overflow-x: auto; margin: 4px 0; }
.add { color: #1b5e20; background: #e8f5e9; display: block; } .del { color: #b71c1c; background: #ffebee; display: block; }
.hunk { color: #1565c0; display: block; } .ctx { display: block; } .env td:first-child, .health td:first-child { white-space: nowrap; }
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
    // Value labels laid over a whisker (or over another label) would be unreadable: count them.
    var boxes = function (sel) { return Array.prototype.map.call(svg.querySelectorAll(sel),
      function (e) { return e.getBoundingClientRect(); }); };
    var hit = function (a, b) { return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom; };
    var values = boxes('.value'), whiskers = boxes('.whisker'), collisions = 0;
    values.forEach(function (v, i) {
      whiskers.forEach(function (w) { if (hit(v, w)) { collisions += 1; } });
      values.slice(i + 1).forEach(function (u) { if (hit(v, u)) { collisions += 1; } });
    });
    svg.setAttribute('data-collisions', collisions);
    if (box.width > 0 && box.height > 0 && marks.length > 0) { drawn += 1; }
  });
  document.body.setAttribute('data-charts-drawn', drawn);
});
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, column) {
    th.addEventListener('click', function () {
      var down = th.getAttribute('aria-sort') === 'ascending';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', down ? 'descending' : 'ascending');
      var body = table.tBodies[0];
      var key = function (row) {
        var cell = row.cells[column]; var v = cell.getAttribute('data-sort');
        if (v === null) { v = cell.textContent.trim(); }
        var n = parseFloat(v); return isNaN(n) || !/^-?[0-9.]/.test(v) ? [1, v.toLowerCase()] : [0, n];
      };
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var c = x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0);
        return down ? -c : c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _short(function: str) -> str:
    return function.split(":", 1)[-1]


def _state_class(state: str) -> str:
    return "state-live" if state == LIVE else ("state-rolled" if state.startswith("rolled back") else "")


def _anchor(run_index: int, variant: str) -> str:
    return f"variant-{run_index}-" + "".join(c if c.isalnum() else "-" for c in variant)


def _speedups(report: Report) -> list[Bar]:
    bars = []
    for run in report.runs:
        for t in run.trials:
            if t.speedup is not None:
                state = report.install_state(report.install_of(run, t.name))
                bars.append(Bar(f"{_short(run.function)} · {t.name}", t.speedup, t.ci_low, t.ci_high,
                                "won" if t.status == "won" else "correct", run.signature, state))
    return bars[-40:]


def _before_after(report: Report) -> list[Pair]:
    latest: dict[str, Pair] = {}
    for run in report.runs:
        won = run.winner
        if won is not None and won.original_s and won.candidate_s:
            state = report.install_state(report.install_of(run, won.name))
            latest[f"{_short(run.function)} {run.signature}"[:60]] = Pair(f"{_short(run.function)} {run.signature}",
                                                                         won.original_s, won.candidate_s, state)
    return list(latest.values())


def _marks(report: Report) -> list[Mark]:
    return [Mark(e.created, _short(e.function), e.action,
                 f"{e.signature} {e.detail.get('variant', '')} {e.detail.get('reason', '')}".strip())
            for e in report.events]


def _table(head: Sequence[str], rows: Sequence[Sequence[tuple[str, str, str | None]]], table_id: str = "",
           sortable: bool = False) -> str:
    """``rows`` of cells (html, class, sort key); the html is already escaped."""
    attrs = (f' id="{table_id}"' if table_id else "") + (' class="sortable"' if sortable else "")
    body = "".join("<tr>" + "".join(_td(*cell) for cell in row) + "</tr>" for row in rows)
    return (f"<table{attrs}><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + body + "</tbody></table>")


def _td(html: str, css: str, key: str | None) -> str:
    attrs = (f' class="{css}"' if css else "") + (f' data-sort="{escape(key)}"' if key is not None else "")
    return f"<td{attrs}>{html}</td>"


def _cell(text: str, css: str = "", key: str | None = None) -> tuple[str, str, str | None]:
    return escape(text), css, key


def _num(value: float | None, text: str) -> tuple[str, str, str | None]:
    return escape(text), "", None if value is None else repr(value)


def _trials_table(report: Report, anchors: dict[tuple[int, str], str]) -> str:
    head = ("when", "function", "signature", "backend", "variant", "verdict", "state", "speedup [95% CI]",
            "original", "variant time", "compile s", "tune s", "reason")
    rows = []
    for index, run in enumerate(report.runs):
        when = datetime.datetime.fromtimestamp(run.created).strftime("%Y-%m-%d %H:%M:%S")
        for t in run.trials:
            speed = "-" if t.speedup is None else (f"{t.speedup:.2f}x [{t.ci_low:.2f}, {t.ci_high:.2f}]"
                                                   if t.ci_low is not None and t.ci_high is not None
                                                   else f"{t.speedup:.2f}x")
            state = report.install_state(report.install_of(run, t.name))
            anchor = anchors.get((index, t.name))
            variant = (f'<a href="#{anchor}">{escape(t.name)}</a>' if anchor else escape(t.name), "", t.name)
            rows.append([_cell(when, key=repr(run.created)), _cell(run.function), _cell(run.signature),
                         _cell(t.backend), variant, _cell(t.status, t.status),
                         _cell(state if state != NOT_INSTALLED else "-", _state_class(state)),
                         _num(t.speedup, speed),
                         _num(t.original_s, "-" if t.original_s is None else f"{t.original_s * 1e3:.3f} ms"),
                         _num(t.candidate_s, "-" if t.candidate_s is None else f"{t.candidate_s * 1e3:.3f} ms"),
                         _num(t.compile_s, "-" if t.compile_s is None else f"{t.compile_s:.2f}"),
                         _num(run.duration_s, "-" if run.duration_s is None else f"{run.duration_s:.1f}"),
                         _cell(headline(t.reason or ""))])
    return _table(head, rows, "trials", sortable=True)


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
        rows.append([_cell(c) for c in cells])
    return _table(head, rows, "verification", sortable=True)


def _health_section(h: health.Health) -> str:
    rows = [[_cell(metric), _cell(value, "unrecorded" if value == "not recorded" else "")]
            for metric, value in health.summary(h)]
    parts = ['<table id="health" class="health"><thead><tr><th>metric</th><th>value</th></tr></thead><tbody>'
             + "".join("<tr>" + "".join(_td(*cell) for cell in row) + "</tr>" for row in rows) + "</tbody></table>"]
    if h.coverage:
        parts.append("<h3>What each install was verified on</h3>")
        parts.append(_table(("function", "signature", "variant", "state", "inputs", "line coverage", "guards"), [
            [_cell(c.function), _cell(c.signature), _cell(c.variant), _cell(c.state, _state_class(c.state)),
             _num(c.inputs, "not recorded" if c.inputs is None else str(c.inputs)),
             _num(c.coverage_percent, "not recorded" if c.coverage_percent is None else f"{c.coverage_percent:.0f}%"),
             _cell("not recorded" if c.guards is None else ("; ".join(c.guards) or "none"))] for c in h.coverage],
            "health-installs", sortable=True))
    if h.recoveries:
        parts.append("<h3>Automatic rollbacks: how long each faulty install served</h3>")
        parts.append(_table(("function", "signature", "variant", "caught by", "in service", "calls served",
                             "faulting call answered by"), [
            [_cell(r.function), _cell(r.signature), _cell(r.variant), _cell(r.check),
             _num(r.in_service_s, "not recorded" if r.in_service_s is None else f"{r.in_service_s:.3f} s"),
             _num(r.calls_served, "not recorded" if r.calls_served is None else str(r.calls_served)),
             _cell("the original" if r.answered_by_original else "the variant (a slowdown: no wrong answer)")]
            for r in h.recoveries], "health-rollbacks", sortable=True))
    parts += [f'<p class="unrecorded">not recorded: {escape(note)}</p>' for note in h.not_recorded]
    return "".join(parts)


def _environment_section(env: environment.Environment) -> str:
    recorded = ", ".join(f"{h} ({'this machine' if same else 'another machine or library set'})"
                         for h, same in env.recorded) or "none"
    rows = [("CPU", f"{env.cpu} ({env.cores} cores, {env.machine})"), ("system", env.system),
            ("Python", env.python), ("hotpath", env.hotpath),
            ("libraries", ", ".join(f"{n} {v}" for n, v in env.libraries)),
            ("environment hash", f"{env.hash} here; the store's trials were recorded in: {recorded}")]
    return ('<table class="env"><tbody>' + "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>"
                                                  for k, v in rows) + "</tbody></table>")


def _programs_section(runs: Sequence[ProgramRun]) -> str:
    if not runs:
        return ('<p class="unrecorded">not recorded: no program was run through <code>hotpath optimize</code> '
                "with this state folder, so the whole program's time is not known.</p>")
    rows = []
    for run in runs:
        saving = sum(f.saving_s for f in run.functions.values())
        load = sum(f.load_s or 0.0 for f in run.functions.values() if f.backend)
        # As `hotpath run` decides, per backend: its winners are loaded only where they save more
        # over the recorded run than loading them costs; otherwise the program runs as written.
        expected = run.total_s
        for backend in {f.backend for f in run.functions.values() if f.backend}:
            members = [f for f in run.functions.values() if f.backend == backend]
            gain = sum(f.saving_s for f in members) - sum(f.load_s or 0.0 for f in members)
            expected -= max(gain, 0.0)
        rows.append([_cell(run.script), _num(run.total_s, f"{run.total_s:.2f} s"),
                     _cell(", ".join(_short(n) for n in run.functions) or "-"),
                     _num(saving, f"{saving:.2f} s"), _num(load, f"{load:.2f} s"),
                     _cell("not measured", "unrecorded"), _num(expected, f"≈ {expected:.2f} s")])
    return (_table(("script", "before: capture run", "tuned functions", "expected saving", "winners' load cost",
                    "after: measured", "after: expected"), rows, "programs", sortable=True)
            + '<p class="empty">"Before" is the run <code>hotpath optimize</code> timed while capturing arguments '
              "(with the capture's own overhead). No run with the winners installed is recorded: the expected time "
              "takes off, per backend, calls × original time × (1 − 1/speedup) less the winners' measured load "
              "cost, where that is a gain (<code>hotpath run</code> loads a backend's winners only then).</p>")


def _functions_section(report: Report, runs: Sequence[ProgramRun]) -> tuple[str, dict[str, str | None]]:
    files: dict[str, str | None] = {}
    rows = []
    for function in dict.fromkeys(r.function for r in report.runs):
        files[function] = file = sources.function_file(function, runs)
        installs = [i for i in report.installs if i.function == function]
        live = [i for i in installs if i.active]
        rolled = [i for i in installs if report.install_state(i).startswith("rolled back")]
        signatures = len({r.signature for r in report.runs if r.function == function})
        rows.append([_cell(function), _cell(file or "not recorded", "" if file else "unrecorded"),
                     _num(signatures, str(signatures)),
                     _cell(", ".join(f"{i.name} {i.signature}" for i in live) or "-", "state-live" if live else ""),
                     _cell(", ".join(f"{i.name} {i.signature}" for i in rolled) or "-",
                           "state-rolled" if rolled else "")])
    table = _table(("function", "file", "signatures", "live", "rolled back"), rows, "functions", sortable=True)
    note = ('<p class="empty">A script\'s own functions are named by the script\'s path (those an older '
            "hotpath recorded as <code>__main__</code> have a file where <code>hotpath optimize</code> recorded "
            "it); a module's is looked up on <code>sys.path</code>.</p>")
    return table + note, files


def _diff_html(diff: str) -> str:
    """One block per line (no newlines between them: the blocks break the lines), coloured by kind."""
    lines = []
    for line in diff.splitlines():
        css = ("hunk" if line.startswith("@@") else "add" if line.startswith("+") and not line.startswith("+++")
               else "del" if line.startswith("-") and not line.startswith("---") else "ctx")
        lines.append(f'<span class="{css}">{escape(line) or " "}</span>')
    return "".join(lines)


def _variants_section(report: Report, files: dict[str, str | None]) -> tuple[str, dict[tuple[int, str], str]]:
    store = queries.open_existing(Path(report.state_dir))
    installed = sources.install_paths(store) if store is not None else {}
    originals: dict[str, str | None] = {}
    entries: list[tuple[TuningRun, int, TrialRow, sources.Generated]] = []
    for index, run in enumerate(report.runs):
        if run.function not in originals:
            originals[run.function] = sources.original_source(files.get(run.function), _short(run.function))
        for t in run.trials:
            if t.status == "skipped":
                continue
            path = installed.get((run.function, run.signature, run.created, t.name)) or \
                sources.kernel_file(Path(report.state_dir), run.function, t.name, run.created)
            found = sources.generated(path, originals[run.function], run.function)
            if found is not None:
                entries.append((run, index, t, found))
    entries = entries[-MAX_SOURCES:]
    anchors: dict[tuple[int, str], str] = {}
    parts = []
    for run, index, t, found in entries:
        anchor = anchors[(index, t.name)] = _anchor(index, t.name)
        state = report.install_state(report.install_of(run, t.name))
        diff = (f"<details><summary>diff against the original</summary><pre>{_diff_html(found.diff)}</pre></details>"
                if found.diff else '<p class="unrecorded">diff: the original\'s source was not found (its file is '
                                   "not recorded or no longer defines it)</p>")
        parts.append(f'<details id="{anchor}"><summary><b>{escape(_short(run.function))}</b> {escape(run.signature)} · '
                     f'{escape(t.name)} · <span class="{t.status}">{escape(t.status)}</span>'
                     f'{" · " if state != NOT_INSTALLED else ""}<span class="{_state_class(state)}">'
                     f'{escape(state) if state != NOT_INSTALLED else ""}</span></summary>'
                     f"<p><code>{escape(found.path)}</code></p>{diff}"
                     f"<details><summary>generated source</summary><pre>{escape(found.text)}</pre></details></details>")
    if not parts:
        return '<p class="empty">no generated source is left in the kernels folder</p>', anchors
    return "".join(parts), anchors


def render(report: Report, loop: health.Health | None = None) -> str:
    """The whole page as a string (``loop``: the report's health, when already computed)."""
    loop = loop if loop is not None else health.compute(report)
    runs = sources.program_runs(Path(report.state_dir))
    speedups, pairs, marks = _speedups(report), _before_after(report), _marks(report)
    functions, files = _functions_section(report, runs)
    variants, anchors = _variants_section(report, files)
    env = environment.describe(t.environment for t in report.trials)
    sections = [f"<h1>hotpath report</h1><p>State folder <code>{escape(report.state_dir)}</code>: "
                f"{len(report.runs)} tuning run(s), {len(report.trials)} variant(s) tried, "
                f"{sum(1 for i in report.installs if i.active)} installed now. Generated "
                f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S}.</p>"]
    sections += ["<h2>Environment</h2>", _environment_section(env)]
    sections += ["<h2>The loop's health</h2>", _health_section(loop)]
    sections.append("<h2>Speedup per function and variant</h2>")
    sections.append(speedup_chart("speedup-chart", "speedup over the original (log scale; whiskers: 95% interval)",
                                  speedups) if speedups else '<p class="empty">no variant was timed yet</p>')
    sections.append("<h2>Time per call, before and after</h2>")
    sections.append(before_after_chart("time-chart", "time per call: original vs installed variant (log scale)",
                                       pairs) if pairs else '<p class="empty">no winner yet</p>')
    sections += ["<h2>Whole program, before and after</h2>", _programs_section(runs)]
    sections.append("<h2>Installs and rollbacks</h2>")
    sections.append(timeline_chart("timeline-chart", "audit log: installs, warm starts, refusals, rollbacks", marks)
                    if marks else '<p class="empty">nothing installed or rolled back yet</p>')
    sections += ["<h2>Functions and their files</h2>", functions]
    sections.append("<h2>What each run verified on, and the guards installed</h2>")
    sections.append(_verification_table(report))
    sections += ["<h2>Generated variants (click for the source and the diff against the original)</h2>", variants]
    sections.append("<h2>Everything tried (click a header to sort)</h2>")
    sections.append(_trials_table(report, anchors))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>hotpath report</title>"
            f"<style>{_CSS}</style></head><body>" + "\n".join(sections)
            + f"<script>{_SCRIPT}</script></body></html>\n")
