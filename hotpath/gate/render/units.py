"""Human formatting of measurements and changes, shared by every renderer."""

from __future__ import annotations

import math

from hotpath.gate.model import UNIT_INSTRUCTIONS, UNIT_SECONDS, Comparison, GateReport, Verdict

VERDICT_SYMBOLS = {
    Verdict.SLOWER: "slower",
    Verdict.FASTER: "faster",
    Verdict.UNCHANGED: "unchanged",
    Verdict.ACCEPTED: "slower (accepted)",
}


def format_value(value: float, unit: str) -> str:
    """``0.000123`` s -> ``"123 µs"``; instruction counts with SI prefixes."""
    if not math.isfinite(value):
        return "n/a"
    if unit == UNIT_SECONDS:
        for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
            if abs(value) >= scale or suffix == "ns":
                return f"{value / scale:.3g} {suffix}"
    if unit == UNIT_INSTRUCTIONS:
        for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= scale:
                return f"{value / scale:.4g} {suffix}Ir"
        return f"{value:.0f} Ir"
    return f"{value:.4g} {unit}"


def format_change(ratio: float) -> str:
    """A ratio as a signed percentage: 1.123 -> ``"+12.3%"``."""
    if not math.isfinite(ratio):
        return "n/a"
    return f"{(ratio - 1.0) * 100:+.1f}%"


def format_interval(c: Comparison, compact: bool = False) -> str:
    """The confidence interval of the change, or why there is none."""
    if c.ci_low is None or c.ci_high is None:
        return "n/a" if compact else "n/a (summary only)"
    if compact:
        return f"{format_change(c.ci_low)[:-1]}…{format_change(c.ci_high)}"
    return f"{format_change(c.ci_low)} … {format_change(c.ci_high)}"


def format_fraction(value: float | None) -> str:
    """``0.071`` -> ``"7.1%"``; ``None`` -> ``"n/a"``."""
    return "n/a" if value is None else f"{value * 100:.1f}%"


def headline(report: GateReport) -> str:
    """One sentence: did the gate pass, and what it saw."""
    counts = ", ".join(
        f"{report.count(v)} {VERDICT_SYMBOLS[v]}" for v in (Verdict.SLOWER, Verdict.ACCEPTED, Verdict.FASTER, Verdict.UNCHANGED)
        if report.count(v)
    )
    n = len(report.comparisons)
    if report.regressions:
        names = ", ".join(c.name for c in report.regressions[:3])
        more = f" and {len(report.regressions) - 3} more" if len(report.regressions) > 3 else ""
        return f"FAIL: {len(report.regressions)} of {n} benchmarks regressed ({names}{more}); {counts}"
    return f"OK: no significant regression in {n} benchmarks; {counts}"


def detectable_line(report: GateReport) -> str:
    """What the gate could have caught, given the noise in these measurements."""
    worst = [c for c in report.comparisons if c.min_detectable is not None]
    if not worst:
        return "Smallest detectable regression: unknown (no raw samples; see docs/gate.md)."
    worst_c = max(worst, key=lambda c: c.min_detectable)  # type: ignore[arg-type, return-value]
    best_c = min(worst, key=lambda c: c.min_detectable)  # type: ignore[arg-type, return-value]
    if worst_c is best_c:
        return (
            f"Smallest regression this comparison detects with 95% probability: "
            f"{format_fraction(worst_c.min_detectable)}."
        )
    return (
        "Smallest regression detected with 95% probability, given the noise seen: from "
        f"{format_fraction(best_c.min_detectable)} ({best_c.name}) to "
        f"{format_fraction(worst_c.min_detectable)} ({worst_c.name})."
    )
