"""Running a script under Scalene and reading its JSON profile into a ranked ``Profile``.

This is a real Scalene run (``python -m scalene``), not a re-implementation: Scalene samples
the program, splits each line's time into Python, native and system time, and writes JSON.
Per function, the time of the lines inside it is added up (Scalene gives every line the
first and last line of its innermost enclosing function); Scalene's own per-function entries
are used when its line entries carry no such boundaries (older versions). That is each
function's *own* time, without the functions it calls, which is what compiling it changes.

The program's standard output passes through untouched (or goes to ``program_stdout``);
its standard error is forwarded line by line as it comes, less Scalene's closing notice
("Scalene: profile saved to ...").
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hotpath.profiles import bootstrap, launch
from hotpath.profiles.entry import EntryError, Program
from hotpath.profiles.model import FunctionProfile, Profile
from hotpath.syntax import parse_module

log = logging.getLogger(__name__)

# Scalene's closing notice, and its note on a run too short to sample (said in hotpath's own words)
_SCALENE_TRAILER = ("Scalene: profile saved to", "  To view in browser:", "  To view in terminal:",
                    "Scalene: The specified code did not run for long enough",
                    "By default, Scalene only profiles code in the file executed",
                    "To track the time spent in all files, use the `--profile-all` option")


class ProfileError(Exception):
    """The profile could not be taken; the message says why, in words for the user."""


class ProgramFailed(ProfileError):
    """The program itself ended with a non-zero exit status (its own output already shown)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Interrupted(Exception):
    """Ctrl-C stopped the profiled program."""


@dataclass(frozen=True)
class ScaleneRun:
    """How a Scalene run ended: its exit status, its JSON, the tail of its standard error,
    whether the program itself was started and whether Ctrl-C stopped it."""

    returncode: int
    data: dict[str, Any]
    stderr_tail: str
    program_started: bool = True
    interrupted: bool = False  # Ctrl-C


def scalene_version() -> str | None:
    """The installed Scalene's version, or ``None`` when it is not installed."""
    if importlib.util.find_spec("scalene") is None:
        return None
    try:
        return importlib.metadata.version("scalene")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def command(stub: Path, spec: Path, outfile: Path, version: str, program_path: Path) -> list[str]:
    """The Scalene command line for this version: CPU only, JSON to ``outfile``, no browser, the
    program given as ``launch``'s stub (the program's own arguments are in ``spec``, never on
    Scalene's command line) and the files under ``program_path`` profiled."""
    major = int(version.split(".")[0]) if version[:1].isdigit() else 2
    if major >= 2:  # Scalene 2: `scalene run -o FILE prog.py --- args`
        return [sys.executable, "-m", "scalene", "run", "--cpu-only", "--cpu-percent-threshold", "0",
                "--program-path", str(program_path), "-o", str(outfile), str(stub), "---", str(spec)]
    return [sys.executable, "-m", "scalene", "--cli", "--json", "--no-browser", "--cpu-only", "--reduced-profile",
            "--cpu-percent-threshold", "0", "--program-path", str(program_path), "--outfile", str(outfile),
            str(stub), "---", str(spec)]


def _forward(stream: IO[bytes], tail: list[bytes], silenced: Callable[[], bool] = lambda: False) -> None:
    """Copy the child's standard error to ours, keeping a tail for messages; drop Scalene's notice,
    and everything once ``silenced()`` (after Ctrl-C: what follows is Scalene's own traceback).

    Blank lines are held back until the next line shows whether they belong to the notice.
    """
    out = sys.stderr.buffer if hasattr(sys.stderr, "buffer") else None
    held: list[bytes] = []

    def write(data: bytes) -> None:
        if silenced():
            return
        if out is not None:
            out.write(data)
            out.flush()
        else:
            sys.stderr.write(data.decode(errors="replace"))

    for line in iter(stream.readline, b""):
        tail.append(line)
        del tail[:-40]
        if not line.strip():
            held.append(line)
            continue
        if line.decode(errors="replace").startswith(_SCALENE_TRAILER):
            held.clear()
            continue
        write(b"".join(held) + line)
        held.clear()
    if held:
        write(b"".join(held))


