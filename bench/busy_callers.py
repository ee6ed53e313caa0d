"""Time from "became hot" to "installed" with the caller's other threads busy in the original.

    python -m bench.busy_callers [--threads 0,8] [--runs 3] [--profile]

A loop kernel (Numba wins on it by orders of magnitude) decorated with ``@hotpath.optimize`` at
the default settings. Each measurement is a fresh interpreter with a fresh state folder (so the
imports, builds and store are cold, as in a program's first run): ``N`` threads call the
decorated function without pause (the original is pure Python, so they hold the GIL between
switches), then the main thread calls it until it becomes hot. The time is from the "is hot"
log record (the call that queued the tune) to the return of ``fn.wait()`` (the install done);
the table gives the median of ``--runs`` per thread count, alternated, and what the callers got
done meanwhile (calls per second, all threads together).

``--profile`` also times the phases of the tune on the tuner thread (wall seconds from entering
to leaving each stage of ``hotpath.tuning.run``), to show which of them the busy threads slow.

Writes ``bench/results/busy-callers.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import harness

N = 2000
#: Numba alone: Cython builds (~10 s each on two cores) run in the sandbox and would only add the
#: same seconds to both columns.
BACKENDS = ("numba",)


def roughness(x):
    total = 0.0
    for i in range(1, x.shape[0] - 1):
        d = x[i + 1] - 2.0 * x[i] + x[i - 1]
        total += d * d
    return total


#: The stages of ``hotpath.tuning.run`` timed by ``--profile``: module attribute names there.
PHASES = ("extract", "freeze", "derive_cases", "propose_all", "guide", "guide_elsewhere", "speculate",
          "confirm_winner", "remember")


class _HotAt(logging.Handler):
    """Notes when the tune was queued: the dispatcher logs "... is hot ..." on that call."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.at: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.at is None and "is hot" in record.getMessage():
            self.at = time.perf_counter()


def _profiled(phases: dict[str, float]) -> None:
    """Wrap the stages of a tune so that their wall time on the tuner thread adds up in ``phases``."""
    from hotpath import tuning
    from hotpath.model import helper
    from hotpath.runner import confirm, sandbox

    def timed(name: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - start
        return wrapper

    for name in PHASES:
        if hasattr(tuning, name):
            setattr(tuning, name, timed(name, getattr(tuning, name)))
    if hasattr(helper, "guide_elsewhere"):
        helper.guide_elsewhere = timed("guide_elsewhere", helper.guide_elsewhere)
    sandbox.run = timed("sandbox runs", sandbox.run)  # the reference run and every trial's
    confirm.confirm = timed("confirm timing", confirm.confirm)  # confirm_winner less loading the winner


def child(threads: int, profile: bool) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    import numpy as np

    import hotpath

    hot = _HotAt()
    logging.getLogger("hotpath.dispatch").addHandler(hot)
    logging.getLogger("hotpath.dispatch").setLevel(logging.INFO)
    phases: dict[str, float] = {}
    if profile:
        _profiled(phases)
    fn = hotpath.optimize(roughness, backends=BACKENDS)
    x = np.random.default_rng(0).random(N)
    stop = threading.Event()
    calls = [0] * threads

    def busy(k: int) -> None:
        while not stop.is_set():
            fn(x)
            calls[k] += 1

    workers = [threading.Thread(target=busy, args=(k,), daemon=True) for k in range(threads)]
    for w in workers:
        w.start()
    while hot.at is None:
        fn(x)
    counted = sum(calls)
    done = fn.wait(1200)
    installed_at = time.perf_counter()
    during = sum(calls) - counted
    stop.set()
    for w in workers:
        w.join()
    result = next(iter(fn.results.values()), None)
    return {"threads": threads, "seconds": installed_at - hot.at, "finished": done,
            "installed": [c.name for c in fn.installed.values()],
            "reason": None if result is None else result.reason,
            "tune_s": None if result is None else result.duration_s,
            "calls_per_s": during / (installed_at - hot.at), "phases": phases,
            "switch_interval": sys.getswitchinterval()}


def switch_cost(threads: int = 8, rounds: int = 3, seconds: float = 3.0) -> dict[float, list[float]]:
    """Calls per second of ``threads`` busy callers (no tuning) at the default switch interval and
    at the one a tune sets, alternated: what yielding more often costs the callers."""
    import numpy as np

    from hotpath.dispatch import TUNING_SWITCH_INTERVAL_S

    x = np.random.default_rng(0).random(N)
    before = sys.getswitchinterval()
    rates: dict[float, list[float]] = {before: [], TUNING_SWITCH_INTERVAL_S: []}
    try:
        for _ in range(rounds):
            for interval in rates:
                sys.setswitchinterval(interval)
                stop, calls = threading.Event(), [0] * threads

                def busy(k: int) -> None:
                    while not stop.is_set():
                        roughness(x)
                        calls[k] += 1

                workers = [threading.Thread(target=busy, args=(k,)) for k in range(threads)]
                start = time.perf_counter()
                for w in workers:
                    w.start()
                time.sleep(seconds)
                stop.set()
                for w in workers:
                    w.join()
                rates[interval].append(sum(calls) / (time.perf_counter() - start))
    finally:
        sys.setswitchinterval(before)
    return rates


def measure(threads: int, profile: bool) -> dict[str, Any]:
    """``child`` in a fresh interpreter with a fresh state folder."""
    with tempfile.TemporaryDirectory(prefix="hotpath-bench-busy-") as home:
        env = {**os.environ, "HOTPATH_HOME": home}
        cmd = [sys.executable, "-m", "bench.busy_callers", "--child", str(threads)] + (["--profile"] if profile else [])
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent.parent)
        return json.loads(out.stdout.strip().splitlines()[-1])


