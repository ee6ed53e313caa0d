"""``hotpath bench FUNCTION``: the original against its installed variant, timed by pyperf.

FUNCTION is ``module:function`` as ``hotpath status`` shows it (a script's own functions are
``path/to/script.py:name``, or ``__main__:name`` where one script defines it), or a capture file. The arguments are the ones ``hotpath optimize``
captured. pyperf runs the timing in its own worker processes with calibrated loops and writes
its usual JSON (``-o``), which ``python -m pyperf show`` and ``compare_to`` read.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from hotpath import cli_helpers
from hotpath.cli_helpers import HOME_HELP
from hotpath.statedir import StateDir


def register(subparsers: Any) -> None:
    bench = subparsers.add_parser(
        "bench", help="time a function's original against its installed variant with pyperf",
        description="Times FUNCTION (module:function, or a capture file from `hotpath optimize`) on its "
                    "captured arguments with pyperf's runner: the original, and the function as `hotpath run` "
                    "calls it with the stored winner. Fails with the reason when no stored winner installs.")
    bench.add_argument("function", help="module:function (as `hotpath status` lists it) or a capture .pkl file")
    bench.add_argument("-o", "--output", default="hotpath-bench.json", help="pyperf JSON (default hotpath-bench.json)")
    bench.add_argument("--rigorous", action="store_true", help="pyperf --rigorous (default: --fast, unless --pyperf gives options)")
    bench.add_argument("--home", help=HOME_HELP)
    bench.add_argument("--pyperf", default="", metavar="ARGS",
                       help="more options for pyperf's runner, as one string (e.g. --pyperf='-p 4 -n 5')")
    bench.set_defaults(func=_bench)


def find_capture(home: Path, function: str) -> Path | None:
    """The newest capture of ``module:function`` under the state folder, or the file itself.
    Raises ``names.AmbiguousName`` for a name that several scripts' functions answer to."""
    given = Path(function)
    if given.suffix == ".pkl" and given.is_file():
        return given
    from hotpath.profiles.benchrun import load
    from hotpath.store import names

    captured: dict[Path, str] = {}
    for path in StateDir(home).captures.glob("*.pkl"):
        try:
            record = load(path)
        except Exception:
            continue
        # Named as the store names it: a script's own function by the script's path.
        module = names.stored_module(record["module"], record.get("file") or record.get("script"))
        captured[path] = f"{module}:{record['qualname']}"
    wanted = set(names.resolve(function, captured.values()))
    found = [path for path, name in captured.items() if name in wanted]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def _bench(args: argparse.Namespace) -> int:
    console = cli_helpers.console()
    home = cli_helpers.home(args)
    from hotpath.store import names

    try:
        capture = find_capture(home, args.function)
    except names.AmbiguousName as exc:
        console.print(f"[red]hotpath bench: {exc}", highlight=False)
        return 2
    if capture is None:
        console.print(f"[red]hotpath bench: no captured arguments for {args.function} in {StateDir(home).captures}; "
                      "run `hotpath optimize` on the program first", highlight=False)
        return 1
    try:
        import pyperf
    except ImportError:
        console.print("[red]hotpath bench needs pyperf: pip install pyperf")
        return 1
    output = Path(args.output)
    output.unlink(missing_ok=True)
    extra = shlex.split(args.pyperf)
    mode = ["--rigorous"] if args.rigorous else [] if extra else ["--fast"]  # given options win
    cmd = [sys.executable, "-m", "hotpath.profiles.benchrun", str(capture), "-o", str(output), *mode, "--quiet",
           "--inherit-environ=HOTPATH_HOME,HOTPATH_LOG_LEVEL,HOTPATH_DISABLE", *extra]
    env = dict(os.environ, HOTPATH_HOME=str(home))
    status = subprocess.call(cmd, env=env)
    from hotpath.profiles.benchrun import NOTHING_INSTALLED

    if status == NOTHING_INSTALLED:
        return 1  # the runner printed the one line that says why
    if status != 0 or not output.exists():
        console.print(f"[red]hotpath bench: pyperf failed (exit status {status})")
        return 1
    suite = pyperf.BenchmarkSuite.load(str(output))
    medians = {b.get_name().rsplit(" ", 1)[-1]: statistics.median(b.get_values()) for b in suite.get_benchmarks()}
    table = Table(title=f"{args.function} (pyperf, {len(suite.get_benchmarks()[0].get_runs())} runs)",
                  title_justify="left")
    table.add_column("case")
    table.add_column("median", justify="right")
    table.add_column("speedup", justify="right")
    installed = suite.get_benchmarks()[0].get_metadata().get("hotpath_installed", "?")
    for name, value in medians.items():
        ratio = medians.get("original", value) / value
        label = f"{name} ({installed})" if name == "hotpath" else name
        table.add_row(label, _duration(value), f"{ratio:.2f}x")
    console.print(table)
    console.print(f"pyperf JSON: {output} (python -m pyperf show {output})", highlight=False)
    return 0


def _duration(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"
