"""The calibration workload: a pure-Python loop timed by pyperf, optionally slowed down.

``--slowdown 0.10`` makes the loop run 10 % more iterations, so the code is 10 % slower by
construction (the per-call overhead is well under 1 % of the loop). A/A pairs run the same
command twice; A/B pairs add a slowdown. Run by ``calibrate.py``; usable alone::

    python bench/gate_calibration/workload.py --slowdown 0.1 --processes 10 --values 4 \
        --loops 200 -o out.json
"""

from __future__ import annotations

import pyperf

#: Iterations at no slowdown: about 50 microseconds of interpreter work per call.
BASE_ITERATIONS = 2000


def work(iterations: int) -> int:
    """Interpreter-bound work whose cost is proportional to ``iterations``."""
    total = 0
    for i in range(iterations):
        total += i * i
    return total


def _forward_args(cmd: list[str], args) -> None:
    # pyperf re-runs this script in worker processes; they need the same slowdown.
    cmd.extend(("--slowdown", str(args.slowdown)))


def main() -> None:
    runner = pyperf.Runner(add_cmdline_args=_forward_args)
    runner.argparser.add_argument("--slowdown", type=float, default=0.0)
    args = runner.parse_args()
    iterations = round(BASE_ITERATIONS * (1.0 + args.slowdown))
    runner.bench_func("loop", work, iterations)


if __name__ == "__main__":
    main()
