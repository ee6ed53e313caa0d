"""What one tuning run verified its candidates on, and which guards its install carries.

Recorded with the run (``Store.record_tuning``) and read back by ``hotpath explain`` and
``hotpath report``; ``TuneResult.summary`` words it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Rules whose inputs are not generated from what the function does (named on their own).
_NOT_GENERATED = ("captured", "generic", "search")


@dataclass(frozen=True)
class Verification:
    """Verification inputs by the rule that made them, the original's lines they executed,
    and the install's guards in words (``None``: not recorded, by an older hotpath)."""

    inputs: tuple[tuple[str, int], ...] = ()
    lines_run: int | None = None
    lines_total: int | None = None
    guards: tuple[str, ...] | None = None

    @property
    def coverage_percent(self) -> float | None:
        if self.lines_run is None or self.lines_total is None:
            return None
        return 100.0 * self.lines_run / self.lines_total if self.lines_total else 100.0

    def inputs_line(self) -> str:
        """One line: how many inputs, from which rules, and the line coverage they reached."""
        if not self.inputs and self.coverage_percent is None:
            return "verification inputs not recorded"
        counts = dict(self.inputs)
        generated = {rule: n for rule, n in self.inputs if rule not in _NOT_GENERATED}
        parts = [f"{counts[rule]} {rule}" for rule in ("captured", "generic") if rule in counts]
        if generated:
            by_rule = ", ".join(f"{rule} {n}" for rule, n in sorted(generated.items(), key=lambda item: -item[1]))
            parts.append(f"{sum(generated.values())} generated ({by_rule})")
        if "search" in counts:
            parts.append(f"{counts['search']} found by coverage search")
        total = sum(counts.values())
        line = f"verified on {total} {'input' if total == 1 else 'inputs'}: {', '.join(parts)}"
        if self.coverage_percent is not None:
            line += f"; coverage {self.coverage_percent:.0f}% ({self.lines_run}/{self.lines_total} lines)"
        return line

    def guards_line(self) -> str:
        """``guards: ...`` for an install; empty when it carries none or none were recorded."""
        return "guards: " + "; ".join(self.guards) if self.guards else ""
