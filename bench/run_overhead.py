"""`hotpath run` on a short program against `python`: what loading a stored winner costs a run.

    python -m bench.run_overhead [--steps 25] [--runs 5]

The program (written to a temporary folder) smooths a 20,000-point signal ``--steps`` times with
a loop kernel that lives in an imported module, ``kern.py``: about a second under ``python``.
``hotpath optimize`` tunes it once into a fresh state folder (Numba wins by orders of magnitude,
and records the program's arguments, the calls, and the measured cost of loading the winner).
Then, each a fresh process, alternated ``--runs`` times after one warm-up round, outputs
compared byte for byte:

* ``python prog.py``: the plain program;
* ``hotpath run prog.py``: what a user types, through the ``hotpath`` console script (where the
  record says no winner pays for its loading over a run with these arguments, it runs the script
  in its own process, as ``python`` would);
* ``runscript, deferred``: the wrapping path itself (``python -m hotpath.profiles.runscript``), the
  winner deferred until its load cost has been spent in the original;
* ``runscript, winner pays``: the record edited to say the winner pays for its loading: loaded
  on the first call, before it returns;
* ``runscript, loader thread``: the same with ``HOTPATH_LOAD_THREAD=1``: loaded on a loader thread
  from the first call while the original answers.

Besides wall time, each run's CPU time (user and system, the process and its children), which
moves far less with the machine's load, and the CPU time the process had used when the program's
first line ran (the program writes it to standard error): the start-up alone, python's or
hotpath's. ``PYTHONDONTWRITEBYTECODE`` is dropped from the runs' environment, so hotpath's
modules start from cached bytecode, as an installed package's do.

Writes ``bench/results/run-overhead.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench import harness
from hotpath.profiles import programs
from hotpath.profiles.loading import LOAD_THREAD_ENV

KERNEL = textwrap.dedent("""\
    def smooth(x, out, passes):
        n = x.shape[0]
        for _ in range(passes):
            for i in range(1, n - 1):
                out[i] = 0.25 * x[i - 1] + 0.5 * x[i] + 0.25 * x[i + 1]
            out[0] = x[0]
            out[n - 1] = x[n - 1]
            for i in range(n):
                x[i] = out[i]
        return out
    """)
PROGRAM = textwrap.dedent("""\
    import sys
    import time

    print(f"start-up CPU {time.process_time():.6f}", file=sys.stderr)

    import numpy as np

    from kern import smooth

    steps = int(sys.argv[1])
    x = np.random.default_rng(0).random(20_000)
    out = np.empty_like(x)
    total = 0.0
    for _ in range(steps):
        total += float(smooth(x, out, 2).sum())
    print(f"{total:.12e}")
    """)


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float, str]:
    """Wall time, CPU time (user + system, the process and its children), the CPU time used before
    the program's first line, and standard output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    startup = float(done.stderr.split("start-up CPU ", 1)[1].split()[0])
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, startup, done.stdout


