"""The gate's verdicts on the calibration's pairs: one call per pair, and the CI example's two stages.

Every verdict comes from :func:`hotpath.gate.decision.compare_benchmark`, the function behind
``hotpath gate``, so what is measured here is what CI gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive import Rounds, merged

from hotpath.gate.decision import compare_benchmark
from hotpath.gate.policy import Policy

#: Pair kind -> label of the run compared with the baseline.
SLOWED = {"A/B 5%": "B05", "A/B 10%": "B10", "A/B 25%": "B25"}


@dataclass(frozen=True)
class PairResult:
    """The gate's verdict on one pair of runs."""

    kind: str  # "A/A", "A/B 5%", ...
    round: int
    verdict: str
    ratio: float
    ci_low: float | None
    ci_high: float | None
    min_detectable: float | None


def judge(rounds: Rounds, policy: Policy, not_interleaved: bool = True) -> list[PairResult]:
    """The gate's verdict on every A/A and A/B pair (and, secondary, A/A of consecutive rounds)."""
    pairs = []
    for r, runs in sorted(rounds.items()):
        # Alternate which unchanged run is the baseline so neither is favoured.
        base, other = (runs["A"], runs["A2"]) if r % 2 == 0 else (runs["A2"], runs["A"])
        jobs = [("A/A", base, other)] + [(kind, base, runs[label]) for kind, label in SLOWED.items()]
        if not_interleaved and r + 1 in rounds:
            # Unchanged runs of consecutive rounds, NOT interleaved, as a naive CI would take them.
            jobs.append(("A/A not interleaved", runs["A"], rounds[r + 1]["A2"]))
        for kind, b, c in jobs:
            comp = compare_benchmark(b, c, policy)
            pairs.append(PairResult(kind, r, comp.verdict.value, comp.ratio, comp.ci_low, comp.ci_high,
                                    comp.min_detectable))
    return pairs


def two_stage(rounds: Rounds, policy: Policy) -> dict[str, dict[str, int]]:
    """Counts of the CI example's protocol: a failure is re-measured, then judged on all data.

    For each pair of consecutive rounds (r, r+1): stage 1 judges round r alone; if it fails,
    stage 2 judges rounds r and r+1 merged per side (``hotpath gate a1,a2 b1,b2``), and only a
    stage-2 failure counts. The couples overlap (r, r+1), (r+1, r+2), ... so they are not
    independent, but each is a faithful run of the protocol.
    """
    out: dict[str, dict[str, int]] = {}
    for r in sorted(rounds):
        if r + 1 not in rounds:
            continue
        now, later = rounds[r], rounds[r + 1]
        for kind, label in (("A/A", "A2"), *SLOWED.items()):
            first = compare_benchmark(now["A"], now[label], policy).fails
            confirmed = first and compare_benchmark(
                merged(now["A"], later["A"]), merged(now[label], later[label]), policy
            ).fails
            entry = out.setdefault(kind, {"trials": 0, "stage1": 0, "confirmed": 0})
            entry["trials"] += 1
            entry["stage1"] += first
            entry["confirmed"] += confirmed
    return out
