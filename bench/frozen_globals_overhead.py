"""What checking a variant's globals costs per call: ns added over calling the variant directly.

    python -m bench.frozen_globals_overhead      # writes bench/results/frozen-globals-overhead.md
    python -m bench.frozen_globals_overhead --json overhead.json   # also the per-round samples, for `hotpath gate`

Kernels from ``tests/frozen_kernels.py`` and ``tests/hidden_kernels.py`` with a Numba variant
installed (``verify_rate=0``, so no shadow calls): one reading no globals (the compiled fast
path), one reading a scalar global, one a 64-element global array (identity and contents checked
on every call), one an attribute of a parameters module (``P.SCALE``), and one three attributes
of a global object (``PARAMS``, ``PARAMS.dt``, ``PARAMS.grid.h``).
Per round, a block of decorated calls and a block of direct variant calls on a 16-element array;
the table gives the median over rounds of the per-call difference.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench import harness

ROUNDS, CALLS = 41, 2000
OUT = harness.RESULTS / "frozen-globals-overhead.md"


def main(argv: list[str] | None = None) -> int:
    parser = harness.parser(__doc__, names=None, out=OUT.with_suffix(""), repeats=ROUNDS)
    options = parser.parse_args(argv)
    out = options.out.with_suffix(".md")
    harness.state_home("hotpath-frozen-bench-")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import hotpath
    from tests import frozen_kernels as fk
    from tests import hidden_kernels as hk

    config = hotpath.Config(backends=("numba",), timing_budget_s=0.2, verify_rate=0.0, hot_calls=10**9,
                            hot_seconds=1e9, cost_model=False)
    a = np.random.default_rng(0).random(16)
    rows = []
    bucket: list = []
    for module, name, what in ((fk, "pure", "no globals"), (fk, "scaled_sum", "one scalar global"),
                               (fk, "weighted_sum", "one 64-element global array"),
                               (hk, "module_scaled", "an attribute of a module (P.SCALE)"),
                               (hk, "object_step", "a global object and two attributes of it")):
        opt = hotpath.optimize(getattr(module, name), config=config)
        result = hotpath.tune(opt, np.random.default_rng(1).random(20_000))
        if result.winner is None:
            rows.append((name, what, f"- ({result.reason})"))
            continue
        (install,) = opt._installed.values()
        variant, decorated, direct = install.variant, [], []
        for _ in range(options.repeats):
            start = time.perf_counter()
            for _ in range(CALLS):
                opt(a)
            middle = time.perf_counter()
            for _ in range(CALLS):
                variant(a)
            decorated.append((middle - start) / CALLS)
            direct.append((time.perf_counter() - middle) / CALLS)
        added = [d - v for d, v in zip(decorated, direct)]
        rows.append((name, what, f"+{statistics.median(added) * 1e9:.0f} ns"))
        bucket += [harness.samples(f"{name}: decorated", decorated), harness.samples(f"{name}: direct", direct)]
    harness.finish(options, bucket, "bench.frozen_globals_overhead")
    out.write_text("\n".join([
        "# Frozen-globals check: cost per call",
        "",
        f"Machine: {harness.machine()} (shared). "
        f"{options.repeats} rounds of {CALLS} decorated calls then {CALLS} direct calls of the installed Numba variant "
        "(16-element array); median per-call difference.",
        "",
        *harness.table(("kernel", "reads", "added over the variant called directly"), rows, "llr"),
        "",
    ]))
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
