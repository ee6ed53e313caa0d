"""``hotpath optimize --benchmarks 'pytest benchmarks/'``: the team's benchmark suite decides.

The suite is the workload that is profiled and captured (as ``-m pytest ...``); once the winners
are stored, ``compare`` reruns it with and without them, interleaved (plain, hotpath, plain,
hotpath, ...: the machine's drift over the minutes this takes falls on both sides alike), each run
in a fresh process writing pytest-benchmark JSON, and hands the two sides to the gate
(``hotpath.gate.compare``), whose verdict per benchmark is the answer. One process per run and
side, so with three rounds or more the gate gets real process-to-process spread; with two it
uses its wider single-process rule (docs/gate.md). The side with the winners runs as
``hotpath run`` does, except that every winner is loaded at its first call (``suiterun`` says why:
the benchmarks time calls, not the one-time load, which ``hotpath run`` weighs for whole programs).

pyperf scripts are refused for now: their Runner starts its own worker processes with the bare
interpreter, so the "with winners" side would time the originals.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hotpath.profiles.entry import EntryError, Program

if TYPE_CHECKING:
    from hotpath.gate.model import GateReport

#: The two sides, in the order each round runs them.
PLAIN, WITH_WINNERS = "plain", "hotpath"
#: Options of the suite that would leave no timings to compare, or clash with the file hotpath writes.
_REFUSED = ("--benchmark-json", "--benchmark-disable", "--benchmark-skip")


class SuiteError(Exception):
    """The benchmark suite cannot be used or run; the message is one line for the user."""


@dataclass(frozen=True)
class Suite:
    """A pytest-benchmark suite, as ``python -m pytest ARGS`` runs it."""

    program: Program

    def command(self, json_path: Path) -> list[str]:
        """The suite's command line after ``python`` (or ``hotpath run``), writing its timings to ``json_path``."""
        return [*self.program.argv(), f"--benchmark-json={json_path}"]


@dataclass(frozen=True)
class Rerun:
    """The suite's timings with and without the winners, and the gate's verdict on them."""

    rounds: int
    plain: tuple[Path, ...]
    with_winners: tuple[Path, ...]
    report: GateReport


