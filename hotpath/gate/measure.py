"""Instruction counts under valgrind's callgrind: a measurement that ignores the neighbours.

Time on a shared machine moves 10-30 % with whatever else runs; the number of instructions a
program executes does not. Counts are not times (a cache-hostile change can slow code without
adding instructions), so this complements timing; docs/gate.md says when to use which.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hotpath.gate.errors import GateInputError
from hotpath.gate.model import UNIT_INSTRUCTIONS, BenchmarkSamples

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstructionCount:
    """Instructions (callgrind's ``Ir``) of each repetition of one command."""

    command: tuple[str, ...]
    counts: tuple[int, ...]
    seconds: float  # wall time of all repetitions under valgrind, for the log

    def as_samples(self, name: str) -> BenchmarkSamples:
        """The counts as a benchmark the gate can compare."""
        return BenchmarkSamples(name=name, unit=UNIT_INSTRUCTIONS, values=tuple(float(c) for c in self.counts))


def valgrind_path(valgrind: str = "valgrind") -> str | None:
    """The valgrind executable, or ``None`` when it is not installed."""
    return shutil.which(valgrind)


def measure_instructions(
    command: Sequence[str],
    *,
    repeat: int = 3,
    trace_children: bool = False,
    valgrind: str = "valgrind",
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> InstructionCount:
    """Run ``command`` ``repeat`` times under callgrind and return its instruction counts.

    ``PYTHONHASHSEED`` is pinned to 0 unless the caller's environment sets it, because string
    hashing changes dict and set layouts and with them the count of a Python program.
    Raises :class:`GateInputError` when valgrind is missing or the command fails.
    """
    if not command:
        raise GateInputError("nothing to measure: give the command after `--`, e.g. hotpath measure --instructions -- ./bench")
    if repeat < 2:
        raise GateInputError("--repeat must be at least 2 so the gate can see the spread of the counts")
    exe = valgrind_path(valgrind)
    if exe is None:
        raise GateInputError(
            f"{valgrind!r} is not installed; install valgrind (e.g. apt-get install valgrind) or "
            "compare timings from pyperf / pytest-benchmark instead"
        )
    run_env = dict(os.environ if env is None else env)
    run_env.setdefault("PYTHONHASHSEED", "0")
    counts = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hotpath-callgrind-") as tmp:
        for i in range(repeat):
            out_pattern = os.path.join(tmp, f"run{i}.%p.out")
            argv = [
                exe, "--tool=callgrind", f"--callgrind-out-file={out_pattern}",
                f"--trace-children={'yes' if trace_children else 'no'}", "--quiet", *command,
            ]
            log.debug("running %s", argv)
            try:
                proc = subprocess.run(argv, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True, timeout=timeout)
            except FileNotFoundError as exc:
                raise GateInputError(f"cannot run {command[0]!r} under valgrind ({exc}); check the command") from None
            except subprocess.TimeoutExpired:
                raise GateInputError(f"{' '.join(command)!r} ran past {timeout:.0f} s under valgrind; measure a smaller workload") from None
            if proc.returncode != 0:
                tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
                raise GateInputError(
                    f"{' '.join(command)!r} exited with status {proc.returncode} under valgrind "
                    f"({tail[0]}); make it succeed on its own first"
                )
            files = sorted(glob.glob(os.path.join(tmp, f"run{i}.*.out")))
            if not files:
                raise GateInputError("callgrind wrote no output; check that valgrind works on this machine (valgrind --version)")
            counts.append(sum(read_total_instructions(f) for f in files))
    return InstructionCount(command=tuple(command), counts=tuple(counts), seconds=time.monotonic() - started)


def read_total_instructions(path: str) -> int:
    """The total ``Ir`` of one callgrind output file (its ``summary:`` or ``totals:`` line)."""
    events: list[str] = []
    total: int | None = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("events:"):
                events = line.split(":", 1)[1].split()
            elif line.startswith(("summary:", "totals:")):
                numbers = line.split(":", 1)[1].split()
                index = events.index("Ir") if "Ir" in events else 0
                total = int(numbers[index])
    if total is None:
        raise GateInputError(f"callgrind output {path!r} has no instruction total; is valgrind's callgrind working?")
    return total
