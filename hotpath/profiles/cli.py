"""``hotpath profile``, ``hotpath optimize``, ``hotpath run`` and ``hotpath bench``.

The program is given as to ``python``: ``SCRIPT.py ARGS...`` or ``-m MODULE ARGS...``, and
everything after the script or module belongs to the program: put hotpath's own options first
(``hotpath optimize --functions diffuse examples/lake.py --size small``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotpath.cli_helpers import console as _console, home as _home
from hotpath.profiles.entry import EntryError, Program

if TYPE_CHECKING:
    from hotpath.profiles.benchmarks import Rerun, Suite
    from hotpath.profiles.replay import StdinReplay
from hotpath.profiles import run_cli
from hotpath.profiles.run_cli import script_arguments as _script_arguments


def register(subparsers: Any) -> None:
    profile = subparsers.add_parser(
        "profile", help="run a script (or -m module) under Scalene and rank its hot functions",
        description="Runs SCRIPT (or -m MODULE, as python -m does) under Scalene (CPU only), ranks functions by "
                    "their share of the program's time, "
                    "split into Python, native and system time, and says whether hotpath can rewrite each.")
    profile.add_argument("--json", action="store_true",
                         help="print the profile as JSON (schema hotpath.profile/1); the program's own standard "
                              "output then goes to standard error")
    profile.add_argument("-o", "--output", help="also write the JSON profile to this file")
    profile.add_argument("--top", type=int, default=15, help="rows in the table (default 15)")
    _script_arguments(profile)
    profile.set_defaults(func=_profile)

    optimize = subparsers.add_parser(
        "optimize", help="profile a script, capture its hot functions' arguments, tune them, store the winners",
        description="Profiles SCRIPT (or -m MODULE, e.g. -m pytest tests/) with Scalene, picks rewritable functions "
                    "of the program's own files with a real share of Python time, runs the program again capturing "
                    "their arguments (standard input is replayed to it), tunes each captured signature in the "
                    "sandbox and stores the winners for `hotpath run`. Signatures with a stored winner are skipped "
                    "(--force). Ctrl-C stops; finished runs are kept.")
    optimize.add_argument("--functions", help="comma-separated function names to try, skipping the profile")
    optimize.add_argument("--min-python-share", type=float, default=0.02,
                          help="try functions with at least this fraction of the run in Python (default 0.02)")
    optimize.add_argument("--max-functions", type=int, default=5, help="functions tried at most (default 5)")
    optimize.add_argument("--samples", type=int, default=1, help="calls sampled per signature (default 1)")
    optimize.add_argument("--max-signatures", type=int, default=4, help="signatures per function (default 4)")
    optimize.add_argument("--max-capture-mb", type=float, default=64.0,
                          help="skip calls whose pickled arguments are larger (default 64)")
    optimize.add_argument("--backends", help="comma-separated backends (default: [tool.hotpath] backends in "
                                             "pyproject.toml, else numba)")
    optimize.add_argument("--timing-budget", type=float,
                          help="seconds spent timing each candidate (default: [tool.hotpath] timing_budget_s, else 2)")
    optimize.add_argument("--cluster", metavar="ADDRESS",
                          help="run the trials on a Dask cluster, e.g. tcp://host:8786 (needs hotpath[dask]; "
                               "see docs/cluster.md)")
    optimize.add_argument("--force", action="store_true",
                          help="tune signatures again that already have a stored winner for the function's "
                               "current source (skipped otherwise, and said so)")
    optimize.add_argument("--quiet", action="store_true",
                          help="print only the program's own output and errors: no tables, no progress")
    optimize.add_argument("--json", action="store_true",
                          help="print a summary of what was tuned and installed as JSON (schema "
                               "hotpath.optimize/1) instead of the tables; the program's own standard output "
                               "then goes to standard error")
    optimize.add_argument("--benchmarks", metavar="COMMAND",
                          help="a pytest-benchmark suite as the workload, e.g. 'pytest benchmarks/' (instead of "
                               "SCRIPT or -m): it is profiled and captured like a program; after tuning it is run "
                               "again with and without the winners, interleaved, and the gate's verdict is printed "
                               "per benchmark. Exit status 1 when a benchmark is slower with the winners "
                               "(docs/codebase.md)")
    optimize.add_argument("--benchmark-rounds", type=int, default=3,
                          help="with --benchmarks: runs of the suite on each side, alternating (default 3: "
                               "from 3 processes a side the gate measures the process-to-process spread)")
    _script_arguments(optimize)
    optimize.set_defaults(func=_optimize)

    run_cli.register(subparsers)  # its own module: it must start fast

    from hotpath.profiles import bench

    bench.register(subparsers)


def _program(args: argparse.Namespace) -> Program:
    """The program on the command line; ``EntryError`` when there is none, it cannot be found,
    or (``SyntaxError``) its main file does not compile."""
    program = Program.from_argv(run_cli.program_argv(args))
    program.check()
    return program


def _syntax_error(exc: SyntaxError) -> int:
    """The program does not compile: its error as python shows it, and python's status."""
    traceback.print_exception(type(exc), exc, None)
    return 1