def parse_suite(command: str) -> Suite:
    """``'pytest benchmarks/'``, ``'python -m pytest benchmarks/ -k diffuse'`` or ``'-m pytest ...'``
    as a :class:`Suite`; :class:`SuiteError` for anything else."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise SuiteError(f"--benchmarks {command!r}: {exc}") from None
    if words and Path(words[0]).name.startswith("python"):  # `python -m pytest ...`: the interpreter is ours
        words = words[1:]
    if words[:1] in (["pytest"], ["py.test"]):
        words = ["-m", "pytest", *words[1:]]
    if not words:
        raise SuiteError("--benchmarks needs the suite's command, e.g. --benchmarks 'pytest benchmarks/'")
    if words[0].endswith(".py") or words[:2] == ["-m", "pyperf"]:
        raise SuiteError(f"--benchmarks {command!r}: pyperf suites are not supported yet (their worker processes "
                         "would run without the winners); give a pytest-benchmark suite, e.g. 'pytest benchmarks/'")
    try:
        program = Program.from_argv(words)
    except EntryError as exc:
        raise SuiteError(f"--benchmarks {command!r}: {exc}") from None
    if not program.module or program.target != "pytest":
        raise SuiteError(f"--benchmarks {command!r}: give a pytest-benchmark suite, e.g. 'pytest benchmarks/'")
    clash = next((a for a in program.args if a.split("=")[0] in _REFUSED), None)
    if clash is not None:
        raise SuiteError(f"--benchmarks: drop {clash.split('=')[0]}; hotpath runs the suite with its own "
                         "--benchmark-json to compare the timings")
    if importlib.util.find_spec("pytest_benchmark") is None:
        raise SuiteError("--benchmarks needs pytest-benchmark in this environment (pip install pytest-benchmark)")
    return Suite(program)


def compare(suite: Suite, home: Path, rounds: int, folder: Path,
            announce: Callable[[str], None] = lambda line: None) -> Rerun:
    """Run ``suite`` ``rounds`` times on each side, interleaved, and judge the sides with the gate.

    ``home``: the state folder whose winners ``hotpath run`` loads. Each run's timings go to
    ``folder``, its output to a log beside them (shown to nobody unless it fails: the
    :class:`SuiteError` then names it). ``announce`` is told each run as it starts.
    """
    from hotpath.gate import GateInputError, compare as gate_compare

    if rounds < 1:
        raise SuiteError(f"--benchmark-rounds must be at least 1, got {rounds}")
    folder.mkdir(parents=True, exist_ok=True)
    plain: list[Path] = []
    with_winners: list[Path] = []
    env = dict(os.environ, HOTPATH_HOME=str(home))
    for index in range(1, rounds + 1):
        for side in (PLAIN, WITH_WINNERS):
            path = folder / f"{side}-{index}.json"
            path.unlink(missing_ok=True)
            prefix = [sys.executable] if side == PLAIN else [sys.executable, "-m", "hotpath.profiles.suiterun"]
            announce(f"round {index}/{rounds}: {'python' if side == PLAIN else 'with the winners:'} "
                     f"{suite.program.display()}")
            _run([*prefix, *suite.command(path)], path, env, f"the {side} run of round {index}")
            (plain if side == PLAIN else with_winners).append(path)
    try:
        report = gate_compare(plain, with_winners)
    except GateInputError as exc:
        raise SuiteError(f"the gate cannot compare the suite's timings: {exc}") from None
    return Rerun(rounds, tuple(plain), tuple(with_winners), report)


def _run(cmd: list[str], json_path: Path, env: dict[str, str], what: str) -> None:
    """Run one pass of the suite; :class:`SuiteError` when it fails or writes no timings."""
    log_path = json_path.with_suffix(".log")
    with log_path.open("wb") as log:
        status = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    if status in (130, -2):
        raise KeyboardInterrupt
    if status != 0:
        raise SuiteError(f"{what} exited with status {status}: {_last_line(log_path)} (full output: {log_path})")
    if not json_path.is_file():
        raise SuiteError(f"{what} wrote no benchmark timings (did it collect any benchmark?); output: {log_path}")


def _last_line(path: Path) -> str:
    """The last line of the run's output that says something: pytest's summary, or the error."""
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip(" =-")]
    return lines[-1] if lines else "no output"


def verdict_lines(rerun: Rerun) -> list[str]:
    """One line per benchmark: the gate's verdict on the run with the winners against the plain one,
    its change and interval; the gate's reason under each that is slower; its headline last."""
    from hotpath.gate import Verdict
    from hotpath.gate.render.units import format_change, format_interval, headline

    report = rerun.report
    width = max((len(c.name) for c in report.comparisons), default=0)
    confidence = float(report.settings.get("confidence", 0.90))  # type: ignore[arg-type]
    lines = [f"benchmarks with the winners against without ({rerun.rounds} interleaved round"
             f"{'s' if rerun.rounds != 1 else ''} a side), the gate's verdict:"]
    for c in report.comparisons:
        lines.append(f"  {c.verdict.value:<9}  {c.name:<{width}}  {format_change(c.ratio):>7}  "
                     f"({confidence:.0%} CI {format_interval(c)})")
        if c.verdict is Verdict.SLOWER:
            lines.append(f"             {c.reason}")
    for name in (*report.only_in_baseline, *report.only_in_current):
        lines.append(f"  {'missing':<9}  {name} (timed on one side only, not compared)")
    lines.append(headline(report))
    return lines


def verdicts_json(rerun: Rerun) -> dict[str, object]:
    """The rerun for ``hotpath optimize --json``."""
    report = rerun.report
    return {"rounds": rerun.rounds, "exit_code": report.exit_code,
            "plain": [str(p) for p in rerun.plain], "with_winners": [str(p) for p in rerun.with_winners],
            "verdicts": [{"name": c.name, "verdict": c.verdict.value, "ratio": round(c.ratio, 4),
                          "ci": [None if c.ci_low is None else round(c.ci_low, 4),
                                 None if c.ci_high is None else round(c.ci_high, 4)],
                          "reason": c.reason} for c in report.comparisons]}
