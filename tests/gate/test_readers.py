"""Reading results: every format from its real producer, and every way a file can be unusable."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from gate_helpers import run_pyperf, write_hotpath_doc
from hotpath.gate.errors import GateInputError
from hotpath.gate.readers import detect_format, expand_paths, load_many, load_results


def test_pyperf_file(pyperf_files: dict[str, Path]) -> None:
    result = load_results(pyperf_files["base"])
    assert result.format == "pyperf"
    bench = result.benchmarks["work"]
    assert bench.unit == "s"
    assert len(bench.values) == 2 * 3 * 15  # 2 chunks x 3 processes x 15 values; warmups dropped
    assert len(set(bench.groups)) == 6
    assert all(1e-6 < v < 1e-2 for v in bench.values)


def test_pyperf_gzip_and_suite(tmp_path: Path, pyperf_script: Path, pyperf_files: dict[str, Path]) -> None:
    gz = tmp_path / "base.json.gz"
    gz.write_bytes(gzip.compress(pyperf_files["base"].read_bytes()))
    assert load_results(gz).benchmarks["work"].values == load_results(pyperf_files["base"]).benchmarks["work"].values
    suite = tmp_path / "suite.json"
    run_pyperf(pyperf_script, suite, 500, processes=1, values=3, name="first")
    run_pyperf(pyperf_script, suite, 500, processes=1, values=3, name="second")
    assert load_results(suite).names() == ["first", "second"]


def test_pybench_files(pybench_files: dict[str, Path]) -> None:
    raw = load_results(pybench_files["base"])
    assert raw.format == "pytest-benchmark"
    bench = raw.benchmarks["bench_test.py::test_work"]
    assert bench.has_raw and len(bench.values) >= 30 and bench.summary is not None
    summary = load_results(pybench_files["base_summary"]).benchmarks["bench_test.py::test_work"]
    assert not summary.has_raw and summary.count >= 30
    assert summary.summary.minimum <= summary.summary.median <= summary.summary.maximum


def test_hotpath_format(tmp_path: Path) -> None:
    doc = write_hotpath_doc(tmp_path / "h.json", [
        {"name": "a", "unit": "instructions", "samples": [10, 11, 12]},
        {"name": "b", "samples": [0.1, 0.2], "groups": [0, 1]},
    ])
    result = load_results(doc)
    assert result.format == "hotpath.bench/1"
    assert result.benchmarks["a"].unit == "instructions" and result.benchmarks["b"].unit == "s"
    assert result.benchmarks["b"].groups == (0, 1)


def test_merge_keeps_chunks_apart(pyperf_files: dict[str, Path], tmp_path: Path) -> None:
    merged = load_many(f"{pyperf_files['base']},{pyperf_files['same']}")
    bench = merged.benchmarks["work"]
    assert len(bench.values) == 2 * 90 and len(set(bench.groups)) == 12
    copy = tmp_path / "x-1.json"
    copy.write_bytes(pyperf_files["base"].read_bytes())
    assert expand_paths(str(tmp_path / "x-*.json")) == [str(copy)]
    with pytest.raises(GateInputError, match="matches no file"):
        expand_paths(str(tmp_path / "nothing-*.json"))


def test_merged_sessions_without_process_labels_count_as_one_process_each() -> None:
    """Two pytest-benchmark sessions are two processes, not twenty blocks passing for processes."""
    from hotpath.gate import stats
    from hotpath.gate.model import BenchmarkSamples, ResultSet
    from hotpath.gate.readers import merge_results

    sessions = [ResultSet(f"s{i}.json", "pytest-benchmark", {"t": BenchmarkSamples("t", "s", tuple([1e-3] * 40))})
                for i in range(2)]
    bench = merge_results(sessions).benchmarks["t"]
    assert len(bench.values) == 80 and stats.process_count(bench.groups) == 2


def test_merge_refuses_summary_only(pybench_files: dict[str, Path]) -> None:
    spec = f"{pybench_files['base_summary']},{pybench_files['base_summary']}"
    with pytest.raises(GateInputError, match="summary statistics"):
        load_many(spec)


def _truncated(path: Path, tmp_path: Path) -> Path:
    out = tmp_path / "truncated.json"
    data = path.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda d, f: d / "missing.json", "does not exist"),
        (lambda d, f: (d / "empty.json", (d / "empty.json").write_text(""))[0], "is empty"),
        (lambda d, f: (d / "blank.json", (d / "blank.json").write_text("  \n"))[0], "is empty"),
        (lambda d, f: _truncated(f["base"], d), "not valid JSON"),
        (lambda d, f: (d / "t.json.gz", (d / "t.json.gz").write_bytes(gzip.compress(b'{"a": 1}' * 50)[:30]))[0], "cannot be read"),
        (lambda d, f: (d / "w.json", (d / "w.json").write_text('{"foo": [1, 2]}'))[0], "not a benchmark result"),
        (lambda d, f: (d / "l.json", (d / "l.json").write_text("[1, 2, 3]"))[0], "not a benchmark result"),
        (lambda d, f: (d / "c.csv", (d / "c.csv").write_text("name,time\na,1\n"))[0], "not valid JSON"),
        (lambda d, f: d, "is a folder"),
    ],
)
def test_unusable_files(make, match: str, tmp_path: Path, pyperf_files: dict[str, Path]) -> None:
    with pytest.raises(GateInputError, match=match):
        load_results(make(tmp_path, pyperf_files))


@pytest.mark.parametrize(
    "benchmarks, match",
    [
        ([{"name": "a", "samples": [0.1]}], "has 1 sample"),
        ([{"name": "a", "samples": []}], "has 0 sample"),
        ([{"name": "a", "samples": [0.1, -1.0]}], "positive finite"),
        ([{"name": "a", "samples": [0.1, "x"]}], "malformed"),
        ([{"name": "a", "samples": [0.1, 0.2]}, {"name": "a", "samples": [0.1, 0.2]}], "several benchmarks named"),
        ([{"name": "a", "samples": [0.1, 0.2], "groups": [0]}], "group labels"),
        ([], "no benchmark results"),
        ([{"samples": [0.1, 0.2]}], "malformed"),
    ],
)
def test_unusable_hotpath_documents(benchmarks: list, match: str, tmp_path: Path) -> None:
    with pytest.raises(GateInputError, match=match):
        load_results(write_hotpath_doc(tmp_path / "h.json", benchmarks))


def test_unknown_schema_version(tmp_path: Path) -> None:
    (tmp_path / "v2.json").write_text(json.dumps({"schema": "hotpath.bench/2", "benchmarks": []}))
    with pytest.raises(GateInputError, match="upgrade hotpath"):
        load_results(tmp_path / "v2.json")


def test_real_single_value_pyperf_run(tmp_path: Path, pyperf_script: Path) -> None:
    out = tmp_path / "one.json"
    run_pyperf(pyperf_script, out, 100, append=False, extra=("--debug-single-value",))
    with pytest.raises(GateInputError, match="has 1 sample"):
        load_results(out)


def test_detect_format() -> None:
    assert detect_format({"schema": "hotpath.bench/1"}) == "hotpath.bench/1"
    assert detect_format({"version": "1.0", "benchmarks": [{"runs": []}]}) == "pyperf"
    assert detect_format({"machine_info": {}, "benchmarks": []}) == "pytest-benchmark"
    assert detect_format({"benchmarks": [{"x": 1}]}) is None
    assert detect_format("text") is None
