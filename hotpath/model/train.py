"""Retrain the cost model and say how well it predicts: ``python -m hotpath.model.train``.

    python -m hotpath.model.train                  # default data + this state folder's history
    python -m hotpath.model.train --data my.json   # another training-data file instead of the default
    python -m hotpath.model.train --no-default     # this machine's history only
    hotpath model train ...                        # the same, from the hotpath command

The model itself is fitted at first use in each process (about a second), so "retraining" is
collecting data: the shipped default comes from ``bench/model_trace.py`` over the bench corpus,
converted by ``python -m bench.run_model build-data``; every guided tuning run adds its trials to
the state folder's history. This command fits on the chosen data and reports leave-one-function-out
quality: how often P(correct) ranks right, the error of the predicted log-speedup, and of the cost.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotpath.model import costmodel, records
from hotpath.model.records import TrialRecord


@dataclass(frozen=True)
class Quality:
    """Leave-one-function-out quality of the model on some records."""

    functions: int
    trials: int
    brier: float  # mean squared error of P(correct); 0.25 is a coin
    ok_rate: float  # share of trials that were correct (the Brier score of always saying so is rate*(1-rate))
    speedup_mae_log: float  # mean |predicted - measured| log-speedup, correct trials
    cost_mae_log: float  # mean |predicted - measured| log-seconds

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def evaluate(data: Sequence[TrialRecord]) -> Quality | None:
    """Fit without each function in turn and score the predictions on it."""
    tried = [r for r in data if r.status in records.TRIED_STATUSES]
    groups = sorted({r.group for r in tried})
    squared, speed, cost = [], [], []
    for group in groups:
        model = costmodel.fit([r for r in tried if r.group != group])
        if model is None:
            return None
        held = [r for r in tried if r.group == group]
        for r, p in zip(held, model.predict(held[0].features, [(r.backend, r.name) for r in held])):
            squared.append((p.p_ok - (1.0 if r.ok else 0.0)) ** 2)
            cost.append(abs(math.log(p.cost_s) - math.log(max(r.wall_s, 0.05))))
            if r.ok and r.speedup:
                speed.append(abs(math.log(p.speedup) - math.log(r.speedup)))
    rate = sum(r.ok for r in tried) / len(tried)
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    return Quality(len(groups), len(tried), mean(squared), rate, mean(speed), mean(cost))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotpath model train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``train`` (shared by ``python -m`` and the ``hotpath`` command)."""
    parser.add_argument("--home", type=Path, help="state folder whose history to include (default: $HOTPATH_HOME or ./.hotpath)")
    parser.add_argument("--data", type=Path, help="training-data file instead of the shipped default")
    parser.add_argument("--no-default", action="store_true", help="leave the shipped corpus data out")
    parser.add_argument("--no-evaluate", action="store_true", help="fit only; skip the leave-one-function-out report")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from hotpath.config import Config

    state = args.home or Config().resolved_state_dir()
    data: list[TrialRecord] = []
    if not args.no_default:
        data += records.read_data(args.data) if args.data else records.training_records(None)
    history = [r for run in records.read_runs(state) for r in run.records()]
    data += history
    if not costmodel.sklearn_available():
        print("scikit-learn is not installed (pip install 'hotpath[model]'): no cost model; "
              "tuning tries every candidate in the rewriter's order", file=sys.stderr)
        return 1
    model = costmodel.fit(data)
    quality = None if args.no_evaluate or model is None else evaluate(data)
    if args.json:
        print(json.dumps({"schema": "hotpath.model-train/1", "trials": len(data), "history_trials": len(history),
                          "model": model.describe() if model else None,
                          "quality": quality.to_json() if quality else None}, indent=1))
        return 0 if model else 1
    print(f"{len(data)} trials ({len(history)} from {records.history_path(state)})")
    if model is None:
        print("too little data to fit a model: every candidate will be tried")
        return 1
    print(f"model: {model.describe()}")
    if quality:
        print(f"leave-one-function-out over {quality.functions} functions: Brier score of P(correct) "
              f"{quality.brier:.3f} (always-{quality.ok_rate:.0%} would score {quality.ok_rate * (1 - quality.ok_rate):.3f}), "
              f"speedup error x{math.exp(quality.speedup_mae_log):.2f} (mean |log|), "
              f"cost error x{math.exp(quality.cost_mae_log):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
