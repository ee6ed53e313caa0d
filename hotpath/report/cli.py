"""``hotpath report [--html out.html] [--function module:function] [--json]``."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console

from hotpath import cli_helpers
from hotpath.cli_helpers import HOME_HELP


def register(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report", help="what was tried, what won, by how much; --html for a page with plots",
        description="Prints every recorded trial (function, signature, variant, verdict and reason, speedup with "
                    "its 95% interval, tune time) and, per tuning run, the inputs it verified on by rule, the "
                    "line coverage they reached and the guards its install carries. --html writes a self-contained page with plots: speedup per "
                    "function and backend, time per call before and after, and the install/rollback timeline.")
    report.add_argument("--html", metavar="FILE", help="write the HTML report here")
    report.add_argument("--function", help="only this module:function in the table")
    report.add_argument("--json", action="store_true", help="machine-readable output (schema hotpath.report/1)")
    report.add_argument("--home", help=HOME_HELP)
    report.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from hotpath.report import environment, health, history, html, model

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 200))  # logs and CI: room for the reasons
    home = cli_helpers.home(args)
    report = model.load(home)
    if report is None:
        console.print(f"no store in {home}: nothing has been tried yet (run `hotpath optimize` or `hotpath demo`)")
        return 0
    loop = health.compute(report)
    if args.json:
        runs = [asdict(r) for r in report.runs]
        for data, run in zip(runs, report.runs):
            data["verification"]["coverage_percent"] = run.verification.coverage_percent
        print(json.dumps({"schema": "hotpath.report/1", "state_dir": report.state_dir,
                          "runs": runs, "installs": [asdict(i) for i in report.installs],
                          "events": [asdict(e) for e in report.events], "health": asdict(loop),
                          "environment": asdict(environment.describe(t.environment for t in report.trials))},
                         indent=1, default=str))
    else:
        console.print(history.trials_history(report, args.function))
        console.print(history.health_tables(loop))
    if args.html:
        Path(args.html).write_text(html.render(report, loop), encoding="utf-8")
        Console(stderr=True).print(f"wrote {args.html}", highlight=False)
    return 0
