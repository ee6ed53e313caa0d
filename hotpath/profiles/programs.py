"""What ``hotpath optimize`` learnt about a whole program, for ``hotpath run`` to decide with.

Installing a stored winner is not free: ``hotpath run`` then imports the backend (Numba pulls in
LLVM, SciPy's BLAS bindings and its lowering registries: about a second here) and loads the
variant. On a short program that costs more than the variant saves. So ``hotpath optimize``
records, per program, its arguments, how long its capture run took, how often each tuned
function was called with each signature, the original's time per call and the winner's speedup;
and the cost of loading the winners, measured as the difference between two fresh interpreters
(``measure_load``): one that calls the original once, one that wraps it with ``hotpath.optimize``
and calls that, as ``hotpath run`` does; start-up, imports, the load and interpreter exit all in.

The saving counts what a warm install really serves: its first :data:`PROBATION_CALLS` calls run
the original as well (shadow verification), and later samples thin out by doubling the period, so
a function called 25 times saves on about 7 of them (``shadowed_calls``).

The counts are those of the run ``hotpath optimize`` made (its arguments); a program run on much
smaller inputs may be judged too generously.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from hotpath.statedir import StateDir

log = logging.getLogger(__name__)

SCHEMA = "hotpath.program/1"
#: ``hotpath.watch.PROBATION_CALLS`` (a test keeps them equal): not imported, since that module
#: brings NumPy and the runner into ``hotpath run``'s start-up.
PROBATION_CALLS = 16


def shadowed_calls(calls: int, probation: int = PROBATION_CALLS) -> int:
    """How many of ``calls`` calls to a fresh install also run the original: every call of the
    probation, then one sample per period, the period doubling from 2 (``hotpath.watch``; its
    ceiling and the jitter are left out, which counts fewer samples, never more than the watch
    will take, so the saving is not understated by this)."""
    checked = min(calls, probation)
    at, period = probation, 2
    while at + period <= calls:
        at += period
        checked += 1
        period *= 2
    return checked


@dataclass(frozen=True)
class SignatureRun:
    """One signature of a tuned function during the recorded run."""

    calls: int
    original_s: float | None  # the original's time per call, as tuning measured it
    speedup: float | None  # the stored winner's; None without a winner


@dataclass(frozen=True)
class FunctionRun:
    """A tuned function: its signatures, its winners' backend and their measured load cost."""

    signatures: dict[str, SignatureRun]
    backend: str | None = None
    load_s: float | None = None  # first call through hotpath.optimize in a fresh interpreter

    @property
    def saving_s(self) -> float:
        """Expected time saved over a run like the recorded one: the calls the install serves
        alone save the original's time, and every call pays the variant's
        (``(calls - shadowed) x original - calls x original / speedup``; negative for a function
        called little more than its probation)."""
        return sum((s.calls - shadowed_calls(s.calls)) * s.original_s - s.calls * s.original_s / s.speedup
                   for s in self.signatures.values() if s.original_s is not None and s.speedup)

    @property
    def original_total_s(self) -> float:
        """Time the recorded run spent in the original, all signatures."""
        return sum(s.calls * s.original_s for s in self.signatures.values() if s.original_s is not None)


