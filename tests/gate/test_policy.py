"""Policies: thresholds per benchmark, acknowledged regressions, policy files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from hotpath.gate.errors import GateInputError
from hotpath.gate.policy import Policy, Rule, load_policy, parse_allow_option, parse_threshold_option


def test_defaults() -> None:
    p = Policy()
    assert p.threshold_for("x", "s") == 0.05
    assert p.threshold_for("x", "instructions") == 0.01
    assert p.allowance("x") is None
    assert "threshold 5%" in p.describe()


def test_rules_last_match_wins() -> None:
    p = Policy().with_rules(Rule("io_*", threshold=0.2), Rule("io_disk", threshold=0.3), Rule("parse", allow=True, reason="#12"))
    assert p.threshold_for("io_net", "s") == 0.2
    assert p.threshold_for("io_disk", "s") == 0.3
    assert p.threshold_for("other", "s") == 0.05
    assert p.allowance("parse") == "#12"
    assert p.with_rules(Rule("parse", allow=False)).allowance("parse") is None
    assert p.unused_patterns(["io_net", "parse"]) == ["io_disk"]


@pytest.mark.parametrize("text, expected", [("0.1", (None, 0.1)), ("10%", (None, 0.1)), ("a*=7%", ("a*", 0.07)),
                                            ("x=y=0.2", ("x=y", 0.2))])
def test_parse_threshold(text: str, expected: tuple) -> None:
    pattern, value = parse_threshold_option(text)
    assert pattern == expected[0] and value == pytest.approx(expected[1])


@pytest.mark.parametrize("text", ["abc", "x=", "-5%", "x=20"])
def test_bad_threshold(text: str) -> None:
    with pytest.raises(GateInputError):
        parse_threshold_option(text)


def test_parse_allow() -> None:
    assert parse_allow_option("bench_a=known slowdown, see #4") == Rule("bench_a", allow=True, reason="known slowdown, see #4")
    assert parse_allow_option("b").reason == "acknowledged with --allow"
    with pytest.raises(GateInputError):
        parse_allow_option("=why")


def test_json_policy_file(tmp_path: Path) -> None:
    f = tmp_path / "policy.json"
    f.write_text(json.dumps({
        "schema": "hotpath.gate-policy/1", "threshold": "8%", "confidence": 0.99, "process_spread": "2%",
        "benchmarks": {"slow_*": {"threshold": 0.25}, "legacy": {"allow": True, "reason": "rewrite pending"}},
    }))
    p = load_policy(f)
    assert p.threshold == pytest.approx(0.08) and p.confidence == 0.99 and p.process_spread == pytest.approx(0.02)
    assert p.threshold_for("slow_io", "s") == 0.25
    assert p.allowance("legacy") == "rewrite pending"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
def test_toml_and_pyproject(tmp_path: Path) -> None:
    (tmp_path / "gate.toml").write_text('threshold = 0.1\n[benchmarks."a*"]\nthreshold = 0.3\n')
    assert load_policy(tmp_path / "gate.toml").threshold_for("ab", "s") == 0.3
    (tmp_path / "pyproject.toml").write_text('[tool.hotpath.gate]\ninstructions_threshold = 0.02\n')
    assert load_policy(tmp_path / "pyproject.toml").instructions_threshold == 0.02
    (tmp_path / "other" ).mkdir()
    (tmp_path / "other" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(GateInputError, match=r"no \[tool.hotpath.gate\]"):
        load_policy(tmp_path / "other" / "pyproject.toml")


@pytest.mark.parametrize(
    "content, match",
    [
        ('{"treshold": 0.1}', "unknown setting 'treshold'"),
        ('{"benchmarks": {"a": {"threshhold": 1}}}', "unknown key"),
        ('{"benchmarks": {"a": {"allow": "yes"}}}', "allow must be true or false"),
        ('{"confidence": 2}', "confidence must be between"),
        ('{"process_spread": 1.5}', "process_spread must be a fraction"),
        ('{"schema": "other/1"}', "declares schema"),
        ("{not json", "not valid JSON"),
        ("[1]", "table/object"),
    ],
)
def test_bad_policy_files(content: str, match: str, tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(content)
    with pytest.raises(GateInputError, match=match):
        load_policy(f)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(GateInputError, match="does not exist"):
        load_policy(tmp_path / "nope.json")
