"""``hotpath explain module:function`` on a really tuned function, through the real CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hotpath
from hotpath import cli


def smooth(u, out):
    n = u.shape[0]
    for i in range(1, n - 1):
        out[i] = 0.25 * u[i - 1] + 0.5 * u[i] + 0.25 * u[i + 1]
    return out


def never_tuned(x):
    return x * 2


@pytest.fixture(scope="module")
def tuned(fast):
    u = np.random.default_rng(11).random(4000)
    return hotpath.tune(smooth, u, np.zeros_like(u), config=fast.replace(cost_model=True))


@pytest.mark.slow
def test_explain_shows_features_ranking_and_measurements(tuned, capsys):
    assert cli.main(["explain", f"{__name__}:smooth"]) == 0
    text = capsys.readouterr().out
    assert f"{__name__}:smooth" in text and "signature (array(float64, 1d, C), array(float64, 1d, C))" in text
    assert "features: loop_depth=1" in text and "mutates_inputs=1" in text
    assert "model: random forests on" in text
    assert "P(ok)" in text and "pred.speedup" in text
    for trial in tuned.trials:
        assert trial.name in text
    tried = [t for t in tuned.trials if t.status != "skipped"]
    assert any(f"{t.status} " in text for t in tried)


@pytest.mark.slow
def test_explain_json_links_predictions_to_measurements(tuned, capsys):
    assert cli.main(["explain", f"{__name__}:smooth", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "hotpath.explain/1"
    run = data["runs"][-1]
    first = run["ranking"][0]
    assert first["rank"] == 1 and 0.0 <= first["p_ok"] <= 1.0 and first["cost_s"] > 0
    measured = first["measured"]
    assert measured is not None and measured["status"] in ("won", "correct", "incorrect", "failed")
    assert measured["wall_s"] > 0
    names = [t["name"] for t in run["trials"]]
    assert names == [t.name for t in tuned.trials]


def test_explain_untuned_function_shows_source_features(capsys, tmp_path):
    assert cli.main(["explain", f"{__name__}:never_tuned", "--home", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "no tuning of" in text and "features from the source" in text and "arithmetic=1" in text


def test_explain_refuses_a_bad_target(capsys):
    assert cli.main(["explain", "no_colon_here"]) == 2


def sum_of_squares(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s


@pytest.fixture(scope="module")
def guarded(fast):
    # Compiled, the loop returns a Python float where the original returns np.float64, and
    # np.float64 on an empty array where the original returns 0.0: a cast and a size guard.
    return hotpath.tune(sum_of_squares, np.random.default_rng(3).random(500), config=fast)


@pytest.mark.slow
def test_summary_explain_and_report_say_inputs_coverage_and_guards(guarded, capsys):
    from hotpath.store import queries

    assert guarded.winner is not None, guarded.summary()
    assert {a.split(":")[0] for a in guarded.winner.adapters} >= {"cast-return", "min-size"}
    cast, size = "casts the result to numpy.float64", "size guard: empty arrays go to the original"
    counts, coverage = dict(guarded.inputs), guarded.coverage
    assert coverage is not None and counts["captured"] == 1 and len(counts) > 2
    total = sum(counts.values())
    summary = guarded.summary().splitlines()
    installed = next(i for i, line in enumerate(summary) if "-> installed" in line)
    assert summary[installed + 1].strip().startswith("guards: ") and cast in summary[installed + 1]
    assert size in summary[installed + 1]
    assert f"verified on {total} inputs" in guarded.summary()

    # The store holds the same numbers and words, with the run and with its install.
    store = queries.open_existing(hotpath.Config().resolved_state_dir())
    assert store is not None
    recorded = [v for (f, _, _), v in queries.verifications(store).items() if f == f"{__name__}:sum_of_squares"]
    assert recorded and dict(recorded[-1].inputs) == counts
    assert (recorded[-1].lines_run, recorded[-1].lines_total) == (coverage.run, coverage.total)
    assert recorded[-1].guards is not None and cast in recorded[-1].guards and size in recorded[-1].guards
    install = [i for i in queries.installs(store) if i.function == f"{__name__}:sum_of_squares" and i.active]
    assert install and install[-1].guards == recorded[-1].guards

    target = f"{__name__}:sum_of_squares"
    assert cli.main(["explain", target]) == 0
    text = capsys.readouterr().out
    assert f"verified on {total} inputs: 1 captured" in text
    assert f"coverage {coverage.percent:.0f}% ({coverage.run}/{coverage.total} lines)" in text
    assert "install guards: " in text and cast in text and size in text
    assert cli.main(["explain", target, "--json"]) == 0
    verification = json.loads(capsys.readouterr().out)["runs"][-1]["verification"]
    assert verification["inputs"] == counts and verification["coverage_percent"] == coverage.percent
    assert cast in verification["guards"] and size in verification["guards"]

    assert cli.main(["report", "--json"]) == 0
    runs = [r for r in json.loads(capsys.readouterr().out)["runs"] if r["function"] == target]
    reported = runs[-1]["verification"]
    assert dict(reported["inputs"]) == counts and reported["coverage_percent"] == coverage.percent
    assert cast in reported["guards"] and size in reported["guards"]
    assert cli.main(["report", "--function", target]) == 0
    table = capsys.readouterr().out
    assert "install guards" in table and "numpy.float64" in table and f"verified on {total} inputs" in table
