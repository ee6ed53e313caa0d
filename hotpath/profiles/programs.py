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

import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from hotpath.profiles import costcheck
# The cost check itself, and the arithmetic the records here share with it, are ``costcheck``'s:
# ``hotpath run`` asks it before importing this module (dataclasses, pathlib).
from hotpath.profiles.costcheck import (PROBATION_CALLS, SCHEMA, active_names, nothing_to_load, script_digest,
                                        shadowed_calls, signature_saving)

__all__ = ["PROBATION_CALLS", "SCHEMA", "FunctionRun", "ProgramRun", "SignatureRun", "active_names", "backend_groups",
           "measure_load", "nothing_to_load", "read", "record_path", "script_digest", "shadowed_calls", "write"]

log = logging.getLogger(__name__)


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
        return sum(signature_saving(s.calls, s.original_s, s.speedup) for s in self.signatures.values())

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
    return Path(costcheck.record_path(state_dir, script))


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