def _profile(args: argparse.Namespace) -> int:
    from hotpath.profiles import pick, render, scalene

    console = _console(stderr=True)
    home = _home(args)
    try:
        program = _program(args)
    except EntryError as exc:
        console.print(f"[red]hotpath profile: {exc}", highlight=False, soft_wrap=True)
        return 2
    except SyntaxError as exc:
        return _syntax_error(exc)
    try:
        profile = scalene.profile(program, home / "profiles", program_stdout=sys.stderr if args.json else None)
    except scalene.ProfileError as exc:
        console.print(f"[red]hotpath profile: {exc}", highlight=False, soft_wrap=True)
        return exc.status if isinstance(exc, scalene.ProgramFailed) else 1
    except scalene.Interrupted:
        console.print("[yellow]hotpath profile: interrupted (Ctrl-C); no profile taken", highlight=False,
                      soft_wrap=True)
        return 130
    profile = pick.annotate(profile)
    document = json.dumps(profile.to_json(), indent=1)
    (home / "profiles" / "hotpath-profile.json").write_text(document)
    if args.output:
        Path(args.output).write_text(document)
    if args.json:
        print(document)
    else:
        _console().print(render.profile_table(profile, args.top))
    return 0


def _optimize(args: argparse.Namespace) -> int:
    from hotpath.profiles.replay import StdinReplay
    from hotpath.statedir import StateDir

    from hotpath.profiles import benchmarks

    err = _console(stderr=True)
    suite = None
    try:
        if args.benchmarks is not None:
            if run_cli.program_argv(args):
                raise EntryError("give the workload once: --benchmarks COMMAND, or SCRIPT / -m MODULE")
            suite = benchmarks.parse_suite(args.benchmarks)
            if args.benchmark_rounds < 1:
                raise EntryError(f"--benchmark-rounds must be at least 1, got {args.benchmark_rounds}")
            program = suite.program
            program.check()
        else:
            program = _program(args)
    except (EntryError, benchmarks.SuiteError) as exc:
        err.print(f"[red]hotpath optimize: {exc}", highlight=False, soft_wrap=True)
        return 2
    except SyntaxError as exc:
        return _syntax_error(exc)
    home = _home(args)
    with StdinReplay(StateDir(home).tmp) as stdin:  # the program runs twice: the second reads what the first did
        return _optimize_program(args, program, home, stdin, suite)


