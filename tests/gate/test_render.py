"""Renderers: terminal, Markdown, JUnit XML, JSON."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from rich.console import Console

from hotpath.gate.decision import run_gate
from hotpath.gate.model import BenchmarkSamples, ResultSet
from hotpath.gate.policy import Policy, Rule
from hotpath.gate.render import json_report, junit, markdown, terminal
from hotpath.gate.render.units import format_value


def _bench(name: str, scale: float, seed: int) -> BenchmarkSamples:
    rng = np.random.default_rng(seed)
    return BenchmarkSamples(name, "s", tuple(scale * 1e-3 * (1 + np.abs(rng.normal(0, 0.01, 200)))),
                            tuple(int(g) for g in np.repeat(np.arange(10), 20)))


@pytest.fixture(scope="module")
def report():
    base = ResultSet("base.json", "hotpath.bench/1", {n: _bench(n, 1.0, i) for i, n in enumerate(["fast|pipe", "slow", "ok", "known", "gone"])})
    cur = ResultSet("cur.json", "hotpath.bench/1", {
        "fast|pipe": _bench("fast|pipe", 0.5, 10), "slow": _bench("slow", 1.4, 11), "ok": _bench("ok", 1.0, 12),
        "known": _bench("known", 1.4, 13),
    })
    return run_gate(base, cur, Policy().with_rules(Rule("known", allow=True, reason="#99")))


def test_terminal(report) -> None:
    buf = io.StringIO()
    terminal.render(report, Console(file=buf, width=120), verbose=True)
    text = buf.getvalue()
    assert "FAIL: 1 of 4 benchmarks regressed (slow)" in text
    assert "accepted" in text and "#99" in text and "gone" in text
    assert "Smallest regression" in text


def test_markdown(report) -> None:
    md = markdown.render(report)
    assert md.startswith("### :x: Performance regression")
    lines = [line for line in md.splitlines() if line.startswith("| :")]
    assert lines[0].startswith("| :red_circle: | `slow`")  # regressions first
    assert "fast\\|pipe" in md  # pipes escaped so the table survives


def test_junit(report) -> None:
    root = ET.fromstring(junit.render(report).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite.get("tests") == "5" and suite.get("failures") == "1" and suite.get("skipped") == "1"
    failed = [tc.get("name") for tc in suite.iter("testcase") if tc.find("failure") is not None]
    assert failed == ["slow"]


def test_json(report) -> None:
    doc = json.loads(json_report.render(report))
    assert doc["schema"] == "hotpath.gate-report/1" and doc["exit_code"] == 1
    verdicts = {c["name"]: c["verdict"] for c in doc["comparisons"]}
    assert verdicts == {"fast|pipe": "faster", "slow": "slower", "ok": "unchanged", "known": "accepted"}


@pytest.mark.parametrize("value, unit, text", [(1.5e-4, "s", "150 µs"), (2.5, "s", "2.5 s"), (3e-9, "s", "3 ns"),
                                                 (1.234e6, "instructions", "1.234 MIr"), (12, "byte", "12 byte")])
def test_format_value(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


LONG = "benchmarks/test_particles.py::test_pair_forces_with_cutoff[float64-4096-periodic]"


@pytest.fixture(scope="module")
def long_report():
    """A pytest-style parametrised id longer than 80 columns, slower, beside a short unchanged one."""
    ok = "tests/b.py::test_ok[x]"
    base = ResultSet("base.json", "hotpath.bench/1", {LONG: _bench(LONG, 1.0, 1), ok: _bench(ok, 1.0, 2)})
    cur = ResultSet("cur.json", "hotpath.bench/1", {LONG: _bench(LONG, 1.4, 3), ok: _bench(ok, 1.0, 4)})
    return run_gate(base, cur)


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_terminal_never_cuts_names_or_verdicts(long_report, width: int) -> None:
    buf = io.StringIO()
    terminal.render(long_report, Console(file=buf, width=width), verbose=True)
    lines = buf.getvalue().splitlines()
    # Whole, on one line (brackets are not taken for markup), with its verdict in the output.
    assert any(LONG in line for line in lines) and any("tests/b.py::test_ok[x]" in line for line in lines)
    assert "slower" in buf.getvalue() and "unchanged" in buf.getvalue() and "…+" in buf.getvalue()
    # Only lines that carry a name may run past the width (a terminal wraps them; a log keeps them whole).
    assert all(len(line.rstrip()) <= width for line in lines if LONG not in line and "test_ok" not in line)
    assert not any(line.rstrip().endswith("…") for line in lines)  # nothing truncated by rich


def test_terminal_keeps_the_full_table_when_it_fits(report) -> None:
    buf = io.StringIO()
    terminal.render(report, Console(file=buf, width=100))
    assert "detects" in buf.getvalue() and "baseline" in buf.getvalue()
