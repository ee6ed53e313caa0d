"""The HTML report in a real headless Chromium: its plots are laid out and the page is not blank.

Needs Debian's chromium (`apt-get install -y chromium`); skipped cleanly without it. The store
is filled by a real (short) tuning run of two kernels, plus a manual rollback for the timeline.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.report import html, model
from hotpath.report.svg import LogAxis
from hotpath.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def scale(x, factor):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] * factor
    return out


def total(x):
    acc = 0.0
    for i in range(x.shape[0]):
        acc += x[i] * x[i]
    return acc


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("report-state")
    config = hotpath.Config(timing_budget_s=0.2, state_dir=home)
    x = np.random.default_rng(0).random(20000)
    assert hotpath.tune(scale, x, 2.0, config=config).winner is not None
    # Numba alone: its loop returns a Python float, so its install carries a cast the page must show.
    assert hotpath.tune(total, x, config=config.replace(backends=("numba",))).winner is not None
    Store.at(home).manual_rollback(f"{__name__}:total")
    report = model.load(home)
    assert report is not None and len(report.runs) == 2
    page = home / "report.html"
    page.write_text(html.render(report), encoding="utf-8")
    return page


def _chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


def _png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (enough to tell blank from drawn)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_the_page_is_self_contained(report_file: Path) -> None:
    text = report_file.read_text()
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text and "<link" not in text and "src=" not in text
    assert text.count('<svg class="chart"') == 3


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_chromium_renders_the_plots(report_file: Path, tmp_path: Path) -> None:
    dom = _chromium(report_file, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-charts-drawn="3"' in dom.stdout
    for chart in ("speedup-chart", "time-chart", "timeline-chart"):
        tag = re.search(rf'<svg[^>]*id="{chart}"[^>]*>', dom.stdout)
        assert tag, chart
        attrs = dict(re.findall(r'(data-[\w-]+)="(\d+)"', tag.group(0)))
        assert int(attrs["data-rendered-width"]) > 300 and int(attrs["data-rendered-height"]) > 50, attrs
        assert int(attrs["data-marks"]) >= 2, (chart, attrs)
        assert int(attrs["data-collisions"]) == 0, (chart, attrs)  # no value label on a whisker or a label

    shot = tmp_path / "report.png"
    result = _chromium(report_file, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1400,1800")
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    width, height, pixels = _png_pixels(shot)
    assert (width, height) == (1400, 1800)
    assert len(set(pixels[::97])) > 20  # many distinct byte values: text, bars, colours, not a blank page
    keep = os.environ.get("HOTPATH_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_report_cli_writes_the_page(report_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.html"
    env = dict(os.environ, HOTPATH_HOME=str(report_file.parent))
    got = subprocess.run([sys.executable, "-m", "hotpath.cli", "report", "--html", str(out)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert got.returncode == 0, got.stderr
    assert "scale" in got.stdout and "won" in got.stdout
    assert out.read_text().count('<svg class="chart"') == 3


def test_the_page_says_what_each_run_verified_on_and_its_guards(report_file: Path) -> None:
    from html import escape

    text = report_file.read_text()
    report = model.load(report_file.parent)
    assert report is not None and 'id="verification"' in text
    for run in report.runs:
        verified = run.verification
        assert dict(verified.inputs)["captured"] == 1 and verified.coverage_percent is not None
        assert escape(f"{verified.coverage_percent:.0f}% ({verified.lines_run}/{verified.lines_total} lines)") in text
        for phrase in verified.guards or ():
            assert escape(phrase) in text
    # total's loop returns a Python float where the original returns np.float64: its install casts.
    guards = next(run.verification.guards for run in report.runs if run.function.endswith(":total"))
    assert guards and "casts the result to numpy.float64" in guards


def _chart(text: str, chart_id: str) -> str:
    return re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', text, re.S).group(0)


def test_every_bar_says_whether_its_variant_is_live_or_rolled_back(report_file: Path) -> None:
    text = report_file.read_text()
    for chart in ("speedup-chart", "time-chart"):
        states = re.findall(r'<rect class="mark" data-state="([^"]*)"', _chart(text, chart))
        assert states, chart
        if chart == "speedup-chart":
            assert all(states), "a speedup bar without its state"
        # scale's winner serves; total's was rolled back by hand in the fixture.
        assert "live" in states and "rolled back by hand" in states, (chart, states)
    assert "scale · numba" in text and "· live</text>" in text and "· rolled back by hand</text>" in text


def test_value_labels_start_past_their_whiskers(report_file: Path) -> None:
    chart = _chart(report_file.read_text(), "speedup-chart")
    rows = re.findall(r'<line x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="\2" class="whisker"/>.*?'
                      r'<text x="([\d.]+)" y="[\d.]+" class="value">', chart)
    assert rows, "no whisker was drawn"
    for _, _, right, label in rows:
        assert float(label) > float(right)


def test_the_axis_is_fitted_to_the_data() -> None:
    axis = LogAxis([1.0, 1.3, 2.8, 3.4], 0, 500)
    ticks = axis.ticks()
    assert 3 <= len(ticks) <= 9 and max(ticks) <= 3.4 * 1.2 and min(ticks) >= 1.0 / 1.2, ticks
    assert axis(3.4) > 450 and axis(1.0) < 50  # the data spans the axis: no empty decade beside it
    wide = LogAxis([2e-7, 3e-3], 0, 500).ticks()
    assert 3 <= len(wide) <= 9 and all(2e-7 / 1.5 <= t <= 3e-3 * 1.5 for t in wide), wide


def test_the_page_shows_sources_files_environment_and_sorts(report_file: Path) -> None:
    from hotpath.report import environment

    text = report_file.read_text()
    assert str(Path(__file__).resolve()) in text  # each function's file
    assert text.count('<table id="trials" class="sortable">') == 1 and "addEventListener('click'" in text
    # Every variant that ran has its generated source and its diff one click away.
    assert text.count("<summary>generated source</summary>") >= 2
    assert "<summary>diff against the original</summary>" in text and "def scale(" in text
    assert re.search(r'<span class="add">\+\s*@', text) or '<span class="add">+' in text
    env = environment.describe()
    assert escape_text(env.cpu) in text and f"numpy {np.__version__}" in text
    assert 'id="health"' in text and "self-correction" in text
    assert "whole program" in text.lower() and "not recorded" in text


def escape_text(value: str) -> str:
    from html import escape

    return escape(value)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_clicking_a_header_sorts_the_trials(report_file: Path, tmp_path: Path) -> None:
    page = tmp_path / "clicked.html"
    column = "speedup [95% CI]"
    click = ("<script>Array.prototype.forEach.call(document.querySelectorAll('#trials th'), function (th) {"
             f"  if (th.textContent === '{column}') {{ th.click(); }} }});</script>")
    page.write_text(report_file.read_text().replace("</body>", click + "</body>"), encoding="utf-8")
    dom = _chromium(page, tmp_path / "profile-sort", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    table = re.search(r'<table id="trials".*?</table>', dom.stdout, re.S).group(0)
    heads = re.findall(r"<th[^>]*>(.*?)</th>", table)
    assert 'aria-sort="ascending"' in table
    index = heads.index(column)
    keys = []
    for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], re.S):
        cell = re.findall(r"<td([^>]*)>", row)[index]
        found = re.search(r'data-sort="([^"]+)"', cell)
        keys.append(float(found.group(1)) if found else None)
    timed = [k for k in keys if k is not None]
    assert len(timed) >= 2 and timed == sorted(timed) and keys[:len(timed)] == timed  # untimed rows last
