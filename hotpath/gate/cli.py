"""``hotpath gate`` and ``hotpath measure``.

Every ``hotpath`` invocation imports this module to register the subcommands, so it imports
only the standard library at the top; numpy, rich and the readers load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from hotpath.gate.errors import GateInputError
from hotpath.gate.model import EXIT_INPUT_ERROR, EXIT_OK

log = logging.getLogger(__name__)

GATE_DESCRIPTION = """\
Compare benchmark results of a change (CURRENT) with those of its base (BASELINE) and exit 1
when a benchmark got significantly slower: beyond the threshold AND outside the noise, judged
by a bootstrap interval over the raw samples. Reads pyperf JSON (also .json.gz),
pytest-benchmark JSON and hotpath.bench/1 files (from `hotpath measure`).
Exit status: 0 nothing regressed, 1 a regression, 2 unusable input."""

MEASURE_DESCRIPTION = """\
Run a command under valgrind's callgrind several times and record its instruction counts in a
hotpath.bench/1 file that `hotpath gate` compares. Counts barely move on a noisy, shared
machine, unlike times. Example: hotpath measure --instructions --name parse -o cur.json -- python parse.py"""


def register(subparsers: Any) -> None:
    """Add the ``gate`` and ``measure`` subcommands to the ``hotpath`` command."""
    gate = subparsers.add_parser(
        "gate",
        help="CI: compare benchmark results, exit 1 on a significant slowdown",
        description=GATE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_gate_arguments(gate)
    gate.set_defaults(func=gate_command)

    measure = subparsers.add_parser(
        "measure",
        help="count a command's instructions with callgrind (stable on noisy machines)",
        description=MEASURE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_measure_arguments(measure)
    measure.set_defaults(func=measure_command)


def add_gate_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``hotpath gate``."""
    p.add_argument("baseline", metavar="BASELINE",
                   help="results of the base commit; several files (comma-separated, or a quoted glob) "
                        "are merged, e.g. the chunks of an interleaved run")
    p.add_argument("current", metavar="CURRENT", help="results of the change, likewise")
    p.add_argument(
        "--threshold", action="append", default=[], metavar="[PATTERN=]FRACTION",
        help="practical threshold: '0.05' or '5%%' for all timed benchmarks, 'PATTERN=10%%' for "
        "names matching a shell pattern (repeatable; default 5%%, 1%% for instruction counts)",
    )
    p.add_argument(
        "--allow", action="append", default=[], metavar="PATTERN[=REASON]",
        help="acknowledge a known regression: it is reported but does not fail (repeatable)",
    )
    p.add_argument("--policy", metavar="FILE", help="per-benchmark policy (JSON, TOML or pyproject.toml)")
    p.add_argument("--confidence", type=float, metavar="P", help="two-sided confidence of the interval; its lower bound is a one-sided test at (1+P)/2 (default 0.90)")
    p.add_argument("--markdown", metavar="FILE", help="also write a pull-request comment ('-' for stdout)")
    p.add_argument("--junit", metavar="FILE", help="also write JUnit XML (one test case per benchmark)")
    p.add_argument("--json", dest="json_out", metavar="FILE", help="also write the verdicts as JSON ('-' for stdout)")
    p.add_argument("--explain", action="store_true", help="add a column saying why each verdict was reached")
    p.add_argument("--quiet", action="store_true", help="print only the one-line result")


