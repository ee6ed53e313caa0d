"""What every benchmark script shares: rows, tables, the geometric mean, options, paired timing.

One place for each, so the scripts differ only in what they measure:

* :func:`tune_row` / :func:`trial_row`: a ``TuneResult`` (and its trials) as a JSON-ready dict;
* :func:`table`: a Markdown table; :func:`geomean`: the geometric mean (no winner = 1x is the
  caller's choice, made by what it passes);
* :func:`parser`: the argparse block with the common options (kernel names, ``--size``,
  ``--backends``, ``--timing-budget``, ``--budget``, ``--out``, ``--repeats``, ``--json``), each
  script adding its own on top; :func:`tuning_line`: the median tuning time per function;
* :func:`time_paired`: original and optimized callable timed in interleaved pairs on fresh
  copies of the arguments (what ``--json`` records and :mod:`bench.delivered` reports);
* :func:`write_json` / :func:`read_json`: results in the ``hotpath.bench/1`` schema the gate
  reads, so two runs of any script compare with ``hotpath gate OLD.json NEW.json``.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotpath.gate.model import BenchmarkSamples, ResultSet
from hotpath.gate.readers import hotpath_json, load_results

if TYPE_CHECKING:
    from hotpath.runner.trials import Trial

RESULTS = Path(__file__).parent / "results"
SCHEMA = hotpath_json.SCHEMA
#: Trial statuses of a variant that agreed with the original and was timed.
TIMED = ("won", "correct")


# --- rows -----------------------------------------------------------------------------------

def status(trial: Any) -> str:
    """A trial's status as its plain string, whether the record holds a string or an enum."""
    value = trial.status
    return str(getattr(value, "value", value))


def trial_row(trial: Trial) -> dict[str, Any]:
    """One trial as a JSON-ready dict: every field any bench table reads.

    A view of the trial's own record (``Trial.to_json``, without the candidate's source), in the
    flat shape the results files have always had: milliseconds, the interval as ``ci``, the
    reason's first line.
    """
    record = trial.to_json(candidate=False)
    timing = record["timing"]
    return {
        "backend": record["backend"],
        "name": record["name"],
        "status": record["status"],
        "reason": record["reason"].splitlines()[0] if record["reason"] else "",
        "speedup": None if timing is None else timing["speedup"],
        "ci": None if timing is None else [timing["ci_low"], timing["ci_high"]],
        "original_ms": None if timing is None else timing["original_s"] * 1e3,
        "candidate_ms": None if timing is None else timing["candidate_s"] * 1e3,
        "parts": {} if timing is None else dict(timing["parts"]),
        "compile_s": record["compile_s"],
        "ran_on": record["ran_on"],
    }


def tune_row(result: Any, name: str, tune_s: float, **extra: Any) -> dict[str, Any]:
    """One tuning run as a JSON-ready dict; ``speedup`` is 1.0 without a winner (counted as 1x)."""
    won = next((t for t in result.trials if status(t) == "won"), None)
    return {
        "name": name,
        **extra,
        "signature": str(result.signature),
        "baseline_ms": None if result.baseline_s is None else result.baseline_s * 1e3,
        "winner": won.name if won else None,
        "winner_backend": won.backend if won else None,
        "speedup": won.timing.speedup if won else 1.0,
        "ci": [won.timing.ci_low, won.timing.ci_high] if won else None,
        "reason": result.reason,
        "tune_s": tune_s,
        "trials": [trial_row(t) for t in result.trials],
    }


def tune(fn: Callable[..., Any], args: tuple[Any, ...], config: Any, name: str,
         **extra: Any) -> tuple[dict[str, Any], Any]:
    """Tune ``fn`` on ``args`` with ``config``; its row and the ``TuneResult``."""
    import hotpath

    started = time.perf_counter()
    result = hotpath.tune(fn, *args, config=config)
    return tune_row(result, name, time.perf_counter() - started, **extra), result


# --- tables and summaries -------------------------------------------------------------------

def geomean(values: Iterable[float]) -> float:
    """Geometric mean; NaN for no values (a table says "nan" rather than inventing 1x)."""
    logs = [math.log(v) for v in values]
    return math.exp(sum(logs) / len(logs)) if logs else float("nan")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> list[str]:
    """A Markdown table as lines; ``align`` has one ``l`` or ``r`` per column (default ``l``)."""
    align = align.ljust(len(headers), "l")
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def machine(*extra: str) -> str:
    """``x86_64, 2 cores, Python 3.x`` plus ``extra`` (library versions), for a results header."""
    return ", ".join([platform.machine(), f"{os.cpu_count()} cores", f"Python {platform.python_version()}",
                      *extra])


