"""What ``hotpath optimize`` learnt about a whole program, for ``hotpath run`` to decide with.

Installing a stored winner is not free: ``hotpath run`` then imports the backend (Numba pulls in
LLVM and SciPy: about a second here) and loads the variant. On a short program that costs more
than the variant saves. So ``hotpath optimize`` records, per program, how long its capture run
took, how often each tuned function was called with each signature, the original's time per
call and the winner's speedup; and the cost of loading the winners, measured in a fresh
interpreter exactly as ``hotpath run`` loads them (first call through ``hotpath.optimize``).
``hotpath run`` installs a backend's winners only when their expected saving over the run,
``calls x original time x (1 - 1/speedup)`` summed, exceeds that measured cost.

The counts are those of the run ``hotpath optimize`` made (its arguments); a program run on much
smaller inputs may be judged too generously.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hotpath.statedir import StateDir

log = logging.getLogger(__name__)

SCHEMA = "hotpath.program/1"


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
        """Expected time saved over a run like the recorded one."""
        return sum(s.calls * s.original_s * (1.0 - 1.0 / s.speedup) for s in self.signatures.values()
                   if s.original_s is not None and s.speedup)


@dataclass(frozen=True)
class ProgramRun:
    """The recorded run of one script."""

    script: str
    total_s: float
    functions: dict[str, FunctionRun] = field(default_factory=dict)

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
        return cls(data["script"], data["total_s"], functions)


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


def write(state_dir: Path, run: ProgramRun) -> Path:
    path = record_path(state_dir, run.script)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run.to_json())
    return path


def measure_load(captures: dict[str, Path], timeout_s: float = 120.0) -> dict[str, float]:
    """Per function, the seconds its wrapping by ``hotpath.optimize`` and first call take in a fresh
    interpreter, as ``hotpath run`` pays them: importing hotpath's dispatch and the backend (paid
    by the first one; ``import hotpath`` itself loads nothing), identifying it and loading the
    stored winner."""
    if not captures:
        return {}
    cmd = [sys.executable, "-m", "hotpath.profiles.programs", *(f"{name}={path}" for name, path in captures.items())]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        return {name: float(value) for name, value in json.loads(done.stdout.splitlines()[-1]).items()}
    except Exception:
        log.warning("measuring the cost of loading the stored winners failed; `hotpath run` will install them "
                    "without a cost check", exc_info=True)
        return {}


def _measure(pairs: list[str]) -> dict[str, float]:
    import hotpath
    from hotpath.profiles.benchrun import defined_function, load

    costs: dict[str, float] = {}
    for pair in pairs:
        name, _, path = pair.partition("=")
        record = load(Path(path))
        fn = defined_function(record)
        start = time.perf_counter()  # before optimize(): `hotpath run` imports dispatch only to load a winner
        wrapped = hotpath.optimize(fn, background=False)
        wrapped(*record["args"])
        costs[name] = time.perf_counter() - start
    return costs


if __name__ == "__main__":
    print(json.dumps(_measure(sys.argv[1:])))
