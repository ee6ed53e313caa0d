"""The cost model: per candidate, P(compiles and agrees), the expected speedup, and the cost in seconds.

Three scikit-learn random forests over the same inputs (the function's features plus the
candidate's backend and option tokens, e.g. ``backend=numba``, ``opt=parallel``): a classifier
for "compiled and agreed with the original", a regressor for log-speedup (fitted on candidates
that agreed) and one for the log of the seconds a trial costs. Random forests because the
data are small (hundreds of trials), the features mixed and monotone effects rare; they need
no scaling and are deterministic with a fixed seed.

Speedups of different candidates of one function share most of their error (a kernel the
model thinks is 50x but is 500x is 500x for every backend). So a fourth forest predicts each
candidate's log-speedup *relative to* the other candidates of its function (the target is
centred per function). Its uncertainty is local: the spread of the forest's trees for that
candidate, scaled so that out of fold (functions held out) it matches the real error of the
predicted difference between two candidates of one function (``sigma_within`` is that error's RMS). Once a candidate has been measured, the
search predicts the others from it and that difference (see ``hotpath.model.search``).

scikit-learn is optional (the ``model`` extra): without it ``fit`` returns ``None`` and the
search tries every candidate in the rewriter's order.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hotpath.model.features import FunctionFeatures, names
from hotpath.model.records import TRIED_STATUSES, TrialRecord

log = logging.getLogger(__name__)

KNOWN_BACKENDS = ("numba", "cython", "torch", "cupy", "pythran")
#: Fewer trials of a backend than this and the model does not claim to know it.
MIN_BACKEND_ROWS = 3
SEED = 0


def sklearn_available() -> bool:
    """Whether scikit-learn can be imported (the ``model`` extra)."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


#: The token every backend outside ``KNOWN_BACKENDS`` (plug-ins, the LLM proposer) shares.
OTHER = "backend=other"


def tokens(backend: str, name: str) -> tuple[str, ...]:
    """The candidate's identity as the model sees it: its backend and the option words of its name."""
    base = backend if backend in KNOWN_BACKENDS else "other"
    words = [w for w in re.split(r"[-+]", name)[1:] if w]
    out = [f"backend={base}", *(f"opt={w}" for w in words)]
    if "+" in name:
        out.append("refined")
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Prediction:
    """What the model expects of one candidate before it runs."""

    name: str
    backend: str
    p_ok: float  # probability it compiles and agrees with the original
    speedup: float  # expected median speedup if it agrees (exp of the predicted log-speedup)
    cost_s: float  # expected seconds to compile, verify and time it
    known: bool  # the model has seen this backend; unknown candidates are never pruned by it
    relative: float = 0.0  # predicted log-speedup relative to the function's other candidates
    spread: float = 0.0  # calibrated uncertainty of ``relative`` (log units)

    @property
    def value(self) -> float:
        """Expected log-speedup gained per second spent: the order candidates are tried in."""
        return self.p_ok * max(math.log(max(self.speedup, 1.0)), 0.05) / max(self.cost_s, 0.1)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "backend": self.backend, "p_ok": round(self.p_ok, 4),
                "speedup": round(self.speedup, 4), "cost_s": round(self.cost_s, 3), "known": self.known,
                "relative": round(self.relative, 4), "spread": round(self.spread, 4), "value": round(self.value, 5)}


