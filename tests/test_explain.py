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
