"""How much glibc's allocator state changes a NumPy kernel's time: a fresh process against one
that has freed a large block (``hotpath.runner.worker.warm_allocator``, which every sandbox
worker calls before it verifies or times anything).

Each state is measured in its own fresh interpreter, alternating, ``--repeats`` times; each
interpreter reports the median of 300 calls of a log-likelihood with five NumPy temporaries of
100k floats. Writes ``bench/results/allocator-state.md``.

    python -m bench.allocator_state [--repeats 5]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import textwrap

from bench import harness

PROGRAM = textwrap.dedent("""
    import sys, time
    import numpy as np
    if sys.argv[1] == "warm":
        from hotpath.runner.worker import warm_allocator
        warm_allocator()
    x = np.random.default_rng(0).random(100_000)
    def loglik(x, mu, s):
        z = (x - mu) / s
        return -0.5 * np.sum(z * z) - x.size * np.log(s) + np.sum(np.exp(-z) * np.sqrt(np.abs(z)))
    times = []
    for _ in range(300):
        start = time.perf_counter()
        loglik(x, 0.3, 1.2)
        times.append(time.perf_counter() - start)
    times.sort()
    print(times[len(times) // 2])
""")


def _median_ms(state: str) -> float:
    out = subprocess.run([sys.executable, "-c", PROGRAM, state], capture_output=True, text=True, check=True)
    return float(out.stdout) * 1e3


def main() -> None:
    args = harness.parser(__doc__, names=None, repeats=5, json_out=False).parse_args()
    repeats = args.repeats
    cold, warm = [], []
    for _ in range(repeats):  # alternated, so drifts of a shared machine hit both alike
        cold.append(_median_ms("cold"))
        warm.append(_median_ms("warm"))
    rows = [["fresh process", f"{statistics.median(cold):.3f}", "1.00x"],
            ["after warm_allocator()", f"{statistics.median(warm):.3f}",
             f"{statistics.median(cold) / statistics.median(warm):.2f}x"]]
    text = (f"# Allocator state and NumPy temporaries\n\nMachine: {harness.machine('shared with a CI run')}\n\n"
            f"Log-likelihood of 100k float64 with five temporaries; median of {repeats} fresh interpreters per "
            "state, each the median of 300 calls (`python -m bench.allocator_state`).\n\n"
            + "\n".join(harness.table(["process state", "ms per call", "speed"], rows, "lrr")) + "\n")
    (harness.RESULTS / "allocator-state.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