# --- options --------------------------------------------------------------------------------

def parser(doc: str | None, *, names: str | None = "kernels to run (default: all)",
           size: str | None = None, sizes: Sequence[str] = (), backends: str | None = None,
           timing_budget: float | None = None, out: Path | None = None, repeats: int | None = None,
           json_out: bool = True, budget: str | None = None) -> argparse.ArgumentParser:
    """The argparse block every script starts from; a ``None`` default leaves that option out.

    ``out`` is an output stem (``.md`` and the script's own ``.json`` are written next to it);
    ``--json PATH`` additionally writes ``hotpath.bench/1`` samples for ``hotpath gate``.
    """
    first = (doc or "").strip().splitlines()[0] if doc else None
    p = argparse.ArgumentParser(description=first)
    if names is not None:
        p.add_argument("names", nargs="*", help=names)
    if size is not None:
        p.add_argument("--size", choices=tuple(sizes) or None, default=size, help="input size")
    if backends is not None:
        p.add_argument("--backends", default=backends, help="comma-separated backends to tune with")
    if timing_budget is not None:
        p.add_argument("--timing-budget", type=float, default=timing_budget,
                       help="seconds of timing per candidate")
    if budget is not None:
        p.add_argument("--budget", default=budget, metavar="SECONDS",
                       help="tuning budget of each kernel's run: seconds, 'none' (no limit) or 'default' "
                            f"(hotpath's, Config.budget_s); default {budget!r}")
    if out is not None:
        p.add_argument("--out", type=Path, default=out, help="output stem (.md/.json)")
    if repeats is not None:
        p.add_argument("--repeats", type=int, default=repeats,
                       help="paired samples per measurement (what --json records)")
    if json_out:
        p.add_argument("--json", type=Path, default=None, metavar="PATH",
                       help="also write samples as hotpath.bench/1, comparable with `hotpath gate`")
    return p


def backends_of(text: str) -> tuple[str, ...]:
    """``"numba,cython"`` -> ``("numba", "cython")``."""
    return tuple(b.strip() for b in text.split(",") if b.strip())


def budget_option(text: str) -> dict[str, Any]:
    """``--budget`` as ``Config`` keywords: ``{}`` for hotpath's default, else ``budget_s``."""
    text = text.strip().lower()
    if text == "default":
        return {}
    return {"budget_s": None if text == "none" else float(text)}


#: The start of the reason of a trial the tuning budget stopped or never started.
BUDGET_REASONS = ("not tried: the tuning budget", "not finished: the tuning budget")


def tuning_line(rows: Sequence[Mapping[str, Any]], budget_s: float | None) -> str:
    """One summary line: the median and the longest tuning time per function, under what budget,
    and how many runs the budget cut short (a kernel's row: ``tune_s`` and its ``trials``)."""
    if not rows:
        return "- tuning time per function: no kernels"
    times = [r["tune_s"] for r in rows]
    cut = sum(1 for r in rows if any(t["reason"].startswith(BUDGET_REASONS) for t in r["trials"]))
    limit = "no budget" if budget_s is None else f"budget {budget_s:g} s per run"
    return (f"- tuning time per function: median **{statistics.median(times):.1f} s**, longest "
            f"{max(times):.1f} s ({limit}; {cut} of {len(rows)} runs stopped by it)")


def select(kernels: Iterable[Any], names: Sequence[str] = (), style: str = "all") -> list[Any]:
    """The kernels named, in the order named (all, in their own order, when none are), of
    ``style`` (``"all"`` for every style)."""
    chosen = [k for k in kernels if (not names or k.name in names) and (style == "all" or k.style == style)]
    return sorted(chosen, key=lambda k: list(names).index(k.name)) if names else chosen


# --- paired timing --------------------------------------------------------------------------

@dataclass(frozen=True)
class Paired:
    """Seconds per call of two callables, one sample of each per round (same round = a pair)."""

    original: tuple[float, ...]
    optimized: tuple[float, ...]
    loops: int  # calls per sample

    @property
    def ratios(self) -> list[float]:
        """Per-round original / optimized: above 1 means the optimized callable was faster."""
        return [a / b for a, b in zip(self.original, self.optimized)]

    @property
    def speedup(self) -> float:
        """Median of the per-round ratios."""
        return statistics.median(self.ratios)

    @property
    def mean_speedup(self) -> float:
        """Total original time over total optimized time: what the calls cost together."""
        return sum(self.original) / sum(self.optimized)

    def interval(self) -> tuple[float, float]:
        """Distribution-free 95% interval of the median ratio."""
        from hotpath.runner.timing import median_interval

        return median_interval(self.ratios)


