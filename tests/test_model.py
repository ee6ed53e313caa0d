"""The cost model: features, fitting on the shipped (real, measured) corpus trials, ordering,
early stop and the budget in real tuning runs, and life without scikit-learn."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import hotpath
from hotpath.model import costmodel, records, search, train
from hotpath.model.features import FunctionFeatures, features_of
from hotpath.rewriter.source import extract
from hotpath.signature import signature_of


def scale_positive(a, s):
    for i in range(a.shape[0]):
        if a[i] > 0:
            a[i] *= s
    return a


def softmax_rows(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def squares(a):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * a[i]
    return total


@pytest.fixture(scope="module")
def data():
    return records.read_data(records.DEFAULT_DATA)


@pytest.fixture(scope="module")
def model(data):
    fitted = costmodel.fit(data)
    assert fitted is not None
    return fitted


def test_features_describe_loops_and_array_code():
    a = np.ones(1000)
    loop = features_of(extract(scale_positive), signature_of((a, 2.0)), (a, 2.0), baseline_s=1e-3)
    assert (loop.loop_depth, loop.inner_branches, loop.mutates_inputs) == (1.0, 1.0, 1.0)
    assert (loop.arrays, loop.float_scalars, loop.max_ndim) == (1.0, 1.0, 1.0)
    assert loop.elements_log10 == pytest.approx(math.log10(1001))
    assert loop.baseline_log10_s == pytest.approx(-3.0)
    assert loop.python_share == -1.0  # no profile: unknown, not zero

    x = np.ones((10, 20), dtype=np.float32)
    vec = features_of(extract(softmax_rows), signature_of((x,)), (x,))
    assert vec.loop_depth == 0.0 and vec.mutates_inputs == 0.0
    assert vec.elementwise_calls >= 1 and vec.reduction_calls >= 2
    assert (vec.max_ndim, vec.float32) == (2.0, 1.0)
    assert FunctionFeatures.from_dict(vec.as_dict()) == vec


def test_default_data_is_real_corpus_trials(data):
    groups = {r.group for r in data}
    assert len(groups) >= 30  # one per corpus kernel traced
    assert {r.backend for r in data} >= {"numba", "cython"}
    assert all(r.wall_s > 0 for r in data)
    assert any(r.ok for r in data) and any(not r.ok for r in data)


def test_model_predicts_per_candidate(model, data):
    features = data[0].features
    numba, cython, plugin = model.predict(features, [("numba", "numba"), ("cython", "cython"),
                                                     ("tests.fake_backends:CRASH", "crash")])
    for p in (numba, cython, plugin):
        assert 0.0 <= p.p_ok <= 1.0 and p.speedup > 0 and p.cost_s > 0
    assert numba.known and cython.known and not plugin.known
    # However many trials of other plug-ins it has seen (a full test session makes dozens).
    many = [dataclasses.replace(r, backend=f"tests.fake_backends:F{i % 7}", name=f"fake{i % 7}")
            for i, r in enumerate(data[:200])]
    trained = costmodel.fit(list(data) + many)
    assert trained is not None and trained.backend_rows["backend=other"] >= 100
    (again,) = trained.predict(features, [("tests.fake_backends:NEW", "new")])
    assert not again.known
    # Cython builds cost several times what a Numba compile does, and the model learned it.
    every = {r.group: r.features for r in data}.values()
    cost = {name: np.mean([model.predict(f, [(name, name)])[0].cost_s for f in every]) for name in ("numba", "cython")}
    assert cost["cython"] > 1.5 * cost["numba"]
    assert 0.15 <= model.sigma_within <= model.sigma_total + 1.0


def test_stop_rule_on_measured_trials(model, data):
    group = next(r.group for r in data if ":sum_of_squares_loops(" in r.group)
    features = next(r.features for r in data if r.group == group)
    own = {p.name: p for p in model.predict(features, [("numba", "numba"), ("numba", "numba-parallel"),
                                                       ("cython", "cython")])}
    parallel = [own["numba-parallel"]]
    # numba measured far beyond what the model expected: the rest cannot catch up.
    far = [search.Measured("numba", "numba", True, own["numba"].speedup * 50)]
    why = search.stop_reason(model, parallel, far, own, spent_s=3.0, budget_s=None)
    assert why is not None and why.startswith("not tried: the cost model") and "numba-parallel" in why
    # numba was wrong: nothing is known to beat, so a plausible candidate is still worth its trial.
    wrong = [search.Measured("numba", "numba", False, None)]
    assert search.stop_reason(model, [own["cython"]], wrong, own, spent_s=3.0, budget_s=None) is None
    # The first candidate always runs; a spent budget stops the rest whatever the model says.
    assert search.stop_reason(model, [own["cython"]], [], own, spent_s=99.0, budget_s=1.0) is None
    assert "budget of 1 s" in search.stop_reason(None, [own["cython"]], wrong, own, spent_s=2.0, budget_s=1.0)


@pytest.mark.slow
def test_budget_stops_a_real_run(fast):
    a = np.random.default_rng(3).random(5000)
    result = hotpath.tune(squares, a, config=fast.replace(cost_model=True), budget_s=0.001)
    ran = [t for t in result.trials if t.status != "skipped"]
    budget = [t for t in result.trials if "tuning budget" in t.reason]
    assert len(ran) == 1 and budget, result.summary()
    assert result.guidance is not None and ran[0].name == result.guidance.proposals[0].name
    assert result.optimized(a) == pytest.approx(squares(a))


@pytest.mark.slow
def test_guided_run_orders_records_and_learns(fast, state_dir):
    a = np.random.default_rng(4).random((60, 50))
    result = hotpath.tune(softmax_rows, a, config=fast.replace(cost_model=True))
    guidance = result.guidance
    assert guidance is not None and guidance.model.startswith("random forests")
    order = [p.name for p in guidance.proposals if isinstance(p, hotpath.Candidate)]
    assert [p.name for p in guidance.predictions] == order
    values = [p.value for p in guidance.predictions if p.known]
    assert values == sorted(values, reverse=True)
    tried = [t.name for t in result.trials if t.status != "skipped" and "+" not in t.name]
    assert tried == order[:len(tried)]  # trials follow the model's order
    runs = list(records.runs_of(state_dir, f"{__name__}:softmax_rows"))
    assert runs and runs[-1].features.elementwise_calls >= 1
    learned = runs[-1].records()
    assert learned and all(r.wall_s > 0 for r in learned)
    assert set(map(repr, learned)) <= set(map(repr, records.training_records(state_dir)))


@pytest.mark.slow
def test_model_off_tries_everything_in_rule_order(fast):
    a = np.random.default_rng(5).random(3000)
    result = hotpath.tune(squares, a, config=fast.replace(cost_model=False))
    assert "turned off" in result.guidance.model
    assert not any(t.reason.startswith("not tried") for t in result.trials)
    from hotpath.rewriter.proposers import propose_all

    rule = [p.name for p in propose_all(extract(squares), signature_of((a,)), fast, fast.resolved_state_dir() / "kernels")]
    assert [t.name for t in result.trials if "+" not in t.name] == rule


@pytest.mark.slow
def test_without_scikit_learn_every_candidate_is_tried(tmp_path, state_dir):
    (tmp_path / "kernel_mod.py").write_text(textwrap.dedent("""
        def squares(a):
            total = 0.0
            for i in range(a.shape[0]):
                total += a[i] * a[i]
            return total
    """))
    script = textwrap.dedent(f"""
        import json, sys
        sys.modules["sklearn"] = None  # as if the model extra were not installed
        sys.path.insert(0, {str(tmp_path)!r})
        import numpy as np, hotpath, kernel_mod
        r = hotpath.tune(kernel_mod.squares, np.arange(3000.0), backends=("numba",),
                         config=hotpath.Config(timing_budget_s=0.2))
        print(json.dumps({{"model": r.guidance.model, "trials": [[t.name, t.status, t.reason] for t in r.trials],
                          "winner": r.winner.name if r.winner else None}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "scikit-learn is not installed" in out["model"]
    assert not any(reason.startswith("not tried") for _, _, reason in out["trials"])
    assert out["winner"] is not None


def test_train_reports_quality(data):
    some = sorted({r.group for r in data})[:6]
    quality = train.evaluate([r for r in data if r.group in some])
    assert quality is not None and quality.functions == 6
    assert 0.0 <= quality.brier <= 1.0 and quality.cost_mae_log >= 0.0


def test_train_command(capsys, tmp_path):
    from hotpath import cli

    assert cli.main(["model", "train", "--no-evaluate", "--home", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == "hotpath.model-train/1" and out["model"].startswith("random forests")
    assert out["trials"] == len(records.read_data(records.DEFAULT_DATA))
