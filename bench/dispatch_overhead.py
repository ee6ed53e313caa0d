"""What the dispatch layer costs per call: ns added over calling the installed variant directly.

    python -m bench.dispatch_overhead            # paired, in one process (the headline numbers)
    python -m bench.dispatch_overhead --json overhead.json   # also every per-call sample, for `hotpath gate`
    python -m bench.dispatch_overhead --pyperf -o bench/results/dispatch-overhead-pyperf.json

Default mode: for 0, 1, 2 and 4 array arguments, a decorated function with a Numba variant
installed (never sampled: ``verify_rate=0``, so this is the unsampled hot path) is called in
blocks of calls, interleaved in a shuffled order within each round with: the variant called
directly, the same decorated function on the pure-Python dispatch path, and a C function that
does nothing (``hotpath._fastpath.noop``, the floor of any call). Per round the differences are
taken between blocks of that round (a paired measurement), and the table gives their median
with a distribution-free 95% interval:

* compiled / pure: ns the decorated call adds over calling the variant directly;
* Numba's own dispatcher: ns a Numba call of a kernel that does nothing costs over the C floor
  (type-fingerprinting the arguments and finding the compiled version), for reference.

A second table gives what watching costs: a 64-element dot-product loop with a Numba variant
installed at the default settings (``verify_rate=0.01``, ``watch_fraction=0.02``), probation
over, timed over blocks of 100,000 calls (so the shadow-verified calls in a block are amortized
over it), beside the same install never sampled and the variant called directly.

Writes ``bench/results/dispatch-overhead.md`` and ``.json``. ``--pyperf`` runs the older
pyperf comparison (separate worker processes, absolute times, shadow-verified calls included).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyperf

import hotpath
from bench import harness

os.environ.setdefault("HOTPATH_HOME", str(Path(tempfile.gettempdir()) / "hotpath-bench-dispatch"))
SIZES = {"small": 16, "medium": 1000}


def dot(a, b):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


def prepared(n: int, verify_rate: float):
    a = np.random.default_rng(0).random(n)
    b = np.random.default_rng(1).random(n)
    fn = hotpath.optimize(dot, verify_rate=verify_rate, hot_calls=10**9, hot_seconds=1e9)
    fn(a, b)  # warm start from the store
    if not fn.installed:
        result = hotpath.tune(fn, a, b)
        assert result.winner is not None, result.summary()
    (install,) = fn._installed.values()
    return fn, install.variant, a, b


def pyperf_main() -> None:
    runner = pyperf.Runner()
    runner.metadata["description"] = __doc__.splitlines()[0]
    for label, n in SIZES.items():
        fn, variant, a, b = prepared(n, 0.0)
        shadowed, _, _, _ = prepared(n, 1.0)
        results = {
            "variant": runner.bench_func(f"{label}: variant directly", variant, a, b),
            "unsampled": runner.bench_func(f"{label}: decorated, unsampled", fn, a, b),
            "shadow": runner.bench_func(f"{label}: decorated, shadow-verified", shadowed, a, b),
            "original": runner.bench_func(f"{label}: original", dot, a, b),
        }
        if runner.args.worker or any(r is None for r in results.values()):
            continue  # a worker process: the parent summarises
        medians = {k: statistics.median(v.get_values()) for k, v in results.items()}
        lines = [f"## {label} (n={n})", "", "| case | median | ratio to the variant |", "|---|---:|---:|"]
        for key, value in medians.items():
            lines.append(f"| {results[key].get_name()} | {value * 1e9:.0f} ns | {value / medians['variant']:.2f}x |")
        summary = "\n".join(lines) + "\n"
        print(summary)
        out = Path(__file__).parent / "results" / "dispatch-overhead-pyperf.md"
        if label == "small":
            out.write_text("# Dispatch overhead (pyperf, medians)\n\n" + summary + "\n")
        else:
            with out.open("a") as handle:
                handle.write(summary + "\n")


# --- paired mode -------------------------------------------------------------------------------

ARRAY_COUNTS = (0, 1, 2, 4)
CALLS_PER_BLOCK = 2000
ROUNDS = 101


def _kernel(n_arrays: int):
    """A kernel doing almost nothing with ``n_arrays`` array arguments (0: one float argument)."""
    params = ["x"] if n_arrays == 0 else [f"a{i}" for i in range(n_arrays)]
    body = "x" if n_arrays == 0 else " + ".join(f"{p}[0]" for p in params)
    namespace: dict = {}
    exec(f"def kernel_{n_arrays}({', '.join(params)}):\n    return {body}\n", namespace)
    return namespace[f"kernel_{n_arrays}"], len(params)


def _loop(arity: int):
    """``loop(f, args, n)`` calling ``f`` with ``arity`` positional arguments, no star-args."""
    names = [f"p{i}" for i in range(arity)]
    unpack = f"    {', '.join(names)}{',' if arity == 1 else ''} = args\n" if arity else ""
    source = (f"def loop(f, args, n):\n{unpack}    for _ in range(n):\n        f({', '.join(names)})\n")
    namespace: dict = {}
    exec(source, namespace)
    return namespace["loop"]


def _decorated(n_arrays: int):
    import numba

    from hotpath.kernels.base import Candidate
    from hotpath.signature import signature_of

    fn, arity = _kernel(n_arrays)
    args = (1.5,) if n_arrays == 0 else tuple(np.random.default_rng(i).random(16) for i in range(n_arrays))
    variant = numba.njit(fn)
    variant(*args)  # compiled before timing
    opt = hotpath.optimize(fn, verify_rate=0.0, hot_calls=10**9, hot_seconds=1e9, persist=False)
    candidate = Candidate("numba", "numba", (), "", fn.__name__, Path("bench"), b"")
    # Installed by hand: the bench measures dispatch, not tuning (a kernel this small would not
    # win a trial against its original, and should not).
    opt._install(args, opt._new_install(signature_of(args), candidate, 1.0, variant, (), False, "bench", None))
    assert opt(*args) == fn(*args)
    return opt, variant, args, arity


def _block(loop, f, args, n: int) -> float:
    start = time.perf_counter_ns()
    loop(f, args, n)
    return (time.perf_counter_ns() - start) / n


def paired(rounds: int = ROUNDS, calls: int = CALLS_PER_BLOCK) -> list[dict]:
    from hotpath import _fastpath, fastpath
    from hotpath.runner.timing import median_interval

    rng = random.Random(0)
    rows = []
    for n_arrays in ARRAY_COUNTS:
        opt, variant, args, arity = _decorated(n_arrays)
        loop = _loop(arity)
        cases = {
            "direct": lambda: _block(loop, variant, args, calls),
            "compiled": lambda: (fastpath.use(True), _block(loop, opt, args, calls))[1],
            "pure": lambda: (fastpath.use(False), _block(loop, opt, args, calls))[1],
            "floor": lambda: _block(loop, _fastpath.noop, args, calls),
        }
        for run in cases.values():  # warm-up
            run()
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(rounds):
            order = list(cases)
            rng.shuffle(order)
            for name in order:
                samples[name].append(cases[name]())
        fastpath.use(fastpath.requested())

        def stat(values: list[float]) -> dict:
            low, high = median_interval(values)
            return {"median": statistics.median(values), "ci": [low, high]}

        per_round = range(rounds)
        rows.append({
            "arrays": n_arrays,
            "rounds": rounds,
            "samples_ns": samples,
            "direct_ns": stat(samples["direct"]),
            "floor_ns": stat(samples["floor"]),
            "compiled_added_ns": stat([samples["compiled"][i] - samples["direct"][i] for i in per_round]),
            "pure_added_ns": stat([samples["pure"][i] - samples["direct"][i] for i in per_round]),
            "compiled_ratio": stat([samples["compiled"][i] / samples["direct"][i] for i in per_round]),
            "pure_ratio": stat([samples["pure"][i] / samples["direct"][i] for i in per_round]),
            "numba_dispatch_ns": stat([samples["direct"][i] - samples["floor"][i] for i in per_round]),
        })
        print(f"{n_arrays} arrays: compiled +{rows[-1]['compiled_added_ns']['median']:.0f} ns, "
              f"pure +{rows[-1]['pure_added_ns']['median']:.0f} ns, Numba's dispatcher "
              f"{rows[-1]['numba_dispatch_ns']['median']:.0f} ns", flush=True)
    return rows


WATCH_N = 64
WATCH_CALLS = 100_000
WATCH_ROUNDS = 9


def dot_float(a, b):
    """``dot`` returning a Python float, as its Numba variant does: the bare variant is then
    exactly right, and the table measures watching, not a return-type adapter."""
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return float(total)


def _watched() -> tuple:
    """``dot_float`` on 64 elements with its Numba variant installed twice: watched at the default
    settings, its probation over and its sampling period settled; and never sampled
    (``verify_rate=0``). Installed by hand, like ``_decorated``: tuning would add its own choices
    (a parallel loop, a size guard) to what is measured here."""
    import numba

    from hotpath.kernels.base import Candidate
    from hotpath.signature import signature_of

    args = (np.random.default_rng(2).random(WATCH_N), np.random.default_rng(3).random(WATCH_N))
    variant = numba.njit(dot_float)
    variant(*args)
    candidate = Candidate("numba", "numba", (), "", "dot_float", Path("bench"), b"")
    installs = []
    for rate in (hotpath.Config().verify_rate, 0.0):
        opt = hotpath.optimize(dot_float, verify_rate=rate, hot_calls=10**9, hot_seconds=1e9, persist=False)
        opt._install(args, opt._new_install(signature_of(args), candidate, 1.0, variant, (), False, "bench", None))
        installs.append(opt)
    watched, unsampled = installs
    (install,) = watched._installed.values()
    settled, loop = 0, _loop(2)
    while settled < 3 and install.calls < 50 * WATCH_CALLS:
        before = install.period
        loop(watched, args, max(1000, 2 * install.period))
        assert watched._installed, "the watch rolled the variant back"
        settled = settled + 1 if install.period == before and install.probation == 0 else 0
    return watched, unsampled, variant, args, install


def watch_cost(rounds: int = WATCH_ROUNDS, calls: int = WATCH_CALLS) -> dict:
    """Per-call times over blocks of ``calls`` calls: direct, unsampled, and watched at the
    default settings (shadow calls included, amortized)."""
    from hotpath import fastpath
    from hotpath.runner.timing import median_interval

    fastpath.use(fastpath.requested())
    default = hotpath.Config()
    watched, unsampled, variant, args, install = _watched()
    loop = _loop(2)
    cases = {"direct": variant, "unsampled": unsampled, "watched": watched}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    checked_before = install.checked
    rng = random.Random(1)
    for _ in range(rounds):
        order = list(cases)
        rng.shuffle(order)
        for name in order:
            samples[name].append(_block(loop, cases[name], args, calls))

    def stat(values: list[float]) -> dict:
        low, high = median_interval(values)
        return {"median": statistics.median(values), "ci": [low, high]}

    per_round = range(rounds)
    row = {
        "n": WATCH_N, "calls_per_block": calls, "rounds": rounds, "samples_ns": samples,
        "verify_rate": default.verify_rate, "watch_fraction": default.watch_fraction,
        "direct_ns": stat(samples["direct"]),
        "unsampled_ns": stat(samples["unsampled"]),
        "watched_ns": stat(samples["watched"]),
        "unsampled_ratio": stat([samples["unsampled"][i] / samples["direct"][i] for i in per_round]),
        "watched_ratio": stat([samples["watched"][i] / samples["direct"][i] for i in per_round]),
        "watch_added_ns": stat([samples["watched"][i] - samples["unsampled"][i] for i in per_round]),
        "shadow_calls_per_block": (install.checked - checked_before) / rounds,
        "watch": install.watch_summary(),
    }
    print(f"watch: direct {row['direct_ns']['median']:.0f} ns, unsampled {row['unsampled_ratio']['median']:.2f}x, "
          f"watched {row['watched_ratio']['median']:.2f}x (period {install.period})", flush=True)
    return row


def _fmt(entry: dict, unit: str = " ns") -> str:
    return f"{entry['median']:.0f}{unit} [{entry['ci'][0]:.0f}, {entry['ci'][1]:.0f}]"


def watch_markdown(row: dict) -> str:
    """The table of what watching costs, from ``watch_cost``."""
    watch = row["watch"]
    ratio = row["watched_ratio"]["median"]
    verdict = "meets" if ratio <= 1.2 else "misses"
    return "\n".join([
        "## What watching costs (amortized)",
        "",
        f"`dot_float` on {row['n']} float64 elements (a Python loop; its Numba variant installed), "
        f"{row['rounds']} rounds of {row['calls_per_block']:,}-call blocks per case, shuffled; per-call time, "
        "median [95% interval]. Watched: the default settings "
        f"(`verify_rate={row['verify_rate']}`, `watch_fraction={row['watch_fraction']}`), "
        "probation over, shadow-verified calls included.",
        "",
        *harness.table(("case", "per call", "/ direct"), [
            ("variant directly", _fmt(row["direct_ns"]), "1.00x"),
            ("decorated, never sampled (`verify_rate=0`)", _fmt(row["unsampled_ns"]),
             f"{row['unsampled_ratio']['median']:.2f}x"),
            ("decorated, watched at the defaults", _fmt(row["watched_ns"]), f"**{ratio:.2f}x**")], "lrr"),
        "",
        f"Watching adds {_fmt(row['watch_added_ns'])} a call over the unsampled path: one shadow-verified call "
        f"in {watch['period']:,} (measured: a shadow call costs {watch['shadow_cost_us']:.1f} us beyond the "
        f"variant's {watch['variant_us']:.2f} us; {row['shadow_calls_per_block']:.1f} per block), an estimated "
        f"{100 * watch['shadow_share']:.1f}% of the variant's call time.",
        "",
        f"Acceptance (a ~200 ns variant, default settings, at most 1.2x a direct call): {verdict} it with "
        f"{ratio:.2f}x.",
    ]) + "\n"


def markdown(rows: list[dict]) -> str:
    rounds = rows[0].get("rounds", ROUNDS) if rows else ROUNDS
    lines = [
        "# Dispatch overhead (paired, one process)",
        "",
        f"Machine: {harness.machine()} (shared with other jobs), NumPy {np.__version__}. "
        f"{rounds} rounds of {CALLS_PER_BLOCK}-call "
        "blocks per case, shuffled within each round; per-round differences, median [95% interval].",
        "The variant is a Numba function doing almost nothing, so its own time is Numba's dispatcher.",
        "",
    ]

    def ratio(entry: dict) -> str:
        return f"{entry['median']:.2f}x"

    lines += harness.table(
        ("arrays", "variant directly", "decorated, compiled path: added", "decorated, pure path: added",
         "compiled / direct", "pure / direct", "Numba's own dispatcher (over a C no-op)"),
        [(r["arrays"], _fmt(r["direct_ns"]), f"**+{_fmt(r['compiled_added_ns'])}**", f"+{_fmt(r['pure_added_ns'])}",
          ratio(r["compiled_ratio"]), ratio(r["pure_ratio"]), _fmt(r["numba_dispatch_ns"])) for r in rows],
        "rrrrrrr")
    two = next(r for r in rows if r["arrays"] == 2)
    verdict = "meets" if two["compiled_added_ns"]["median"] <= 150 else "misses"
    lines += ["", f"Acceptance (two arrays, compiled path, at most 150 ns added): {verdict} it with "
                  f"+{two['compiled_added_ns']['median']:.0f} ns (pure-Python path: "
                  f"+{two['pure_added_ns']['median']:.0f} ns)."]
    return "\n".join(lines) + "\n"


def gate_samples(rows: list[dict], watch: dict) -> list:
    """Every per-call sample (seconds) of the paired and the watch measurements, for ``hotpath gate``."""
    out = [harness.samples(f"{r['arrays']} arrays: {case}", [v * 1e-9 for v in values])
           for r in rows for case, values in r["samples_ns"].items()]
    out += [harness.samples(f"watch: {case}", [v * 1e-9 for v in values]) for case, values in watch["samples_ns"].items()]
    return out


def main(argv: list[str] | None = None) -> int:
    # pyperf re-runs this script for its workers with "--worker" but without our own flag.
    if "--pyperf" in sys.argv or "--worker" in sys.argv:
        if "--pyperf" in sys.argv:
            sys.argv.remove("--pyperf")
        pyperf_main()
        return 0
    parser = harness.parser(__doc__, names=None, out=harness.RESULTS / "dispatch-overhead", repeats=ROUNDS)
    parser.add_argument("--pyperf", action="store_true", help="the pyperf comparison (its own options follow)")
    options = parser.parse_args(argv)
    from hotpath import fastpath

    if not fastpath.available():
        print("hotpath._fastpath is not built (pip install -e .): only the pure path can be measured")
        return 1
    rows = paired(rounds=options.repeats)
    watch = watch_cost()
    harness.finish(options, gate_samples(rows, watch), "bench.dispatch_overhead")
    out = options.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"schema": "hotpath.dispatch-overhead/2", "rows": rows,
                                                    "watch": watch}, indent=1))
    text = markdown(rows) + "\n" + watch_markdown(watch)
    out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