def _optimize_program(args: argparse.Namespace, program: Program, home: Path, stdin: StdinReplay,
                      suite: Suite | None = None) -> int:
    from hotpath.profiles import optimize, pick, render, scalene
    from hotpath.profiles.session import Plan, Target
    from hotpath.statedir import StateDir

    err = _console(stderr=True)
    quiet = args.quiet or args.json
    out = _silent() if quiet else _console()  # the tables
    info = _silent() if args.quiet else err  # progress and what is being done
    program_stdout = sys.stderr if args.json else None  # stdout holds the JSON alone
    os.environ["HOTPATH_HOME"] = str(home)
    workdir = home / "profiles"
    if args.cluster:
        from hotpath.runner.dask_executor import DaskExecutor
        from hotpath.runner.executors import ExecutorUnavailable

        try:  # before the program runs twice for nothing: a wrong address is found now
            DaskExecutor.connect(args.cluster).close()
        except ExecutorUnavailable as exc:
            err.print(f"[red]hotpath optimize: {exc.reason}", highlight=False, soft_wrap=True)
            return 1
    profiled = not args.functions
    if args.functions:
        functions = pick.named(None, str(program.main_file()),
                               [n.strip() for n in args.functions.split(",") if n.strip()])
        chosen = [pick.Choice(f, bool(f.rewritable), "named" if f.rewritable else f"not rewritable: {f.reason}")
                  for f in functions]
        missing = set(args.functions.split(",")) - {f.function for f in functions}
        if missing:
            err.print(f"[yellow]no module-level function named {', '.join(sorted(missing))} in {program.main_file()}",
                      highlight=False, soft_wrap=True)
    else:
        try:
            with stdin.run() as program_stdin:
                profile = pick.annotate(scalene.profile(program, workdir, program_stdout, stdin=program_stdin))
        except scalene.ProfileError as exc:
            err.print(f"[red]hotpath optimize: {exc}", highlight=False, soft_wrap=True)
            return exc.status if isinstance(exc, scalene.ProgramFailed) else 1
        except scalene.Interrupted:
            err.print("[yellow]hotpath optimize: interrupted (Ctrl-C) while profiling; nothing was tuned",
                      highlight=False, soft_wrap=True)
            return 130
        (workdir / "hotpath-profile.json").write_text(json.dumps(profile.to_json(), indent=1))
        out.print(render.profile_table(profile, 10))
        chosen = pick.choose(profile, args.min_python_share, args.max_functions)
    out.print(render.choices_table(chosen))
    targets = tuple(Target(str(Path(c.function.file).resolve()), c.function.function) for c in chosen if c.picked)
    if not targets:
        err.print("[yellow]nothing worth trying: no rewritable function with enough Python time", soft_wrap=True)
        if args.json:
            print(json.dumps(_summary(program, home, None, 0), indent=1))
        return 0
    plan = Plan(script=program.target, args=program.args, module=program.module, targets=targets,
                capture_dir=str(home / "captures"),
                samples=args.samples, max_bytes=int(args.max_capture_mb * (1 << 20)),
                max_signatures=args.max_signatures, backends=backends_of(args),
                timing_budget_s=timing_budget_of(args), cluster=args.cluster, force=args.force)
    info.print(f"capturing arguments of {', '.join(t.qualname for t in targets)} (running {program.label()}"
               f"{' again, its output not shown twice' if profiled else ''})", highlight=False, soft_wrap=True)
    # The program's output was shown by the profiling run: this run's is kept, and shown only if it fails.
    capture_output = StateDir(home).tmp / f"capture-stdout-{os.getpid()}"
    capture_output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with stdin.run() as program_stdin, capture_output.open("w+b") as kept:
            outcome = optimize.capture_and_tune(plan, workdir, info, args.verbose,
                                                program_stdout=kept if profiled else program_stdout,
                                                stdin=program_stdin)
            if outcome.script_status not in (0, None) or outcome.interrupted == "capture":
                kept.seek(0)
                _replay_output(kept.read(), sys.stderr if args.json else sys.stdout)
    finally:
        capture_output.unlink(missing_ok=True)
    if outcome.captured or outcome.skipped:
        out.print(render.summary_table(outcome.captured, outcome.skipped, outcome.tuned))
    if outcome.interrupted:
        err.print(f"[yellow]interrupted during {outcome.interrupted}: every tuning run that finished is stored "
                  "(`hotpath status`, `hotpath report`); run `hotpath optimize` again for the rest", soft_wrap=True)
        status = 130
    elif outcome.script_status != 0:
        failed = outcome.script_status if outcome.script_status is not None else outcome.status
        err.print(f"[red]hotpath optimize: {program.label()} exited with status {failed} during the capture run "
                  "(its own output is above); nothing was tuned", highlight=False, soft_wrap=True)
        status = failed if failed > 0 else 1  # the program's own status, as python would have ended
    else:
        status = 0
        winners = sum(1 for t in outcome.tuned if t.winner)
        command = " ".join(["hotpath run", *map(shlex.quote, program.argv())])
        out.print(f"{winners} winner(s) stored in {home}; run the program with them: [bold]{command}",
                  highlight=False, soft_wrap=True)
    rerun = None
    if suite is not None and status == 0:
        status, rerun = _judge_suite(args, suite, home, outcome, out, info, err)
    if args.json:
        summary = _summary(program, home, outcome, status)
        if suite is not None:
            from hotpath.profiles.benchmarks import verdicts_json

            summary["benchmarks"] = verdicts_json(rerun) if rerun is not None else None
        print(json.dumps(summary, indent=1))
    return status


