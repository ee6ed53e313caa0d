"""``hotpath demo``: tune the built-in examples and show every variant's verdict."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from hotpath import examples, tuning
from hotpath.config import DEFAULT_BACKENDS, Config
from hotpath.dispatch import Optimized
from hotpath.report.table import trials_table, verdict_line


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="tune the built-in example kernels and show each variant's verdict",
        description="Tunes a few built-in kernels (a 2-D Jacobi sweep, a pairwise-distance loop, "
                    "an integer checksum Numba would get wrong) and prints, per variant, whether "
                    "it agreed with the original, its time and its speedup.")
    parser.add_argument("names", nargs="*", default=[],
                        metavar="EXAMPLE", help=f"examples to run (default: all of {', '.join(examples.EXAMPLES)})")
    parser.add_argument("--quick", action="store_true", help="small inputs and short timing, for a smoke test")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 150))  # logs and CI: room for the reasons
    names = args.names or list(examples.EXAMPLES)
    unknown = [n for n in names if n not in examples.EXAMPLES]
    if unknown:
        console.print(f"[red]unknown example(s) {', '.join(unknown)}; choose from {', '.join(examples.EXAMPLES)}")
        return 2
    scale = 0.15 if args.quick else 1.0
    # Every default backend whatever the project's [tool.hotpath] table names: the integer
    # checksum is there to show Numba's wrong answer caught and Cython's right one installed.
    config = Config(backends=DEFAULT_BACKENDS, timing_budget_s=0.3 if args.quick else 2.0)
    for name in names:
        fn = examples.EXAMPLES[name]
        call_args = examples.example_args(name, scale)
        opt = Optimized(fn, config)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task(f"{name}: running the original on the edge cases", total=None)

            def observe(event: str, item: Any) -> None:
                if event == "start":
                    progress.update(task, description=f"{name}: compiling, verifying and timing {item.name}")

            result = tuning.run(opt, call_args, config, observe)
        console.print(trials_table(result))
        console.print(verdict_line(result))
        console.print()
    return 0