def run(program: Program, outfile: Path, program_stdout: IO[Any] | None = None, stdin: Any = None) -> ScaleneRun:
    """Run ``program`` under Scalene; raise ``ProfileError`` when Scalene is missing or the program
    cannot be found. ``stdin``: what the program reads (as for ``subprocess.Popen``)."""
    version = scalene_version()
    if version is None:
        raise ProfileError("Scalene is not installed in this Python; install it with "
                           "`pip install 'hotpath[profile]'` (or `pip install scalene`)")
    try:
        root = program.root()
    except EntryError as exc:
        raise ProfileError(str(exc)) from None
    outfile.unlink(missing_ok=True)
    stub, spec = launch.prepare(program, outfile.parent / "launch")
    cmd = command(stub, spec, outfile, version, root)
    log.info("running %s", " ".join(cmd))
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    tail: list[bytes] = []
    ctrl_c = bootstrap.CtrlC()
    with subprocess.Popen(cmd, stdout=program_stdout, stderr=subprocess.PIPE, stdin=stdin, env=env,
                          start_new_session=True) as process, ctrl_c.forwarding(process.pid):
        assert process.stderr is not None
        _forward(process.stderr, tail, lambda: ctrl_c.requested)
        returncode = process.wait()
    stderr_tail = b"".join(tail).decode(errors="replace")
    try:
        data = json.loads(outfile.read_text()) if outfile.exists() else {}
    except (OSError, ValueError) as exc:
        raise ProfileError(f"Scalene wrote an unreadable profile ({exc})") from None
    return ScaleneRun(returncode, data if isinstance(data, dict) else {}, stderr_tail, launch.started(stub.parent),
                      ctrl_c.requested)


def definitions(path: Path) -> dict[int, str]:
    """First line (``def`` line and first decorator line) -> qualified name, for one source file."""
    try:
        tree = parse_module(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    names: dict[int, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qualname = prefix + child.name
                names[child.lineno] = qualname
                if child.decorator_list:
                    names.setdefault(min(d.lineno for d in child.decorator_list), qualname)
                visit(child, qualname + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return names


def _share(entry: dict[str, Any], key: str) -> float:
    return max(0.0, float(entry.get(key) or 0.0)) / 100.0


def _from_lines(path: Path, lines: list[dict[str, Any]], names: dict[int, str]) -> list[FunctionProfile]:
    totals: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for entry in lines:
        start = int(entry.get("start_function_line") or 0)
        if start in names:
            total = totals[start]
            total[0] += _share(entry, "n_cpu_percent_python")
            total[1] += _share(entry, "n_cpu_percent_c")
            total[2] += _share(entry, "n_sys_percent")
    return [FunctionProfile(str(path), names[start], start, total[0], total[1], total[2])
            for start, total in totals.items()
            if sum(total) > 0]


def _from_functions(path: Path, functions: list[dict[str, Any]], names: dict[int, str]) -> list[FunctionProfile]:
    found = []
    for entry in functions:
        line = int(entry.get("lineno") or 0)
        name = names.get(line) or str(entry.get("line", "?")).strip()
        profile = FunctionProfile(str(path), name, line, _share(entry, "n_cpu_percent_python"),
                                  _share(entry, "n_cpu_percent_c"), _share(entry, "n_sys_percent"))
        if profile.share > 0:
            found.append(profile)
    return found


def parse(data: dict[str, Any], script: str, args: Sequence[str], version: str) -> Profile:
    """Scalene's JSON -> functions ranked by their share of the program's time (hotpath's own
    files left out: they are in the profiled folder when hotpath runs from its own checkout)."""
    functions: list[FunctionProfile] = []
    own = Path(__file__).resolve().parent.parent
    for filename, entry in (data.get("files") or {}).items():
        path = Path(filename)
        if not path.is_absolute():
            path = Path(data.get("entrypoint_dir") or ".") / path
        if path.name == launch.STUB_NAME or path.resolve().is_relative_to(own):
            continue
        names = definitions(path)
        lines = entry.get("lines") or []
        if any("start_function_line" in line for line in lines):
            functions.extend(_from_lines(path, lines, names))
        else:
            functions.extend(_from_functions(path, entry.get("functions") or [], names))
    functions.sort(key=lambda f: (-f.share, f.file, f.line))
    return Profile(str(script), tuple(args), f"scalene {version}", float(data.get("elapsed_time_sec") or 0.0),
                   tuple(functions))


def profile(program: Program, workdir: Path, program_stdout: IO[Any] | None = None, stdin: Any = None) -> Profile:
    """Run the program under Scalene and rank its functions; ``ProfileError`` says what went wrong,
    ``Interrupted`` that Ctrl-C stopped it."""
    workdir.mkdir(parents=True, exist_ok=True)
    outfile = workdir / "scalene-profile.json"
    result = run(program, outfile, program_stdout, stdin)
    if result.interrupted or result.returncode in (130, -signal.SIGINT):
        raise Interrupted()
    if result.returncode != 0:
        if result.program_started:
            raise ProgramFailed(f"{program.label()} failed (exit status {result.returncode}); its own output is "
                                "above, unchanged", result.returncode)
        raise ProfileError(f"Scalene failed (exit status {result.returncode}); its own output is above, unchanged.")
    if not result.data.get("files"):
        hint = " ".join(line.strip() for line in result.stderr_tail.splitlines() if line.startswith("Scalene"))
        raise ProfileError("Scalene recorded no samples in the program's own files"
                           + (f" ({hint})" if hint else "") + "; give it a longer-running input")
    return parse(result.data, program.label(), program.args, scalene_version() or "unknown")
