"""The cost model as the tuning run sees it: load it, rank this run's candidates, remember the run.

``guide`` is called by ``hotpath.tuning`` between proposing and speculating; ``remember`` after.
Neither raises: a model that cannot be loaded or used means the rewriter's order, every candidate
tried (the budget still applies), and the reason in ``Guidance.model`` for ``explain``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hotpath.config import Config
from hotpath.kernels import Candidate, Skipped
from hotpath.model import costmodel, records, search
from hotpath.model.costmodel import CostModel, Prediction
from hotpath.model.features import FunctionFeatures, features_of
from hotpath.rewriter.source import FunctionSource
from hotpath.runner.trials import SKIPPED
from hotpath.signature import Signature

if TYPE_CHECKING:
    from hotpath.runner.trials import Trial

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict[tuple[Path, Path], tuple[int, CostModel | None, str]] = {}


@dataclass(frozen=True)
class Guidance:
    """What the model knew and predicted for one tuning run, and the order it chose."""

    features: FunctionFeatures
    model: str  # what ranked the candidates, or why no model did
    predictions: tuple[Prediction, ...]  # for the candidates, in the order they will be tried
    proposals: tuple[Candidate | Skipped, ...]  # ordered
    stop: search.StopRule = field(compare=False, repr=False)


def load_model(config: Config) -> tuple[CostModel | None, str]:
    """The model for this state folder (default data plus local history), or ``None`` and why.

    Fitting takes a second or a few, so a fitted model is kept in memory and refitted only when the
    history has grown by a tenth (at least 20 trials) since.
    """
    if not costmodel.sklearn_available():
        return None, ("no cost model: scikit-learn is not installed (pip install 'hotpath[model]'); "
                      "every candidate is tried in the rewriter's order")
    state = config.resolved_state_dir()
    history = [r for run in records.read_runs(state) for r in run.records()] if config.persist else []
    key = (state, records.default_data_path())
    with _lock:
        cached = _cache.get(key)
        if cached is not None and abs(len(history) - cached[0]) < max(20, cached[0] // 10):
            return cached[1], cached[2]
        data = records.training_records(None) + history
        model = costmodel.fit(data)
        why = (model.describe() if model is not None else
               f"no cost model: {len(data)} recorded trials are too few to fit one; every candidate is tried")
        _cache[key] = (len(history), model, why)
        return model, why


def guide(fs: FunctionSource, signature: Signature, args: Sequence[object], baseline_s: float | None,
          proposals: Sequence[Candidate | Skipped], config: Config) -> Guidance:
    """Rank ``proposals`` for this run and build its stop rule; never raises."""
    try:
        features = features_of(fs, signature, args, baseline_s)
    except Exception as exc:  # an AST shape the feature code did not expect costs the model, nothing else
        log.exception("computing features of %s failed", fs.qualname)
        features = FunctionFeatures()
        model, why = None, f"no cost model: computing the features failed ({type(exc).__name__}: {exc})"
    else:
        model, why = (load_model(config) if config.cost_model else
                      (None, "cost model turned off (cost_model=False): every candidate is tried in order"))
    why, predictions, ordered, stop = rank_with(model, why, features, proposals, config, fs.qualname)
    ranking = tuple(predictions[p.name] for p in ordered if isinstance(p, Candidate) and p.name in predictions)
    return Guidance(features, why, ranking, tuple(ordered), stop)


def rank_with(model: CostModel | None, why: str, features: FunctionFeatures, proposals: Sequence[Candidate | Skipped],
         config: Config, function: str = "") -> tuple[str, dict[str, Prediction], list[Candidate | Skipped],
                                                       search.StopRule]:
    """Rank ``proposals`` with ``model`` (``None``: the rewriter's order): why (the model, its
    absence, or how predicting failed), the predictions by candidate name, the proposals in the
    order to try them, and the stop rule. The one ranking both ``guide`` and the cost model's
    helper process (``hotpath.model.helper``) use, so the two always decide alike."""
    predictions: dict[str, Prediction] = {}
    ordered = list(proposals)
    if model is not None:
        try:
            candidates = [p for p in proposals if isinstance(p, Candidate)]
            for p in model.predict(features, [(c.backend, c.name) for c in candidates]):
                predictions[p.name] = p
            ordered = search.order(proposals, predictions)
        except Exception as exc:  # a model bug costs the ranking, never the tune
            log.exception("the cost model failed on %s", function or "a function")
            model, why, predictions, ordered = (None, f"no cost model: predicting failed ({type(exc).__name__}: {exc})",
                                                {}, list(proposals))
    stop = search.StopRule(model, features, dict(predictions), config.budget_s, config.min_speedup)
    return why, predictions, ordered, stop


def remember(config: Config, function: str, signature: Signature, guidance: Guidance,
             trials: Sequence[Trial], walls: dict[str, float], duration_s: float) -> None:
    """Append this run to the state folder's model history (best effort, like the store)."""
    if not config.persist:
        return
    stopped = next((t.reason for t in trials if t.status == SKIPPED and t.reason.startswith("not tried:")), None)
    rows = [records.history_trial(t, walls.get(t.name, 0.0)) for t in trials]
    ranked = {p.name: p for p in guidance.predictions}
    ranked.update((name, p) for name, p in guidance.stop.predictions.items() if name not in ranked)
    ranking = tuple(p.to_json() for p in ranked.values())
    run = records.RunRecord(function, str(signature), guidance.features, guidance.model, ranking, stopped,
                            tuple(rows), duration_s)
    try:
        records.append_run(config.resolved_state_dir(), run)
    except Exception:
        log.exception("recording the model history of %s failed", function)