def hotpath_command() -> list[str]:
    """The ``hotpath`` console script beside this interpreter (what a user types), else ``-m hotpath.cli``."""
    script = Path(sys.executable).parent / "hotpath"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "hotpath.cli"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=25, help="kernel calls in the program")
    parser.add_argument("--runs", type=int, default=5, help="runs of each command")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="hotpath-run-overhead-"))
    (folder / "kern.py").write_text(KERNEL)
    (folder / "prog.py").write_text(PROGRAM)
    home = folder / "state"
    steps = str(args.steps)
    hotpath = hotpath_command()
    env = dict(os.environ, HOTPATH_HOME=str(home))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode, as an installed package has
    start = time.perf_counter()
    tuned = subprocess.run([*hotpath, "optimize", "prog.py", steps], env=env, cwd=folder, capture_output=True, text=True)
    if tuned.returncode != 0:
        print(f"hotpath optimize failed:\n{tuned.stdout}\n{tuned.stderr}", file=sys.stderr)
        return 1
    optimize_s = time.perf_counter() - start
    record_file = next((home / "profiles").glob("program-*.json"))
    record = json.loads(record_file.read_text())
    # Another state folder whose record says the winner pays for its loading.
    pays = folder / "state-pays"
    shutil.copytree(home, pays)
    edited = json.loads(record_file.read_text())
    for function in edited["functions"].values():
        if function["load_s"] is not None:
            function["load_s"] = 1e-3
    (pays / "profiles" / record_file.name).write_text(json.dumps(edited))
    runscript = [sys.executable, "-m", "hotpath.profiles.runscript", "prog.py", steps]
    commands = {
        "python prog.py": ([sys.executable, "prog.py", steps], home, {}),
        "hotpath run prog.py": ([*hotpath, "run", "prog.py", steps], home, {}),
        "runscript, deferred": (runscript, home, {}),
        "runscript, winner pays": (runscript, pays, {}),
        "runscript, loader thread": (runscript, pays, {LOAD_THREAD_ENV: "1"}),
    }
    load_before = os.getloadavg()[0]
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    startup: dict[str, list[float]] = {name: [] for name in commands}
    expected = None
    for round_ in range(args.runs + 1):  # the first round warms caches (and writes bytecode): not counted
        for name, (cmd, state, extra) in commands.items():
            elapsed, used, before, output = timed(cmd, dict(env, HOTPATH_HOME=str(state), **extra), folder)
            if expected is None:
                expected = output
            if output != expected:
                print(f"outputs differ: {name}", file=sys.stderr)
                return 1
            if round_:
                times[name].append(elapsed)
                cpu[name].append(used)
                startup[name].append(before)
    load_after = os.getloadavg()[0]  # what else ran: the load average at both ends, in the header
    medians = {name: statistics.median(values) for name, values in times.items()}
    plain = medians["python prog.py"]
    function = next(iter(record["functions"].values()))
    # Each run against the plain run of its own round: load on a shared machine drifts between rounds.
    paired = {name: statistics.median(t / p for t, p in zip(values, times["python prog.py"]))
              for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    startup_medians = {name: statistics.median(values) for name, values in startup.items()}
    result = {"steps": args.steps, "runs": args.runs, "seconds": times, "median_s": medians,
              "ratio_to_python": {name: m / plain for name, m in medians.items()},
              "paired_ratio_to_python": paired, "cpu_s": cpu, "median_cpu_s": cpu_medians,
              "startup_cpu_s": startup, "median_startup_cpu_s": startup_medians,
              "load_average": [load_before, load_after], "optimize_s": optimize_s,
              "recorded": record, "identical_output": True, "machine": harness.machine()}
    harness.RESULTS.mkdir(exist_ok=True)
    (harness.RESULTS / "run-overhead.json").write_text(json.dumps(result, indent=1) + "\n")
    rows = [(f"`{name}`", f"{medians[name]:.3f} s", f"{medians[name] / plain:.2f}x", f"{paired[name]:.2f}x",
             f"{cpu_medians[name]:.3f} s", f"{startup_medians[name] * 1e3:.0f} ms",
             ", ".join(f"{t:.2f}" for t in times[name])) for name in commands]
    signature = next(iter(function["signatures"].values()))
    original_total = signature["calls"] * signature["original_s"]
    deferred_note = (f"the recorded run spent {original_total:.2f} s in it, more than the load cost; loaded where a run "
                     "spends that much" if original_total >= function["load_s"] else "never loaded in so short a run")
    run = programs.ProgramRun.from_json(json.dumps(record))
    saving = sum(f.saving_s for f in run.functions.values())
    lines = ["# `hotpath run` on a short program against `python`", "",
             f"`python -m bench.run_overhead --steps {args.steps} --runs {args.runs}` ({result['machine']}, "
             f"load average {load_before:.1f} at the start and {load_after:.1f} at the end: a machine shared with "
             f"other jobs); wall time per fresh process, median of {args.runs} alternating runs after a warm-up "
             "round; every output identical.", "",
             *harness.table(("command", "median", "median / python's", "median of per-round ratios",
                             "median CPU time", "CPU before the program's first line", "runs"), rows, "lrrrrrl"), "",
             "CPU time (user and system, the process and its children) moves far less with the machine's load "
             "than wall time does; the CPU time used before the program's first line is the start-up alone "
             "(python's, or the `hotpath` command's and then python's).", "",
             f"`hotpath optimize` ({optimize_s:.0f} s, once) recorded {signature['calls']} calls of "
             f"`{next(iter(record['functions']))}` at {signature['original_s'] * 1e3:.1f} ms each, its winner at "
             f"{signature['speedup']:.0f}x, and a load cost of {function['load_s']:.3f} s (two fresh interpreters, "
             f"median of 3 pairs); the expected saving, counting the {programs.shadowed_calls(signature['calls'])} "
             f"shadow-verified calls of a warm install, is {saving:.3f} s, so `hotpath run` with the recorded "
             "arguments loads nothing: it decides that with the standard library alone (the record as JSON, one "
             "read-only SQLite query) and runs the script in its own process, as `python` would.", "",
             "The rows below it are the wrapping path (`python -m hotpath.profiles.runscript`, what `hotpath run` "
             "does for a run the record does not settle) with the same record (the winner deferred until its "
             f"load cost has been spent in the original: {deferred_note}) and with a record edited to say the "
             "winner pays: loaded on the first call, then "
             "with `HOTPATH_LOAD_THREAD=1` on a loader thread. What loading costs the program is the difference "
             "to `python`; the loader thread does not hide it from a loop kernel, whose Python holds the GIL "
             "the import needs."]
    (harness.RESULTS / "run-overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
