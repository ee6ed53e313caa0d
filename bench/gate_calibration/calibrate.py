"""Measure the gate's false-alarm and detection rates with real pyperf runs on this machine.

Each *round* builds five pyperf files, chunk by chunk and interleaved in random order: two of
unchanged code (A, A') and one each with a 5 %, 10 % and 25 % injected slowdown. From a round
come one A/A pair (A vs A') and three A/B pairs (A vs each slowed file). Every pair is judged
by the very function ``hotpath gate`` uses, with its default policy, on the whole files (the
default collection, 32 processes a side) and on their first 16 processes (the collection used
before). Also reported: unchanged files of consecutive rounds (not interleaved), and the
two-stage protocol of the CI example (a flagged pair re-judged on two rounds merged). Results go
to ``results.md`` and ``results.json`` beside this file; see ``HISTORY.md`` for how the design
was reached.

    python bench/gate_calibration/calibrate.py all --rounds 60       # collect, then evaluate
    python bench/gate_calibration/calibrate.py collect --rounds 60 --workdir DIR --deadline 03:40
    python bench/gate_calibration/calibrate.py evaluate --workdir DIR
    python bench/gate_calibration/calibrate.py recheck --archive runs-run2.json.gz --split 50

The raw pyperf files go to ``--workdir`` (a temporary folder by default); ``evaluate`` also
saves every run's values compactly in ``runs.json.gz`` so the evaluation can be repeated from
the committed data alone (``evaluate --archive runs.json.gz``). ``recheck`` judges an older
archive with the current rule, split into a development and a held-out part, as one round and
as two consecutive rounds merged (twice the processes).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

# The gate (and the modules beside this one, which use it) is imported where used, so `collect`
# runs even while the gate is being changed.

log = logging.getLogger("gate_calibration")

#: Run label -> injected slowdown.
VARIANTS = {"A": 0.0, "A2": 0.0, "B05": 0.05, "B10": 0.10, "B25": 0.25}
#: pyperf settings of each chunk: 4 worker processes x 50 values of 20 loops (~1 ms each).
PYPERF_ARGS = ("--processes", "4", "--values", "50", "--warmups", "3", "--loops", "20")
#: Chunks per file: each file ends up with CHUNKS x 4 = 32 processes, 1600 values. This is the
#: collection docs/gate.md recommends; 4 chunks (16 processes) was too little (see HISTORY.md).
CHUNKS = 8
#: The collection the smaller rows of the report judge: the first 4 chunks of each file.
SMALL_PROCESSES = 16


def collect(rounds: int, workdir: Path, seed: int, chunks: int = CHUNKS, deadline: float | None = None) -> None:
    """Run ``rounds`` rounds of the workload with pyperf, skipping rounds already on disk.

    Within a round the five files are built up interleaved: ``chunks`` times over, each variant
    (in a fresh random order) appends a short pyperf run to its file. This is how docs/gate.md
    tells CI to measure base and head: alternating, so both see the same machine.
    ``deadline`` (a ``time.time()`` value) stops the collection before a round that would
    start after it: a collection with a deadline fixed in advance cannot be stopped at a
    convenient moment.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    order_rng = random.Random(seed)
    started = time.monotonic()
    for r in range(rounds):
        # Orders are drawn even for finished rounds, so a resumed collection keeps its plan.
        orders = [order_rng.sample(list(VARIANTS), len(VARIANTS)) for _ in range(chunks)]
        folder = workdir / f"round-{r:03d}"
        if all((folder / f"{label}.json").exists() for label in VARIANTS):
            continue
        if deadline is not None and time.time() > deadline:
            log.info("deadline reached before round %d; stopping", r)
            break
        folder.mkdir(exist_ok=True)
        for stale in folder.glob("*.part"):
            stale.unlink()
        for order in orders:
            for label in order:
                cmd = [
                    sys.executable, str(HERE / "workload.py"), "--quiet", *PYPERF_ARGS,
                    "--slowdown", str(VARIANTS[label]), "--append", str(folder / f"{label}.json.part"),
                ]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        for label in VARIANTS:
            os.replace(folder / f"{label}.json.part", folder / f"{label}.json")
        elapsed = time.monotonic() - started
        line = f"round {r + 1}/{rounds} done, {elapsed / 60:.1f} min elapsed"
        (workdir / "progress.txt").write_text(line + "\n")
        log.info(line)