@dataclass(frozen=True)
class ProgramRun:
    """The recorded run of one script."""

    script: str
    total_s: float
    functions: dict[str, FunctionRun] = field(default_factory=dict)
    args: tuple[str, ...] | None = None  # the program's arguments in that run (None: not recorded)
    script_sha256: str | None = None  # the script's text then (``write`` fills it in)

    def to_json(self) -> str:
        return json.dumps({"schema": SCHEMA, **asdict(self)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> ProgramRun:
        data = json.loads(text)
        if data.pop("schema", None) != SCHEMA:
            raise ValueError("not a hotpath program record")
        functions = {name: FunctionRun({sig: SignatureRun(**s) for sig, s in f["signatures"].items()},
                                       f.get("backend"), f.get("load_s"))
                     for name, f in data["functions"].items()}
        args = data.get("args")
        return cls(data["script"], data["total_s"], functions, None if args is None else tuple(args),
                   data.get("script_sha256"))


def record_path(state_dir: Path, script: str) -> Path:
    """Where the record of ``script`` (by its resolved path) lives."""
    digest = hashlib.sha256(str(Path(script).resolve()).encode()).hexdigest()[:12]
    return StateDir(state_dir).profiles / f"program-{digest}.json"


def read(state_dir: Path, script: str) -> ProgramRun | None:
    """The record of ``script``, or ``None`` (never recorded, or unreadable: logged)."""
    path = record_path(state_dir, script)
    if not path.is_file():
        return None
    try:
        return ProgramRun.from_json(path.read_text())
    except Exception:
        log.warning("the program record %s cannot be read; stored winners are installed without a cost check", path)
        return None


def script_digest(script: str) -> str | None:
    """SHA-256 of the script's text, ``None`` when it cannot be read."""
    try:
        return hashlib.sha256(Path(script).read_bytes()).hexdigest()
    except OSError:
        return None


def write(state_dir: Path, run: ProgramRun) -> Path:
    """Store ``run`` as the record of its script, with the script's digest as it is now."""
    if run.script_sha256 is None:
        run = replace(run, script_sha256=script_digest(run.script))
    path = record_path(state_dir, run.script)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run.to_json())
    return path


def backend_groups(run: ProgramRun, names: set[str] | None = None) -> dict[str, list[tuple[str, FunctionRun]]]:
    """The recorded functions with a winner and a measured load cost (of ``names``, ``module:qualname``,
    when given), by backend: a backend's import is paid once, so its winners are weighed together."""
    groups: dict[str, list[tuple[str, FunctionRun]]] = {}
    for name, function in sorted(run.functions.items()):
        if (names is None or name in names) and function.backend is not None and function.load_s is not None:
            groups.setdefault(function.backend, []).append((name, function))
    return groups


def active_names(state_dir: Path) -> set[str] | None:
    """``module:qualname`` of every active install in the store, for any environment (a superset
    of what ``hotpath run`` installs here); ``None`` when it cannot be read. A read-only query with
    ``sqlite3`` alone: ``hotpath.store`` and its imports cost ``hotpath run``'s front more than
    this whole check."""
    import sqlite3

    db = StateDir(state_dir).store_db
    if not db.is_file():
        return set()
    try:
        connection = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = connection.execute("SELECT f.module, f.qualname FROM installs i JOIN functions f"
                                      " ON f.id = i.function_id WHERE i.active = 1").fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        log.debug("the store %s cannot be read here", db, exc_info=True)
        return None
    return {f"{module}:{qualname}" for module, qualname in rows}


def nothing_to_load(state_dir: Path, script: str, args: Sequence[str]) -> str | None:
    """Why ``hotpath run SCRIPT ARGS`` would load no stored winner at all, or ``None``.

    True of a run of the script as it was recorded (same text, same arguments) where every active
    winner in the store has a recorded cost, and every backend's winners save less than loading
    them costs (so they would only ever be loaded after that much time in the originals, which a
    run like the recorded one never spends). Such a run is the plain program, and ``hotpath run``
    can hand over to ``python`` without its own start-up.
    """
    run = read(state_dir, script)
    if run is None or run.args is None or tuple(run.args) != tuple(args):
        return None
    if run.script_sha256 is None or run.script_sha256 != script_digest(script):
        return None  # the program changed since: its calls may not be the recorded ones
    # The record names a script's functions __main__:name; the store, by the script's path (older
    # stores by __main__:name too): each recorded function answers to both.
    script_module = str(Path(script).resolve())
    groups = {backend: [(alias, f) for name, f in members
                        for alias in (name, script_module + name[len("__main__"):])[:1 + name.startswith("__main__:")]]
              for backend, members in backend_groups(run).items()}
    weighed = {name for members in groups.values() for name, _ in members}
    active = active_names(state_dir)
    if active is None or not active <= weighed:
        return None  # a winner the record has no cost for would be installed at once
    if not active:
        return f"no active stored winner in {state_dir}"
    reasons = []
    for backend, members in groups.items():
        members = [(name, f) for name, f in members if name in active]
        if not members:
            continue
        saving = sum(f.saving_s for _, f in members)
        cost = sum(f.load_s or 0.0 for _, f in members)
        if saving > cost or any(f.original_total_s >= cost for _, f in members):
            return None
        reasons.append(f"not installing the {backend} winners of {', '.join(n for n, _ in members)}: expected saving "
                       f"{saving:.3f} s over a {run.total_s:.2f} s run <= {cost:.3f} s to load them")
    return "; ".join(reasons) if reasons else None


def measure_load(captures: dict[str, Path], repeats: int = 3, timeout_s: float = 120.0) -> dict[str, float]:
    """Per function, what installing its stored winner costs a fresh ``hotpath run`` process.

    Two fresh interpreters, alternated ``repeats`` times: one calls each captured function once
    as written, the other wraps each with ``hotpath.optimize`` and calls that (importing hotpath's
    dispatch and the backend, identifying the function, loading and compiling the stored winner
    from the backend's cache, and the shadow-verified first call). Each function's cost is the
    median difference of its first calls in the two; what the whole processes differ by beyond
    those (start-up, interpreter exit with the backend loaded) is added to the first function,
    which pays the imports. Measured whole, not estimated: an in-process figure missed half of it.
    """
    if not captures:
        return {}
    import statistics
    import subprocess

    pairs = [f"{name}={path}" for name, path in captures.items()]
    walls: dict[str, list[float]] = {"plain": [], "load": []}
    inner: dict[str, list[dict[str, float]]] = {"plain": [], "load": []}
    try:
        for _ in range(repeats):
            for mode in ("plain", "load"):
                start = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "hotpath.profiles.programs", mode, *pairs],
                                      capture_output=True, text=True, timeout=timeout_s, check=True)
                walls[mode].append(time.perf_counter() - start)
                inner[mode].append({name: float(v) for name, v in json.loads(done.stdout.splitlines()[-1]).items()})
    except Exception:
        log.warning("measuring the cost of loading the stored winners failed; `hotpath run` will install them "
                    "without a cost check", exc_info=True)
        return {}
    costs = {name: max(0.0, statistics.median(r[name] for r in inner["load"])
                       - statistics.median(r[name] for r in inner["plain"])) for name in captures}
    whole = statistics.median(walls["load"]) - statistics.median(walls["plain"])
    first = next(iter(captures))
    costs[first] += max(0.0, whole - sum(costs.values()))
    log.info("loading the stored winners costs a fresh process %.3f s in all (%s)", sum(costs.values()),
             ", ".join(f"{name} {cost:.3f} s" for name, cost in costs.items()))
    return costs


def _first_calls(mode: str, pairs: list[str]) -> dict[str, float]:
    """In this fresh interpreter, each captured function's first call: as written (``plain``), or
    through ``hotpath.optimize`` with its stored winner (``load``)."""
    from hotpath.profiles.benchrun import defined_function, load

    loaded = []
    for pair in pairs:
        name, _, path = pair.partition("=")
        record = load(Path(path))
        loaded.append((name, defined_function(record), record["args"]))
    seconds: dict[str, float] = {}
    for name, fn, args in loaded:
        start = time.perf_counter()
        if mode == "load":
            import hotpath  # the package is cheap; optimize() imports dispatch, the first call the backend

            fn = hotpath.optimize(fn, background=False)
        fn(*args)
        seconds[name] = time.perf_counter() - start
    return seconds


if __name__ == "__main__":
    os.environ.pop("PYTHONINSPECT", None)
    print(json.dumps(_first_calls(sys.argv[1], sys.argv[2:])))
