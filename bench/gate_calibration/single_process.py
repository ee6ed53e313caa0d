"""False alarms of the gate on single-process data (a pytest-benchmark session), old rule and new.

A pytest-benchmark session is one process: its samples show the drift within that process but
not how much the next process would differ, and on the calibration VM that difference is the
largest noise there is. This script measures it from the committed calibration data and counts
how often the gate flags identical code judged on one process a side:

* ``spread``: the SD of the log of uncontended processes' levels (per-process p10, within the
  fast cluster of each run) over every run in ``runs.json.gz``: the default ``process_spread``.
* ``simulated``: identical code, each side one "session" of ``--rounds`` samples whose within-
  process pattern is taken from real processes (their values divided by their level, so the
  bursts are real) and whose process offset is drawn from the real uncontended offsets. Judged
  with ``process_spread=0`` (the rule before: no between-process variance) and the default.
* ``real pairs``: one real pyperf process of A against the same-numbered one of A' (unchanged
  code, interleaved chunks); on this VM a 50-ms process can land wholly in a contended moment,
  which a ~1 s pytest session rarely does, so this is the harsher case.

    python bench/gate_calibration/single_process.py --trials 1000

Every verdict comes from :func:`hotpath.gate.decision.compare_benchmark`, as ``hotpath gate``'s.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent)]

from archive import load_archive  # noqa: E402

from hotpath.gate.decision import compare_benchmark  # noqa: E402
from hotpath.gate.model import BenchmarkSamples  # noqa: E402
from hotpath.gate.policy import Policy  # noqa: E402


def processes(bench: BenchmarkSamples) -> list[np.ndarray]:
    """A run's values, one array per worker process."""
    values, groups = np.asarray(bench.values), np.asarray(bench.groups)
    return [values[groups == g] for g in np.unique(groups)]


def offsets_and_patterns(rounds: dict) -> tuple[np.ndarray, list[np.ndarray]]:
    """Log offsets of uncontended processes from their run's fast cluster, and every process's
    values divided by its level (its within-process pattern)."""
    offsets, patterns = [], []
    for runs in rounds.values():
        for bench in runs.values():
            procs = processes(bench)
            levels = np.array([np.quantile(p, 0.10) for p in procs])
            fast = levels <= levels.min() * 1.30  # the estimator's fast cluster
            logs = np.log(levels[fast])
            offsets.extend(logs - logs.mean())
            patterns.extend(p / level for p, level in zip(procs, levels))
    return np.array(offsets), patterns


def session(rng: np.random.Generator, offsets: np.ndarray, patterns: list[np.ndarray], rounds: int) -> tuple[float, ...]:
    """One simulated single-process session of identical code (1 ms a call)."""
    parts, total = [], 0
    while total < rounds:
        part = patterns[rng.integers(len(patterns))]
        parts.append(part)
        total += len(part)
    return tuple(1e-3 * np.exp(rng.choice(offsets)) * np.concatenate(parts)[:rounds])


def rates(pairs: list[tuple[tuple[float, ...], tuple[float, ...]]], policy: Policy, slowdown: float = 1.0) -> dict:
    """How many pairs the gate calls slower (and faster)."""
    slower = faster = 0
    for base, cur in pairs:
        c = compare_benchmark(BenchmarkSamples("s", "s", base),
                              BenchmarkSamples("s", "s", tuple(v * slowdown for v in cur)), policy)
        slower += c.verdict.value == "slower"
        faster += c.verdict.value == "faster"
    return {"pairs": len(pairs), "slower": slower, "faster": faster, "slower_rate": slower / len(pairs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=HERE / "runs.json.gz")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=200, help="samples per simulated session")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "single_process.json")
    args = parser.parse_args()

    rounds, _ = load_archive(args.archive)
    offsets, patterns = offsets_and_patterns(rounds)
    rng = np.random.default_rng(args.seed)
    simulated = [(session(rng, offsets, patterns, args.rounds), session(rng, offsets, patterns, args.rounds))
                 for _ in range(args.trials)]
    real = [(tuple(a), tuple(b)) for runs in rounds.values()
            for a, b in zip(processes(runs["A"]), processes(runs["A2"]))]
    real = [real[i] for i in rng.choice(len(real), min(args.trials, len(real)), replace=False)]
    new, old = Policy(), replace(Policy(), process_spread=0.0)
    result = {
        "spread": float(np.std(offsets)),
        "offsets": len(offsets),
        "simulated": {"old": rates(simulated, old), "new": rates(simulated, new),
                      "new, 10% slower": rates(simulated, new, 1.10), "new, 25% slower": rates(simulated, new, 1.25)},
        "real pairs": {"old": rates(real, old), "new": rates(real, new)},
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
