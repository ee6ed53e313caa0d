"""Helpers for the gate's tests: real pyperf / pytest-benchmark runs and CLI calls.

Files "from pyperf" and "from pytest-benchmark" are always produced by running those tools in a
subprocess; only hotpath.bench/1 documents are ever written by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]

PYPERF_SCRIPT = textwrap.dedent(
    """
    import pyperf

    def work(n):
        total = 0
        for i in range(n):
            total += i * i
        return total

    def forward(cmd, args):
        cmd.extend(("--n", str(args.n), "--bench-name", args.bench_name))

    runner = pyperf.Runner(add_cmdline_args=forward)
    runner.argparser.add_argument("--n", type=int, default=1000)
    runner.argparser.add_argument("--bench-name", default="work")
    args = runner.parse_args()
    runner.bench_func(args.bench_name, work, args.n)
    """
)

PYTEST_BENCH_FILE = textwrap.dedent(
    """
    import os

    N = int(os.environ.get("GATE_TEST_N", "1000"))

    def work(n):
        total = 0
        for i in range(n):
            total += i * i
        return total

    def test_work(benchmark):
        benchmark(work, N)

    def test_other(benchmark):
        benchmark(work, 200)
    """
)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: this checkout importable, no stray hash seed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("PYTHONHASHSEED", None)
    env.update(extra)
    return env


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_gate_cli(*args: str | os.PathLike[str], cwd: Path | None = None, **env: str) -> CliResult:
    """``python -m hotpath.gate ARGS`` in a subprocess (what CI runs, tracebacks included); its
    output is a pipe, as in CI. ``env`` adds variables, e.g. ``COLUMNS="80"``."""
    proc = subprocess.run(
        [sys.executable, "-m", "hotpath.gate", *map(str, args)],
        capture_output=True, text=True, env=subprocess_env(**env), cwd=cwd or ROOT, timeout=300,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def run_pyperf(script: Path, out: Path, n: int, *, processes: int = 3, values: int = 15,
               name: str = "work", append: bool = True, extra: tuple[str, ...] = ()) -> None:
    """One real pyperf run of ``work(n)``, appended to ``out`` (or written, if ``append`` is False)."""
    cmd = [sys.executable, str(script), "--quiet", "--processes", str(processes), "--values", str(values),
           "--warmups", "1", "--loops", "20", "--n", str(n), "--bench-name", name, *extra]
    cmd += ["--append", str(out)] if append else ["-o", str(out)]
    subprocess.run(cmd, check=True, env=subprocess_env(), stdout=subprocess.DEVNULL, timeout=300)


def measure_interleaved(script: Path, outs: dict[Path, int], chunks: int = 2, **kw) -> None:
    """Build several pyperf files chunk by chunk, alternating, as docs/gate.md recommends."""
    for _ in range(chunks):
        for out, n in outs.items():
            run_pyperf(script, out, n, **kw)


def run_pytest_benchmark(workdir: Path, n: int, *args: str, plugin: bool = False) -> subprocess.CompletedProcess:
    """Run the tiny pytest-benchmark suite in ``workdir`` with ``GATE_TEST_N=n``."""
    cmd = [sys.executable, "-m", "pytest", "bench_test.py", "-q", "-p", "no:cacheprovider",
           "--benchmark-min-rounds=30", "--benchmark-max-time=0.3", *args]
    if plugin and not plugin_autoloads():
        cmd[3:3] = ["-p", "hotpath.gate.pytest_plugin"]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                          env=subprocess_env(GATE_TEST_N=str(n)), timeout=300)


def plugin_autoloads() -> bool:
    """Whether hotpath's pytest11 entry point is installed (then ``-p`` would register it twice)."""
    from importlib.metadata import entry_points

    return any(ep.value == "hotpath.gate.pytest_plugin" for ep in entry_points(group="pytest11"))


def write_hotpath_doc(path: Path, benchmarks: list[dict]) -> Path:
    """A hand-written hotpath.bench/1 document (the gate's own format)."""
    path.write_text(json.dumps({"schema": "hotpath.bench/1", "benchmarks": benchmarks}))
    return path
