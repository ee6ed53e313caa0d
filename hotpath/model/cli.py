"""``hotpath explain module:function`` and ``hotpath model train``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from hotpath.cli_helpers import HOME_HELP, home




def register(subparsers: Any) -> None:
    """Add ``explain`` and ``model`` to the ``hotpath`` command."""
    explain = subparsers.add_parser(
        "explain", help="a function's features, the cost model's ranking with its predictions, and what the trials measured")
    explain.add_argument("function", help="module:function")
    explain.add_argument("--home", help=HOME_HELP)
    explain.add_argument("--all", action="store_true", help="every recorded tuning run, not only the latest per signature")
    explain.add_argument("--json", action="store_true", help="machine-readable output (schema hotpath.explain/1)")
    explain.set_defaults(func=_explain)

    model = subparsers.add_parser("model", help="the cost model that orders and prunes candidates")
    actions = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    train = actions.add_parser("train", help="fit on the default data and this state folder's history; report its quality")
    from hotpath.model import train as training

    training.add_arguments(train)
    train.set_defaults(func=training.run)


def _explain(args: argparse.Namespace) -> int:
    import sys

    from hotpath.model import explain

    if ":" not in args.function:
        print(f"expected module:function, got {args.function!r}", file=sys.stderr)
        return 2
    sys.path.insert(0, os.getcwd())  # like `python -m`: the user's modules are importable from here
    data = explain.explain(args.function, home(args), args.all)
    print(explain.to_json(data) if args.json else explain.render(data), end="")
    return 0