def render_switch(rates: dict[float, list[float]]) -> list[str]:
    lines = ["", "What yielding costs the callers: 8 threads calling the original, no tuning, 3 s per "
                 "interval, alternated 3 times (calls per second, all threads):", ""]
    rows = [(f"{interval * 1e3:g} ms", f"{statistics.median(r):.0f}", ", ".join(f"{v:.0f}" for v in r))
            for interval, r in rates.items()]
    return lines + harness.table(["switch interval", "median calls/s", "rounds"], rows, "lrr")


def render(rows: list[dict[str, Any]], counts: list[int], runs: int, note: str) -> list[str]:
    lines = ["# Time to install with busy caller threads", "",
             f"Machine: {harness.machine()}{'; ' + note if note else ''}", "",
             f"`{roughness.__name__}` on {N} float64 at the default settings; fresh interpreter and state folder "
             f"per run, median of {runs} (`python -m bench.busy_callers`). Seconds from the call that made "
             "the signature hot to the install; calls/s is what all caller threads did meanwhile.", ""]
    table = []
    idle = None
    for n in counts:
        mine = [r for r in rows if r["threads"] == n]
        median = statistics.median(r["seconds"] for r in mine)
        idle = median if n == 0 else idle
        ratio = f"{median / idle:.2f}x" if idle else "-"
        table.append((n, f"{median:.2f}", ratio, ", ".join(f"{r['seconds']:.1f}" for r in mine),
                      f"{statistics.median(r['calls_per_s'] for r in mine):.0f}",
                      ", ".join(sorted({', '.join(r['installed']) or 'none' for r in mine}))))
    lines += harness.table(["busy threads", "to install (s)", "vs idle", "runs (s)", "calls/s", "installed"],
                           table, "rrrrrl")
    if any(r["phases"] for r in rows):
        names = [p for p in (*PHASES, "sandbox runs", "confirm timing") if any(p in r["phases"] for r in rows)]
        lines += ["", "Wall seconds per stage of `hotpath.tuning.run` on the tuner thread (median; `sandbox runs` "
                      "are the reference run's and the trials' worker processes, inside the stages before them; "
                      "`confirm timing` is the timing part of `confirm_winner`):", ""]
        lines += harness.table(["busy threads", *names],
                               [(n, *(f"{statistics.median(r['phases'].get(p, 0.0) for r in rows if r['threads'] == n):.2f}"
                                      for p in names)) for n in counts], "r" * (len(names) + 1))
    return lines + [""]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--threads", default="0,8", help="comma-separated busy thread counts")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--profile", action="store_true", help="also time the stages of the tune")
    p.add_argument("--note", default="", help="what else ran on the machine, for the header")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "busy-callers")
    args = p.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.profile)))
        return
    counts = [int(n) for n in args.threads.split(",")]
    rows = []
    for run in range(args.runs):
        for n in counts:  # alternated, so that drift on a shared machine hits both alike
            row = measure(n, args.profile)
            logging.getLogger(__name__).warning("run %d, %d threads: %.1f s (%s)", run, n, row["seconds"],
                                                row["installed"] or row["reason"])
            rows.append(row)
    rates = switch_cost()
    args.out.with_suffix(".json").write_text(json.dumps({"runs": rows, "switch_cost": rates}, indent=1) + "\n")
    text = "\n".join(render(rows, counts, args.runs, args.note) + render_switch(rates)) + "\n"
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