@dataclass(frozen=True)
class CostModel:
    """A fitted model; build one with ``fit``."""

    vocabulary: tuple[str, ...]
    backend_rows: dict[str, int]
    classifier: Any  # None when every training row had the same outcome
    p_constant: float
    speedup_regressor: Any
    cost_regressor: Any
    relative_regressor: Any  # None without functions that had two correct candidates
    sigma_total: float  # spread of log-speedup errors across functions
    sigma_within: float  # spread of the error of the predicted difference of two candidates of a function
    spread_scale: float  # tree spread -> calibrated standard error of a relative prediction
    rows: int

    def describe(self) -> str:
        """One line for logs and ``explain``."""
        return (f"random forests on {self.rows} trials ({len(self.backend_rows)} backends; "
                f"log-speedup error sd {self.sigma_total:.2f} overall, {self.sigma_within:.2f} within a function)")

    def _matrix(self, features: Sequence[FunctionFeatures], candidates: Sequence[tuple[str, str]]) -> np.ndarray:
        return _matrix(features, candidates, self.vocabulary)

    def predict(self, features: FunctionFeatures, candidates: Sequence[tuple[str, str]]) -> list[Prediction]:
        """Predictions for ``(backend, name)`` pairs of one function, in the order given."""
        if not candidates:
            return []
        x = self._matrix([features] * len(candidates), candidates)
        if self.classifier is None:
            p_ok = np.full(len(candidates), self.p_constant)
        else:
            p_ok = self.classifier.predict_proba(x)[:, list(self.classifier.classes_).index(1)]
        log_speedup = self.speedup_regressor.predict(x)
        log_cost = self.cost_regressor.predict(x)
        if self.relative_regressor is not None:
            relative, spread = self.relative_regressor.predict(x), _tree_spread(self.relative_regressor, x)
        else:
            relative, spread = np.zeros(len(candidates)), np.full(len(candidates), self.sigma_within)
        out = []
        for (backend, name), p, s, c, r, u in zip(candidates, p_ok, log_speedup, log_cost, relative, spread):
            base = tokens(backend, name)[0]
            # Every plug-in shares the "other" rows, so many trials of some plug-ins say nothing of
            # a new one: a plug-in is never known, and so never pruned.
            known = base != OTHER and self.backend_rows.get(base, 0) >= MIN_BACKEND_ROWS
            out.append(Prediction(name, backend, float(p), float(math.exp(s)), float(math.exp(c)), known, float(r),
                                  float(u) * self.spread_scale))
        return out


def _matrix(features: Sequence[FunctionFeatures], candidates: Sequence[tuple[str, str]],
            vocabulary: Sequence[str]) -> np.ndarray:
    columns = names()
    index = {t: i for i, t in enumerate(vocabulary)}
    x = np.zeros((len(candidates), len(columns) + len(vocabulary)))
    for row, (f, (backend, name)) in enumerate(zip(features, candidates)):
        values = f.as_dict()
        x[row, :len(columns)] = [values[c] for c in columns]
        for token in tokens(backend, name):
            if token in index:
                x[row, len(columns) + index[token]] = 1.0
    return x


def _forest(kind: str, n_estimators: int = 50) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if kind == "classifier" else RandomForestRegressor
    return cls(n_estimators=n_estimators, min_samples_leaf=2, max_features=0.5, random_state=SEED, n_jobs=1)


def _log_speedup(record: TrialRecord) -> float:
    return math.log(max(record.speedup or 1e-3, 1e-3))


def _centred(records: Sequence[TrialRecord]) -> tuple[list[TrialRecord], np.ndarray]:
    """Correct candidates of functions with at least two, and their log-speedup minus the function's mean."""
    by_group: dict[str, list[TrialRecord]] = defaultdict(list)
    for r in records:
        by_group[r.group].append(r)
    rows = [r for rs in by_group.values() if len(rs) >= 2 for r in rs]
    means = {g: float(np.mean([_log_speedup(r) for r in rs])) for g, rs in by_group.items()}
    return rows, np.array([_log_speedup(r) - means[r.group] for r in rows])


def _tree_spread(forest: Any, x: np.ndarray) -> np.ndarray:
    """Standard deviation of the forest's trees' predictions: where the data disagree, or are thin."""
    return np.std(np.array([tree.predict(x) for tree in forest.estimators_]), axis=0)