def _fresh(args: tuple[Any, ...], count: int) -> list[tuple[Any, ...]]:
    # Every call gets its own copy: an in-place kernel would otherwise time a different input
    # on each call, and both sides pay the same copying outside the timer.
    return [copy.deepcopy(args) for _ in range(count)]


def _sample(fn: Callable[..., Any], args: tuple[Any, ...], loops: int) -> float:
    calls = _fresh(args, loops)
    start = time.perf_counter()
    for call in calls:
        fn(*call)
    return (time.perf_counter() - start) / loops


def time_paired(original: Callable[..., Any], optimized: Callable[..., Any], args: tuple[Any, ...],
                repeats: int = 21, min_sample_s: float = 0.002, seed: int = 0,
                warmup_calls: int = 32, warmup_s: float = 0.3) -> Paired:
    """Time ``original`` and ``optimized`` on copies of ``args``: ``repeats`` rounds, the two in a
    shuffled order within each round, each sample long enough (``min_sample_s``) to be read
    above the timer's resolution.

    Both are first called ``warmup_calls`` times and for at least ``warmup_s``: past first-call
    compilation, and past a fresh install's probation (every call shadow-verified), so the
    samples show the steady state a long-running caller sees, sampled watch calls included.
    """
    for fn in (original, optimized):
        deadline = time.perf_counter() + warmup_s
        for position in range(10**6):
            if position >= warmup_calls and time.perf_counter() > deadline:
                break
            _sample(fn, args, 1)
    once = _sample(original, args, 1)
    loops = max(1, min(1000, math.ceil(min_sample_s / max(once, 1e-9))))
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {"original": [], "optimized": []}
    arms = {"original": original, "optimized": optimized}
    for _ in range(repeats):
        order = list(arms)
        rng.shuffle(order)
        for arm in order:
            samples[arm].append(_sample(arms[arm], args, loops))
    return Paired(tuple(samples["original"]), tuple(samples["optimized"]), loops)


# --- hotpath.bench/1 ------------------------------------------------------------------------

def samples(name: str, values: Iterable[float], unit: str = "s",
            groups: Iterable[int] | None = None) -> BenchmarkSamples:
    """One benchmark's samples under a name unique in the file (the gate matches on it)."""
    return BenchmarkSamples(name=name, unit=unit, values=tuple(float(v) for v in values),
                            groups=None if groups is None else tuple(groups))


def paired_samples(name: str, paired: Paired) -> list[BenchmarkSamples]:
    """``name`` (the optimized callable, as a caller runs it) and ``name [original]``: the gate
    then flags an optimized kernel that got slower, and the original shows the machine's drift."""
    return [samples(name, paired.optimized), samples(f"{name} [original]", paired.original)]


def write_json(path: str | os.PathLike[str], benchmarks: Iterable[BenchmarkSamples],
               metadata: Mapping[str, Any] | None = None) -> None:
    """Write ``benchmarks`` as ``hotpath.bench/1`` (with the machine in the metadata)."""
    meta = {"machine": machine(), "load_average": os.getloadavg()[0], **(metadata or {})}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    hotpath_json.dump(path, list(benchmarks), meta)


def read_json(path: str | os.PathLike[str]) -> ResultSet:
    """Read a results file back exactly as ``hotpath gate`` does."""
    return load_results(path)


def state_home(prefix: str) -> Path:
    """``$HOTPATH_HOME``, set to a fresh temporary folder unless the caller chose one."""
    import tempfile

    return Path(os.environ.setdefault("HOTPATH_HOME", tempfile.mkdtemp(prefix=prefix)))


def measure(options: argparse.Namespace, bucket: list[BenchmarkSamples], name: str,
            original: Callable[..., Any], optimized: Callable[..., Any], args: tuple[Any, ...]) -> Paired | None:
    """When ``--json`` was asked for, time ``optimized`` against ``original`` (``--repeats`` pairs)
    and keep the samples in ``bucket``; otherwise nothing (tuning runs stay as long as before)."""
    if getattr(options, "json", None) is None:
        return None
    paired = time_paired(original, optimized, args, repeats=getattr(options, "repeats", None) or 21)
    bucket.extend(paired_samples(name, paired))
    return paired


def finish(options: argparse.Namespace, bucket: list[BenchmarkSamples], script: str) -> None:
    """Write ``bucket`` to ``--json`` when one was given (and there is something to write)."""
    if getattr(options, "json", None) is not None and bucket:
        write_json(options.json, bucket, {"script": script, "options": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()}})
