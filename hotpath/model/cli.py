"""``hotpath explain module:function`` and ``hotpath model train``."""

from __future__ import annotations

import argparse
import os
import sqlite3
from pathlib import Path
from typing import Any

from hotpath.cli_helpers import HOME_HELP, Subcommands, home


def register(subparsers: Any) -> None:
    """Add ``explain`` and ``model`` to the ``hotpath`` command."""
    explain = subparsers.add_parser(
        "explain", help="a function's features, the cost model's ranking with its predictions, and what the trials measured",
        description="Shows, for a tuned function (module:function, as `hotpath status` lists it), the features the "
                    "cost model reads from its source, the model's ranking of the candidates with the time each was "
                    "predicted to take, and what the trials of its latest tuning run per signature measured.")
    explain.add_argument("function", help="module:function (a script's own: path/to/script.py:function)")
    explain.add_argument("--home", help=HOME_HELP)
    explain.add_argument("--all", action="store_true", help="every recorded tuning run, not only the latest per signature")
    explain.add_argument("--json", action="store_true", help="machine-readable output (schema hotpath.explain/1)")
    explain.set_defaults(func=_explain)

    model = subparsers.add_parser(
        "model", help="the cost model that orders and prunes candidates",
        description="The cost model (scikit-learn, the `model` extra) orders a tuning run's candidates and stops "
                    "it when the rest are unlikely to beat the best so far; see docs/model.md.")
    actions = Subcommands(model.add_subparsers(dest="model_command", metavar="ACTION", required=True))
    train = actions.add_parser(
        "train", help="fit on the default data and this state folder's history; report its quality",
        description="Fits the cost model on the trials shipped with hotpath and this state folder's tuning "
                    "history (or the data file given), and reports leave-one-function-out quality: how often the "
                    "predicted chance of a correct candidate ranks right, and the error of the predicted speedup "
                    "and cost.")
    from hotpath.model import train as training

    training.add_arguments(train)
    train.set_defaults(func=training.run)


def _explain(args: argparse.Namespace) -> int:
    import sys

    from hotpath.model import explain
    from hotpath.store import names, queries

    known = _recorded_names(home(args))
    if ":" not in args.function:
        near = queries.near_names(args.function, known)
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        print(f"hotpath explain: expected module:function, got {args.function!r}{hint} "
              "(`hotpath status` lists the installed functions)", file=sys.stderr)
        return 2
    try:
        target = explain.recorded_name(args.function, known)
    except names.AmbiguousName as exc:
        print(f"hotpath explain: {exc}", file=sys.stderr)
        return 2
    sys.path.insert(0, os.getcwd())  # like `python -m`: the user's modules are importable from here
    data = explain.explain(target, home(args), args.all)
    if not data["runs"] and "source_features_error" in data and target not in known:
        # Neither tuned here nor importable: a wrong name, not a function with nothing to show.
        near = queries.near_names(args.function, known)
        hint = f"did you mean {' or '.join(near)}? " if near else ""
        print(f"hotpath explain: no function {args.function} is recorded in {home(args)} or importable from here "
              f"({data['source_features_error']}); {hint}`hotpath status` lists the installed functions",
              file=sys.stderr)
        return 1
    print(explain.to_json(data) if args.json else explain.render(data), end="")
    return 0


def _recorded_names(state_dir: Path) -> list[str]:
    """The functions recorded in ``state_dir``'s store; none when there is no store or it cannot be read
    (``explain`` goes on from the tuning history and the source)."""
    from hotpath.store import StoreUnavailable, queries

    try:
        store = queries.open_existing(state_dir)
        return queries.function_names(store) if store is not None else []
    except (StoreUnavailable, sqlite3.Error):
        return []