def _out_of_fold(x: np.ndarray, y: np.ndarray, groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Predictions and tree spreads for each row from a forest that never saw the row's function."""
    from sklearn.model_selection import GroupKFold

    distinct = sorted(set(groups))
    if len(distinct) < 3:
        return None
    predicted, spread = np.zeros(len(y)), np.zeros(len(y))
    for train, test in GroupKFold(n_splits=min(5, len(distinct))).split(x, y, groups):
        forest = _forest("regressor", 25).fit(x[train], y[train])
        predicted[test], spread[test] = forest.predict(x[test]), _tree_spread(forest, x[test])
    return predicted, spread


def _pair_errors(y: np.ndarray, predicted: np.ndarray, spread: np.ndarray,
                 groups: Sequence[str]) -> tuple[float, float] | None:
    """Out-of-fold error of the predicted difference between two candidates of one function:
    its RMS, and the factor that turns the two trees' spreads into that error's standard deviation."""
    by_group: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by_group[g].append(i)
    pairs = [(i, j) for rows in by_group.values() for i in rows for j in rows if i < j]
    if not pairs:
        return None
    errors = np.array([(predicted[i] - predicted[j]) - (y[i] - y[j]) for i, j in pairs])
    spreads = np.array([math.hypot(spread[i], spread[j]) for i, j in pairs])
    scale = math.sqrt(float(np.mean(np.square(errors) / np.maximum(spreads, 0.05) ** 2)))
    return math.sqrt(float(np.mean(np.square(errors)))), scale


def fit(records: Sequence[TrialRecord]) -> CostModel | None:
    """Fit the model on tried candidates; ``None`` without scikit-learn or with too little data."""
    if not sklearn_available():
        return None
    tried = [r for r in records if r.status in TRIED_STATUSES]
    ok = [r for r in tried if r.ok and r.speedup]
    if len(tried) < 10 or len(ok) < 5:
        log.info("only %d tried candidates (%d correct): too little data for a cost model", len(tried), len(ok))
        return None
    vocabulary = tuple(sorted({t for r in tried for t in tokens(r.backend, r.name)}))
    backend_rows: dict[str, int] = defaultdict(int)
    for r in tried:
        backend_rows[tokens(r.backend, r.name)[0]] += 1

    x_all = _matrix([r.features for r in tried], [(r.backend, r.name) for r in tried], vocabulary)
    y_ok = np.array([1 if r.ok else 0 for r in tried])
    classifier = None
    if 0 < y_ok.sum() < len(y_ok):
        classifier = _forest("classifier").fit(x_all, y_ok)
    cost_regressor = _forest("regressor").fit(x_all, np.log(np.array([max(r.wall_s, 0.05) for r in tried])))

    x_ok = _matrix([r.features for r in ok], [(r.backend, r.name) for r in ok], vocabulary)
    y_speed = np.array([_log_speedup(r) for r in ok])
    speedup_regressor = _forest("regressor").fit(x_ok, y_speed)
    oof = _out_of_fold(x_ok, y_speed, [r.group for r in ok])
    sigma_total = float(np.std(y_speed - oof[0])) if oof is not None else float(np.std(y_speed))

    relative_regressor, sigma_within, scale = None, sigma_total, 1.0
    rows, y_rel = _centred(ok)
    if len({r.group for r in rows}) >= 3:
        x_rel = _matrix([r.features for r in rows], [(r.backend, r.name) for r in rows], vocabulary)
        relative_regressor = _forest("regressor").fit(x_rel, y_rel)
        groups = [r.group for r in rows]
        oof_rel = _out_of_fold(x_rel, y_rel, groups)
        pair = _pair_errors(y_rel, *oof_rel, groups) if oof_rel is not None else None
        if pair is not None:
            sigma_within, scale = pair
    # Floors: timing noise on a shared machine alone is 10-30% (0.1-0.25 in log).
    return CostModel(vocabulary, dict(backend_rows), classifier, float(y_ok.mean()), speedup_regressor,
                     cost_regressor, relative_regressor, max(sigma_total, 0.2), max(sigma_within, 0.15), scale,
                     len(tried))
