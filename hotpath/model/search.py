"""Model-guided search: the order candidates are tried in, and when to stop trying.

``order`` sorts candidates by expected value: P(correct) x predicted log-speedup per expected
second. ``stop_reason`` is asked before every next candidate; the first always runs. After it:
stop when the time budget is spent, or when no remaining candidate has a useful
probability (``THRESHOLD``) of beating the best measured so far by ``MARGIN``. The predictions
of remaining candidates are anchored on the candidates already measured for this function plus
the predicted difference to them (the errors of one function's candidates move together), with
the model's out-of-fold spread of such differences.

Candidates of a backend the model has never seen (a plug-in, the LLM proposer) are tried after
the known ones and are never pruned by the model, only by the budget: it cannot say they will lose.
The same rule drives real tuning runs (``StopRule``) and the benchmark's replay of measured trials.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hotpath.kernels import Candidate, Skipped
from hotpath.model.costmodel import CostModel, Prediction
from hotpath.model.features import FunctionFeatures

#: A remaining candidate is worth its trial while its chance to beat the best by MARGIN is at least this.
#: Chosen from the leave-one-out replay's sweep (bench/results/model.md): 10% tried nearly
#: everything (73% of the time for 93% of winners), 25% finds 90% of winners in 41% of the time.
THRESHOLD = 0.25
MARGIN = 0.10
#: Timing noise alone on a shared machine is 10-30%: no prediction of a difference is surer than this.
MIN_SIGMA = 0.15


@dataclass(frozen=True)
class Measured:
    """What a finished trial told the search."""

    backend: str
    name: str
    ok: bool
    speedup: float | None


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def order(proposals: Sequence[Candidate | Skipped],
          predictions: dict[str, Prediction]) -> list[Candidate | Skipped]:
    """Known candidates by descending value, then unknown ones in the rewriter's order, then skips."""
    candidates = [p for p in proposals if isinstance(p, Candidate)]
    known = [c for c in candidates if c.name in predictions and predictions[c.name].known]
    unknown = [c for c in candidates if c not in known]
    known.sort(key=lambda c: -predictions[c.name].value)  # stable: ties keep the rewriter's order
    return [*known, *unknown, *(p for p in proposals if isinstance(p, Skipped))]


def chances(model: CostModel, predictions: Sequence[Prediction], measured: Sequence[Measured],
            target: float, own: dict[str, Prediction]) -> list[tuple[Prediction, float]]:
    """For each remaining prediction, P(it agrees and its speedup exceeds ``target``)."""
    anchors = [(math.log(m.speedup), own[m.name]) for m in measured if m.ok and m.speedup and m.name in own]
    out = []
    for p in predictions:
        if anchors and model.relative_regressor is not None:
            # Measured candidates of this function, moved by the predicted difference to this one.
            mu = sum(log_s + p.relative - a.relative for log_s, a in anchors) / len(anchors)
            sigma = max(min(math.hypot(p.spread, a.spread) for _, a in anchors), MIN_SIGMA)
        else:
            mu, sigma = math.log(max(p.speedup, 1e-9)), model.sigma_total
        out.append((p, p.p_ok * _normal_sf((math.log(target) - mu) / sigma)))
    return out


def stop_reason(model: CostModel | None, remaining: Sequence[Prediction], measured: Sequence[Measured],
                own: dict[str, Prediction], spent_s: float, budget_s: float | None,
                min_speedup: float = 1.0, threshold: float = THRESHOLD) -> str | None:
    """Why the search should stop before the next candidate, or ``None`` to go on.

    ``remaining`` are predictions for the candidates still queued, ``measured`` the trials done,
    ``own`` the predictions made for every candidate of this function (for the error shift).
    """
    if not remaining or not measured:  # the first candidate always runs
        return None
    if budget_s is not None and spent_s >= budget_s:
        return f"not tried: the tuning budget of {budget_s:g} s was spent ({spent_s:.1f} s)"
    if model is None or any(not p.known for p in remaining):
        return None
    ok = [m for m in measured if m.ok and m.speedup]
    best = max(ok, key=lambda m: m.speedup or 0.0, default=None)
    target = max(best.speedup * (1 + MARGIN), min_speedup) if best and best.speedup else min_speedup
    scored = chances(model, remaining, measured, target, own)
    top, p = max(scored, key=lambda s: s[1])
    if p >= threshold:
        return None
    against = (f"beat {best.name} ({best.speedup:.1f}x) by {MARGIN:.0%}" if best and best.speedup
               and best.speedup * (1 + MARGIN) >= min_speedup else "agree and beat the original")
    return (f"not tried: the cost model gives no remaining candidate a {threshold:.0%} chance to {against} "
            f"(best chance {top.name}: {p:.0%})")


@dataclass
class StopRule:
    """``speculate``'s stop check for one tuning run: the model, the budget and a clock."""

    model: CostModel | None
    features: FunctionFeatures
    predictions: dict[str, Prediction]
    budget_s: float | None
    min_speedup: float = 1.0
    clock: Callable[[], float] = time.perf_counter
    started: float = field(default_factory=time.perf_counter)

    def predict(self, candidate: Candidate) -> Prediction | None:
        """The model's prediction for ``candidate`` (refinements appear mid-run: predicted then)."""
        known = self.predictions.get(candidate.name)
        if known is None and self.model is not None:
            known = self.model.predict(self.features, [(candidate.backend, candidate.name)])[0]
            self.predictions[candidate.name] = known
        return known

    def __call__(self, trials: Sequence[object], remaining: Sequence[Candidate | Skipped]) -> str | None:
        queued = [c for c in remaining if isinstance(c, Candidate)]
        if not queued:
            return None
        measured = [Measured(t.backend, t.name, t.status in ("won", "correct"), t.speedup)  # type: ignore[attr-defined]
                    for t in trials if getattr(t, "status", "skipped") != "skipped"]
        predicted = [self.predict(c) for c in queued]
        if any(p is None for p in predicted):
            predicted = [p or Prediction(c.name, c.backend, 1.0, 1.0, 1.0, False) for c, p in zip(queued, predicted)]
        return stop_reason(self.model, [p for p in predicted if p is not None], measured, self.predictions,
                           self.clock() - self.started, self.budget_s, self.min_speedup)
