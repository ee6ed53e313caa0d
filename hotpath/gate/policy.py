"""What counts as a regression: thresholds, confidence, estimator and acknowledged benchmarks.

A :class:`Policy` has gate-wide defaults and an ordered list of :class:`Rule` objects matched
against benchmark names with shell-style patterns (``test_io_*``); for each setting the last
matching rule that sets it wins, so command-line rules (appended last) override a policy file.

Policy file (JSON, or TOML on Python >= 3.11; in ``pyproject.toml`` under ``[tool.hotpath.gate]``)::

    {
      "schema": "hotpath.gate-policy/1",
      "threshold": 0.05,                  # practical threshold for times (5 %)
      "instructions_threshold": 0.01,     # ... for instruction counts (1 %)
      "confidence": 0.90,
      "process_spread": 0.07,             # assumed between-process spread for single-process data
      "benchmarks": {
        "test_io_*": {"threshold": 0.15},
        "tests/bench.py::test_parse": {"allow": true, "reason": "validation added in #123"}
      }
    }
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field, replace
from typing import Any

from hotpath.gate.errors import GateInputError
from hotpath.gate.model import UNIT_INSTRUCTIONS

POLICY_SCHEMA = "hotpath.gate-policy/1"

#: Defaults, chosen with bench/gate_calibration on a noisy 2-core VM (see docs/gate.md).
DEFAULT_THRESHOLD = 0.05
DEFAULT_INSTRUCTIONS_THRESHOLD = 0.01
# A two-sided 90 % interval: its lower bound is a one-sided 95 % test of "slower", the only
# direction that fails a build (and its upper bound the same test of "faster").
DEFAULT_CONFIDENCE = 0.90
DEFAULT_TIME_QUANTILE = 0.10
DEFAULT_REFERENCE_QUANTILE = 0.0
DEFAULT_CLUSTER_WIDTH = 0.30
DEFAULT_RESAMPLES = 2000
#: How much the speed of identical code differs from one process to the next (SD of the log of a
#: process's level), assumed where a side's data come from fewer than 3 processes and the
#: bootstrap cannot see it: pytest-benchmark sessions, single pyperf runs. 7 % is the spread of
#: the uncontended processes' levels in bench/gate_calibration (12,800 processes on the 2-vCPU VM).
DEFAULT_PROCESS_SPREAD = 0.07


@dataclass(frozen=True)
class Rule:
    """Settings for benchmarks whose name matches ``pattern``; ``None`` leaves a setting alone."""

    pattern: str
    threshold: float | None = None
    allow: bool | None = None
    reason: str | None = None

    def matches(self, name: str) -> bool:
        """Whether this rule applies to benchmark ``name`` (exact name or shell pattern)."""
        return name == self.pattern or fnmatch.fnmatchcase(name, self.pattern)


@dataclass(frozen=True)
class Policy:
    """Gate-wide settings plus per-benchmark rules."""

    threshold: float = DEFAULT_THRESHOLD
    instructions_threshold: float = DEFAULT_INSTRUCTIONS_THRESHOLD
    confidence: float = DEFAULT_CONFIDENCE
    time_quantile: float = DEFAULT_TIME_QUANTILE
    reference_quantile: float = DEFAULT_REFERENCE_QUANTILE
    cluster_width: float = DEFAULT_CLUSTER_WIDTH
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    process_spread: float = DEFAULT_PROCESS_SPREAD
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for label, value in (("threshold", self.threshold), ("instructions threshold", self.instructions_threshold)):
            _check_threshold(value, label)
        if not 0.5 < self.confidence < 1.0:
            raise GateInputError(f"confidence must be between 0.5 and 1 (e.g. 0.90), got {self.confidence}")
        if self.cluster_width <= 0:
            raise GateInputError(f"cluster_width must be positive (e.g. 0.2), got {self.cluster_width}")
        for label, q in (("time_quantile", self.time_quantile), ("reference_quantile", self.reference_quantile)):
            if not 0.0 <= q <= 1.0:
                raise GateInputError(f"{label} must be between 0 and 1, got {q}")
        if not 0.0 <= self.process_spread < 1.0:
            raise GateInputError(f"process_spread must be a fraction like 0.07 (7 %), got {self.process_spread}")
        if self.resamples < 100:
            raise GateInputError(f"use at least 100 bootstrap resamples, got {self.resamples}")

    def threshold_for(self, name: str, unit: str) -> float:
        """The practical threshold (fraction) for benchmark ``name`` measured in ``unit``."""
        value = self.instructions_threshold if unit == UNIT_INSTRUCTIONS else self.threshold
        for rule in self.rules:
            if rule.threshold is not None and rule.matches(name):
                value = rule.threshold
        return value

    def estimator_for(self, unit: str) -> Any:
        """The :class:`~hotpath.gate.stats.Estimator` for ``unit``.

        Times get the fast-cluster estimator (interference only ever adds time); instruction
        counts, which have no such skew, the median.
        """
        from hotpath.gate.stats import MEDIAN, Estimator

        if unit == UNIT_INSTRUCTIONS:
            return MEDIAN
        return Estimator(self.time_quantile, self.reference_quantile, self.cluster_width)

    def allowance(self, name: str) -> str | None:
        """Why a slowdown of ``name`` is acknowledged, or ``None`` if it is not."""
        reason: str | None = None
        for rule in self.rules:
            if rule.allow is not None and rule.matches(name):
                reason = (rule.reason or "acknowledged") if rule.allow else None
        return reason

    def with_rules(self, *rules: Rule) -> Policy:
        """This policy with ``rules`` appended (they take precedence)."""
        return replace(self, rules=self.rules + tuple(rules))

    def unused_patterns(self, names: list[str]) -> list[str]:
        """Rule patterns that match no benchmark: usually a typo worth a warning."""
        return [r.pattern for r in self.rules if not any(r.matches(n) for n in names)]

    def describe(self) -> str:
        """One line with the settings that decide verdicts."""
        from hotpath.gate.stats import BLOCK_PROCESSES

        return (
            f"threshold {self.threshold:.0%} (instructions {self.instructions_threshold:.0%}), "
            f"confidence {self.confidence:.0%}, times: fast-cluster mean (width {self.cluster_width:.0%}) "
            f"of per-process p{round(self.time_quantile * 100)}, "
            f"{self.resamples} bootstrap resamples of blocks of up to {BLOCK_PROCESSES} consecutive processes; "
            f"data from under 3 processes a side: assumed process-to-process spread {self.process_spread:.0%}"
        )


def parse_threshold_option(text: str) -> tuple[str | None, float]:
    """``"0.1"``, ``"10%"`` or ``"PATTERN=0.1"`` -> (pattern or None, fraction)."""
    pattern, sep, value = text.rpartition("=")
    if not sep:
        pattern, value = "", text
    try:
        fraction = _fraction(value)
    except ValueError:
        raise GateInputError(
            f"cannot read threshold {text!r}; write a fraction or percentage, e.g. 0.05, 5% or "
            "'name_pattern=10%'"
        ) from None
    _check_threshold(fraction, f"threshold {text!r}")
    return (pattern or None, fraction)


def parse_allow_option(text: str) -> Rule:
    """``"PATTERN"`` or ``"PATTERN=reason"`` -> an allow rule."""
    pattern, sep, reason = text.partition("=")
    if not pattern:
        raise GateInputError(f"--allow needs a benchmark name or pattern, got {text!r}")
    return Rule(pattern=pattern, allow=True, reason=reason.strip() or "acknowledged with --allow")


def load_policy(path: str | os.PathLike[str], base: Policy | None = None) -> Policy:
    """Read a policy file (JSON, TOML, or ``pyproject.toml``'s ``[tool.hotpath.gate]``)."""
    path = os.fspath(path)
    data = _read_policy_data(path)
    base = base or Policy()
    if not isinstance(data, dict):
        raise GateInputError(f"policy file {path!r} must hold a table/object of settings")
    schema = data.get("schema", POLICY_SCHEMA)
    if schema != POLICY_SCHEMA:
        raise GateInputError(f"policy file {path!r} declares schema {schema!r}; expected {POLICY_SCHEMA!r}")
    known = {"schema", "threshold", "instructions_threshold", "confidence", "time_quantile",
             "reference_quantile", "cluster_width", "resamples", "seed", "process_spread", "benchmarks"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise GateInputError(
            f"policy file {path!r} has unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )
    settings: dict[str, Any] = {}
    try:
        for key in ("threshold", "instructions_threshold", "confidence", "time_quantile", "reference_quantile",
                    "cluster_width", "process_spread"):
            if key in data:
                settings[key] = _fraction(data[key])
        for key in ("resamples", "seed"):
            if key in data:
                settings[key] = int(data[key])
        rules = [_rule(pattern, spec) for pattern, spec in (data.get("benchmarks") or {}).items()]
    except (TypeError, ValueError, AttributeError) as exc:
        raise GateInputError(f"policy file {path!r} has a bad value ({exc}); see docs/gate.md") from None
    return replace(base, **settings, rules=base.rules + tuple(rules))


def _rule(pattern: str, spec: Any) -> Rule:
    if not isinstance(spec, dict):
        raise ValueError(f"benchmark {pattern!r}: expected a table like {{threshold = 0.1}}")
    unknown = sorted(set(spec) - {"threshold", "allow", "reason"})
    if unknown:
        raise ValueError(f"benchmark {pattern!r}: unknown key {unknown[0]!r}")
    threshold = _fraction(spec["threshold"]) if "threshold" in spec else None
    if threshold is not None:
        _check_threshold(threshold, f"threshold of {pattern!r}")
    allow = spec.get("allow")
    if allow is not None and not isinstance(allow, bool):
        raise ValueError(f"benchmark {pattern!r}: allow must be true or false")
    return Rule(pattern=pattern, threshold=threshold, allow=allow, reason=spec.get("reason"))


def _read_policy_data(path: str) -> Any:
    if not os.path.isfile(path):
        raise GateInputError(f"policy file {path!r} does not exist; pass an existing file to --policy")
    with open(path, "rb") as fh:
        raw = fh.read()
    if path.endswith(".toml"):
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            raise GateInputError(
                f"reading TOML policy {path!r} needs Python 3.11+; use a JSON policy file instead"
            ) from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise GateInputError(f"policy file {path!r} is not valid TOML ({exc})") from None
        if os.path.basename(path) == "pyproject.toml":
            data = data.get("tool", {}).get("hotpath", {}).get("gate")
            if data is None:
                raise GateInputError(f"{path!r} has no [tool.hotpath.gate] table; add one or pass a policy file")
        return data
    try:
        return json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GateInputError(f"policy file {path!r} is not valid JSON ({exc}); fix it or use TOML") from None


def _fraction(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        return float(text)
    return float(value)


def _check_threshold(value: float, label: str) -> None:
    if not 0.0 <= value < 10.0:
        raise GateInputError(f"{label} must be a fraction like 0.05 (5 %), got {value}")
