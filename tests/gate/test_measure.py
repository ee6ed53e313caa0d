"""``hotpath measure --instructions``: callgrind counts, and the gate on them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gate_helpers import run_gate_cli, subprocess_env
from hotpath.gate.errors import GateInputError
from hotpath.gate.measure import measure_instructions, read_total_instructions, valgrind_path

needs_valgrind = pytest.mark.skipif(valgrind_path() is None, reason="valgrind is not installed")

LOOP = "i=0; while [ $i -lt {n} ]; do i=$((i+1)); done"


def _measure(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hotpath.gate", "measure", *args], capture_output=True, text=True,
                          env=subprocess_env(), timeout=300)


@needs_valgrind
@pytest.mark.slow
def test_measure_and_gate(tmp_path: Path) -> None:
    files = {}
    for label, n in (("base", 300), ("same", 300), ("slow", 600)):
        out = tmp_path / f"{label}.json"
        proc = _measure("--instructions", "--repeat", "2", "--name", "loop", "-o", str(out), "--", "/bin/sh", "-c",
                        LOOP.format(n=n))
        assert proc.returncode == 0, proc.stderr
        files[label] = out
    doc = json.loads(files["base"].read_text())
    assert doc["schema"] == "hotpath.bench/1"
    (bench,) = doc["benchmarks"]
    assert bench["unit"] == "instructions" and len(bench["samples"]) == 2 and min(bench["samples"]) > 10_000
    assert run_gate_cli("gate", files["base"], files["same"]).returncode == 0
    slow = run_gate_cli("gate", files["base"], files["slow"])
    assert slow.returncode == 1 and "slower" in slow.stdout


@needs_valgrind
def test_append_and_stdout(tmp_path: Path) -> None:
    out = tmp_path / "many.json"
    for name in ("true", "false-ish"):
        proc = _measure("--instructions", "--repeat", "2", "--append", "--name", name, "-o", str(out), "--", "/bin/true")
        assert proc.returncode == 0, proc.stderr
    assert [b["name"] for b in json.loads(out.read_text())["benchmarks"]] == ["true", "false-ish"]
    printed = _measure("--instructions", "--repeat", "2", "--", "/bin/true")
    assert json.loads(printed.stdout)["benchmarks"][0]["name"] == "/bin/true"


@needs_valgrind
def test_failing_command_is_reported() -> None:
    proc = _measure("--instructions", "--repeat", "2", "--", "/bin/false")
    assert proc.returncode == 2 and "exited with status 1" in proc.stderr and "Traceback" not in proc.stderr
    with pytest.raises(GateInputError, match="No such file"):
        measure_instructions(["/nonexistent/program"], repeat=2)


def test_measure_needs_a_mode_and_a_command() -> None:
    proc = _measure("--", "/bin/true")
    assert proc.returncode == 2 and "--instructions" in proc.stderr
    proc = _measure("--instructions")
    assert proc.returncode == 2 and "nothing to measure" in proc.stderr
    with pytest.raises(GateInputError, match="at least 2"):
        measure_instructions(["/bin/true"], repeat=1)
    with pytest.raises(GateInputError, match="not installed"):
        measure_instructions(["/bin/true"], valgrind="no-such-valgrind-binary")


def test_reads_callgrind_totals(tmp_path: Path) -> None:
    f = tmp_path / "callgrind.out.1"
    f.write_text("version: 1\ncmd: x\nevents: Ir\nfn=main\n1 5\nsummary: 123456\ntotals: 123456\n")
    assert read_total_instructions(str(f)) == 123456
    f.write_text("events: Ir\n")
    with pytest.raises(GateInputError, match="no instruction total"):
        read_total_instructions(str(f))


def test_append_refuses_other_formats(pyperf_files: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "pyperf.json"
    target.write_bytes(pyperf_files["base"].read_bytes())
    proc = _measure("--instructions", "--append", "-o", str(target), "--", "/bin/true")
    assert proc.returncode == 2 and "--append adds to hotpath.bench/1 files" in proc.stderr