def _judge_suite(args: argparse.Namespace, suite: Suite, home: Path, outcome: Any, out: Any, info: Any,
                 err: Any) -> tuple[int, Rerun | None]:
    """``--benchmarks``: the suite again with and without the winners, and the gate's verdict per
    benchmark. Status 0, 1 when a benchmark is slower with the winners or the comparison failed,
    130 after Ctrl-C."""
    from hotpath.profiles import benchmarks
    from hotpath.profiles.session import ALREADY_STORED

    stored = sum(1 for t in outcome.tuned if t.winner) + sum(
        1 for s in outcome.skipped if s.reason.startswith(ALREADY_STORED))
    if not stored:
        info.print("no winner for the suite's functions: it runs as written, nothing to compare", soft_wrap=True)
        return 0, None
    try:
        rerun = benchmarks.compare(suite, home, args.benchmark_rounds, home / "benchmarks",
                                   announce=lambda line: info.print(line, highlight=False, soft_wrap=True))
    except benchmarks.SuiteError as exc:
        err.print(f"[red]hotpath optimize: {exc}", highlight=False, soft_wrap=True)
        return 1, None
    except KeyboardInterrupt:
        err.print("[yellow]hotpath optimize: interrupted (Ctrl-C) while rerunning the benchmarks; the winners "
                  "stay stored", soft_wrap=True)
        return 130, None
    for line in benchmarks.verdict_lines(rerun):
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    if rerun.report.regressions:
        names = ", ".join(c.name for c in rerun.report.regressions)
        err.print(f"[red]hotpath optimize: slower with the winners: {names}; retire a winner with "
                  "`hotpath rollback`", highlight=False, soft_wrap=True)
    return rerun.report.exit_code, rerun


def _silent() -> Any:
    """A console that prints nothing (``--quiet``, ``--json``)."""
    import io

    from rich.console import Console

    return Console(file=io.StringIO())


def _replay_output(data: bytes, stream: Any) -> None:
    stream.flush()
    if hasattr(stream, "buffer"):
        stream.buffer.write(data)
        stream.buffer.flush()
    else:
        stream.write(data.decode(errors="replace"))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _summary(program: Program, home: Path, outcome: Any, status: int) -> dict[str, Any]:
    """``hotpath optimize --json``: per captured (or skipped) signature, what happened to it."""
    from hotpath.profiles.session import ALREADY_STORED

    rows: list[dict[str, Any]] = []
    if outcome is not None:
        done = {(t.function, t.signature): t for t in outcome.tuned}
        for c in outcome.captured:
            t = done.get((c.function, c.signature))
            row: dict[str, Any] = {"function": c.function, "signature": c.signature, "calls": c.calls}
            if t is None:
                row.update(status="not finished")
            else:
                row.update(status="installed" if t.winner else "not installed", winner=t.winner,
                           speedup=_rounded(t.speedup), ci=[_rounded(t.ci_low), _rounded(t.ci_high)] if t.winner
                           else None, reason=t.reason, tune_s=round(t.duration_s, 3))
            rows.append(row)
        for s in outcome.skipped:
            rows.append({"function": s.function, "signature": s.signature or None,
                         "status": ALREADY_STORED if s.reason.startswith(ALREADY_STORED) else "skipped",
                         "reason": s.reason})
    return {"schema": "hotpath.optimize/1", "program": program.argv(), "state_dir": str(home), "status": status,
            "interrupted": outcome.interrupted if outcome is not None else None,
            "installed": sum(1 for r in rows if r["status"] == "installed"), "functions": rows,
            "run": " ".join(["hotpath run", *map(shlex.quote, program.argv())])}


def backends_of(args: argparse.Namespace) -> tuple[str, ...]:
    """``--backends``, else the project's ``[tool.hotpath]`` backends, else ``PROGRAM_BACKENDS``."""
    from hotpath.config import PROGRAM_BACKENDS, project_settings

    if args.backends:
        return tuple(b.strip() for b in args.backends.split(",") if b.strip())
    return tuple(project_settings().values.get("backends", PROGRAM_BACKENDS))


def timing_budget_of(args: argparse.Namespace) -> float:
    """``--timing-budget``, else the project's ``timing_budget_s``, else 2 s (a program's functions
    are tuned in the foreground, one after another: longer than ``tune()``'s default is affordable)."""
    from hotpath.config import project_settings

    if args.timing_budget is not None:
        return float(args.timing_budget)
    return float(project_settings().values.get("timing_budget_s", 2.0))
