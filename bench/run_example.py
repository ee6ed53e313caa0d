"""Whole-program timing of the example: `python examples/lake.py` against `hotpath run`.

    python -m bench.run_example [--size large] [--runs 5]

Like hyperfine: each command runs ``--runs`` times after one warm-up run, alternating the two
commands so that drifts in machine load hit both alike; wall time per run includes interpreter
start-up, imports (hotpath and Numba), loading the stored winners and the program's own work.
First, in a fresh state folder, ``hotpath optimize`` tunes the program (its time is reported
separately: it is paid once). Both commands' outputs are compared byte for byte. Writes
``bench/results/example-run.md`` and ``.json``; ``--json PATH`` also writes both commands' wall
times as ``hotpath.bench/1`` for ``hotpath gate``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import harness

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "lake.py"
RESULTS = harness.RESULTS


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return time.perf_counter() - start, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, names=None, size="large")
    parser.add_argument("--optimize-size", default="medium", help="input used by hotpath optimize")
    parser.add_argument("--runs", "--repeats", dest="runs", type=int, default=5, help="runs of each command")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="hotpath-example-"))
    env = dict(os.environ, HOTPATH_HOME=str(home))
    hotpath = [sys.executable, "-m", "hotpath.cli"]
    start = time.perf_counter()
    subprocess.run([*hotpath, "optimize", str(EXAMPLE), "--size", args.optimize_size, "--quiet"], env=env,
                   cwd=ROOT, check=True, capture_output=True)
    optimize_s = time.perf_counter() - start
    plain_cmd = [sys.executable, str(EXAMPLE), "--size", args.size]
    hot_cmd = [*hotpath, "run", str(EXAMPLE), "--size", args.size]
    _, expected = timed(plain_cmd, env)  # warm-up runs (file cache, Numba cache)
    _, got = timed(hot_cmd, env)
    if got != expected:
        print("outputs differ!", file=sys.stderr)
        return 1
    plain, hot = [], []
    for _ in range(args.runs):
        for cmd, times in ((plain_cmd, plain), (hot_cmd, hot)):
            elapsed, output = timed(cmd, env)
            if output != expected:
                print("outputs differ!", file=sys.stderr)
                return 1
            times.append(elapsed)
    ratio = statistics.median(plain) / statistics.median(hot)
    result = {"size": args.size, "optimize_size": args.optimize_size, "runs": args.runs,
              "python_s": plain, "hotpath_run_s": hot, "median_python_s": statistics.median(plain),
              "median_hotpath_run_s": statistics.median(hot), "ratio": ratio, "optimize_s": optimize_s,
              "identical_output": True, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "python": platform.python_version()}
    harness.finish(args, [harness.samples(f"python examples/lake.py --size {args.size}", plain),
                          harness.samples(f"hotpath run examples/lake.py --size {args.size}", hot)],
                   "bench.run_example")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "example-run.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["# Whole-program timing: examples/lake.py", "",
             f"`python -m bench.run_example --size {args.size} --runs {args.runs}` ({result['machine']}, "
             f"Python {result['python']}); wall time per run, median of {args.runs} alternating runs after a warm-up.",
             "", *harness.table(("command", "median", "runs"), [
                 (f"`python examples/lake.py --size {args.size}`", f"{result['median_python_s']:.2f} s",
                  ", ".join(f"{t:.2f}" for t in plain)),
                 (f"`hotpath run examples/lake.py --size {args.size}`", f"{result['median_hotpath_run_s']:.2f} s",
                  ", ".join(f"{t:.2f}" for t in hot))], "lrl"), "",
             f"Whole program **{ratio:.1f}x faster**, output byte-for-byte identical. `hotpath optimize` (profile, "
             f"capture on `--size {args.optimize_size}`, tune) took {optimize_s:.0f} s once beforehand.", ""]
    (RESULTS / "example-run.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