def evaluate(workdir: Path | None, archive: Path | None, out_dir: Path, conditions: str) -> dict:
    """Judge every pair with the default policy, at both collection sizes, and write the reports."""
    from archive import load_archive, load_workdir, restrict, save_archive
    from judging import judge, two_stage
    from report import noise, rates, with_rates, write

    from hotpath.gate.policy import Policy

    collect_minutes = float("nan")
    if archive is not None:
        rounds, header = load_archive(archive)
        previous = out_dir / "results.json"
        if previous.exists():
            old = json.loads(previous.read_text())
            collect_minutes = old.get("collect_minutes", collect_minutes)
            conditions = conditions or old.get("conditions", "")
    else:
        assert workdir is not None
        rounds = load_workdir(workdir, tuple(VARIANTS))
        header = {"pyperf_args": list(PYPERF_ARGS), "chunks": CHUNKS}
        minutes_file = workdir / "collect_minutes.txt"
        if minutes_file.exists():
            collect_minutes = float(minutes_file.read_text())
        save_archive(rounds, out_dir / "runs.json.gz", header)
    policy = Policy()
    first = next(iter(rounds.values()))["A"]
    total = len(set(first.groups or ()))
    collections = {}
    for size in sorted({total, min(total, SMALL_PROCESSES)}, reverse=True):
        runs = restrict(rounds, size if size < total else None)
        pairs = judge(runs, policy)
        collections[str(size)] = {
            "rates": rates(pairs),
            "two_stage": with_rates(two_stage(runs, policy)),
            "pairs": [p.__dict__ for p in pairs],
        }
    doc = {
        "schema": "hotpath.gate-calibration/2",
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "rounds": len(rounds),
        "collect_minutes": collect_minutes,
        "conditions": conditions,
        "pyperf_args": header["pyperf_args"],
        "chunks": header["chunks"],
        "default_processes": str(total),
        "policy": policy.describe(),
        "noise": noise(rounds),
        "collections": collections,
    }
    write(doc, out_dir)
    return doc


def recheck(archive: Path, split: int) -> str:
    """An older archive judged with the current rule: development and held-out rounds, at one
    round and at two consecutive rounds merged per side (a Markdown table)."""
    from archive import joined, load_archive
    from judging import judge
    from report import rates

    from hotpath.gate.policy import Policy

    rounds, _ = load_archive(archive)
    policy = Policy()
    lines = [
        "| rounds | processes a side | A/A | 5 % | 10 % | 25 % |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, part in ((f"0–{split - 1}", {r: v for r, v in rounds.items() if r < split}),
                        (f"{split}–{max(rounds)}", {r: v for r, v in rounds.items() if r >= split})):
        for span in (1, 2):
            runs = joined(part, span)
            found = rates(judge(runs, policy, not_interleaved=False))
            size = span * len(set(next(iter(part.values()))["A"].groups or ()))
            cells = [f"{found[k]['flagged_slower']}/{found[k]['pairs']}" for k in ("A/A", "A/B 5%", "A/B 10%", "A/B 25%")]
            lines.append(f"| {label} | {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _deadline(text: str | None) -> float | None:
    """``HH:MM`` today (local time) as a ``time.time()`` value; ``None`` passes through."""
    if text is None:
        return None
    hour, minute = (int(x) for x in text.split(":"))
    now = time.localtime()
    return time.mktime((now.tm_year, now.tm_mon, now.tm_mday, hour, minute, 0, 0, 0, -1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("collect", "evaluate", "all", "recheck"))
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--archive", type=Path, default=None, help="evaluate or recheck a runs.json.gz")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.{md,json} go")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunks", type=int, default=CHUNKS, help="interleaved chunks per file (4 processes each)")
    parser.add_argument("--deadline", default=None, help="collect: start no round after this local time, HH:MM")
    parser.add_argument("--conditions", default="", help="evaluate: a sentence on the machine's load, for results.md")
    parser.add_argument("--split", type=int, default=50, help="recheck: first held-out round")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    workdir = args.workdir or Path(tempfile.gettempdir()) / "hotpath-gate-calibration"
    if args.action == "recheck":
        if args.archive is None:
            parser.error("recheck needs --archive")
        print(recheck(args.archive, args.split))
        return 0
    if args.action in ("collect", "all"):
        started = time.monotonic()
        collect(args.rounds, workdir, args.seed, args.chunks, _deadline(args.deadline))
        (workdir / "collect_minutes.txt").write_text(f"{(time.monotonic() - started) / 60}\n")
    if args.action in ("evaluate", "all"):
        doc = evaluate(None if args.archive else workdir, args.archive, args.out, args.conditions)
        for size, coll in doc["collections"].items():
            for kind, r in coll["rates"].items():
                log.info("%3s processes  %-20s %3d pairs  flagged slower %5.1f%%", size, kind, r["pairs"], 100 * r["rate"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