def add_measure_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``hotpath measure``."""
    p.add_argument("--instructions", action="store_true",
                   help="count instructions with valgrind --tool=callgrind (the supported mode)")
    p.add_argument("--name", help="benchmark name (default: the command line)")
    p.add_argument("-o", "--output", default="-", metavar="FILE", help="hotpath.bench/1 file to write (default stdout)")
    p.add_argument("--append", action="store_true", help="add to OUTPUT if it exists (replacing a same-named benchmark)")
    p.add_argument("--repeat", type=int, default=3, help="runs under valgrind (default 3)")
    p.add_argument("--trace-children", action="store_true", help="count child processes too")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="give up on a run after this long")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command to measure")


def gate_command(args: argparse.Namespace) -> int:
    """Run the gate; return its exit status (0 ok, 1 regression, 2 unusable input)."""
    try:
        return _gate(args)
    except GateInputError as exc:
        _error("gate", str(exc))
        return EXIT_INPUT_ERROR
    except Exception as exc:  # noqa: BLE001 - CI logs want one line, not a traceback
        log.debug("gate failed", exc_info=True)
        _error("gate", f"internal error ({type(exc).__name__}: {exc}); rerun with -vv and report it")
        return EXIT_INPUT_ERROR


def measure_command(args: argparse.Namespace) -> int:
    """Run ``hotpath measure``; return 0 on success, 2 when it could not measure."""
    try:
        return _measure(args)
    except GateInputError as exc:
        _error("measure", str(exc))
        return EXIT_INPUT_ERROR
    except Exception as exc:  # noqa: BLE001
        log.debug("measure failed", exc_info=True)
        _error("measure", f"internal error ({type(exc).__name__}: {exc}); rerun with -vv and report it")
        return EXIT_INPUT_ERROR


def build_policy(args: argparse.Namespace) -> Any:
    """The policy from ``--policy``, then ``--confidence``, ``--threshold`` and ``--allow``."""
    from dataclasses import replace

    from hotpath.gate.policy import Policy, Rule, load_policy, parse_allow_option, parse_threshold_option

    policy = load_policy(args.policy) if args.policy else Policy()
    if args.confidence is not None:
        if not 0.5 < args.confidence < 1.0:
            raise GateInputError(f"--confidence must be between 0.5 and 1 (e.g. 0.90), got {args.confidence}")
        policy = replace(policy, confidence=args.confidence)
    rules = []
    for text in args.threshold:
        pattern, value = parse_threshold_option(text)
        if pattern is None:
            policy = replace(policy, threshold=value)
        else:
            rules.append(Rule(pattern=pattern, threshold=value))
    rules += [parse_allow_option(text) for text in args.allow]
    return policy.with_rules(*rules)


def _gate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hotpath.gate.decision import run_gate
    from hotpath.gate.readers import load_many
    from hotpath.gate.render import json_report, junit, markdown, terminal
    from hotpath.gate.render.units import headline

    policy = build_policy(args)
    baseline = load_many(args.baseline, role="baseline")
    current = load_many(args.current, role="current")
    report = run_gate(baseline, current, policy)

    to_stdout = "-" in (args.markdown, args.json_out)
    if args.markdown:
        _write(args.markdown, markdown.render(report))
    if args.json_out:
        _write(args.json_out, json_report.render(report))
    if args.junit:
        _write(args.junit, junit.render(report))
    # When a document goes to stdout the table goes to stderr, so `> comment.md` stays clean.
    console = Console(stderr=to_stdout, highlight=False)
    if args.quiet:
        console.print(headline(report), markup=False)
    else:
        terminal.render(report, console, verbose=args.explain)
    return report.exit_code


def _measure(args: argparse.Namespace) -> int:
    from hotpath.gate import measure
    from hotpath.gate.readers import hotpath_json, load_results

    if not args.instructions:
        raise GateInputError(
            "say what to measure: `hotpath measure --instructions -- CMD` (instruction counts); "
            "for timings use pyperf or pytest-benchmark"
        )
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    name = args.name or " ".join(command)
    # Check the file to append to before spending minutes under valgrind.
    existing: list[Any] = []
    commands: dict[str, list[str]] = {}
    if args.append and args.output != "-" and os.path.exists(args.output):
        previous = load_results(args.output, role="output")
        if previous.format != hotpath_json.SCHEMA:
            raise GateInputError(
                f"--append adds to {hotpath_json.SCHEMA} files, but {args.output!r} is {previous.format} "
                "output; write to a new file"
            )
        existing = [b for b in previous.benchmarks.values() if b.name != name]
        with open(args.output, encoding="utf-8") as fh:
            commands = dict((json.load(fh).get("metadata") or {}).get("commands") or {})
    result = measure.measure_instructions(command, repeat=args.repeat, trace_children=args.trace_children,
                                          timeout=args.timeout)
    log.info("measured %r: %s instructions in %.1f s", name, result.counts, result.seconds)
    benchmarks = [*existing, result.as_samples(name)]
    commands[name] = command
    metadata = {"tool": "hotpath measure --instructions", "valgrind": measure.valgrind_path(),
                "repeat": args.repeat, "commands": commands}
    if args.output == "-":
        sys.stdout.write(json.dumps(hotpath_json.to_document(benchmarks, metadata), indent=1) + "\n")
    else:
        try:
            hotpath_json.dump(args.output, benchmarks, metadata)
        except OSError as exc:
            raise GateInputError(f"cannot write {args.output!r} ({exc.strerror}); pick a writable path") from None
        spread = (max(result.counts) - min(result.counts)) / max(1, min(result.counts))
        print(f"{name}: {min(result.counts):,} instructions (spread {spread:.3%} over {args.repeat} runs) -> {args.output}",
              file=sys.stderr)
    return EXIT_OK


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise GateInputError(f"cannot write {path!r} ({exc.strerror}); pick a writable path") from None


def _error(command: str, message: str) -> None:
    print(f"hotpath {command}: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m hotpath.gate``), with the same subcommands as ``hotpath``."""
    parser = argparse.ArgumentParser(prog="python -m hotpath.gate", description="hotpath's CI performance gate")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(subparsers)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return EXIT_INPUT_ERROR
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
