"""The loop's health in `hotpath report`, from a real tuning run with a faulty plug-in variant.

Two plug-in candidates: one wrong on a length-1 input (verification catches it), and a real
Numba build of the function that is wrong on one input no verification rule generates (it wins,
is installed, and the watch rolls it back the first time that input comes). The health numbers
are read before and after the fault and must move the way the loop behaved.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.dispatch import report_watch
from hotpath.kernels.artifacts import load_module, pickle_namespace, write_module
from hotpath.kernels.base import Availability, Candidate
from hotpath.report import health, model
from hotpath.rewriter.source import injected_values, module_imports
from tests.checks import agrees

#: The input the faulty variant gets wrong: no verification rule makes an array starting with it.
POISON = 4242.0


def scale(a, factor):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = a[i] * factor
    return out


class NumbaWrongLater:
    """A plug-in backend: the function under ``numba.njit``, with one wrong answer planted."""

    name = "tests.test_report_health:WRONG_LATER"

    def availability(self):
        return Availability(True)

    def propose(self, fs, signature, config, kernels_dir: Path):
        tree = fs.tree
        tree.body[:0] = ast.parse(f"if a.shape[0] > 0 and a[0] == {POISON}:\n    factor = factor + 1.0").body
        tree.decorator_list = [ast.parse("numba.njit(cache=False)", mode="eval").body]
        imports = "\n".join(f"import {m} as {a}" for a, m in module_imports(fs).items())
        source = f"import numba\n{imports}\n\n{ast.unparse(tree)}\n"
        namespace = pickle_namespace(injected_values(fs))
        path = write_module(kernels_dir, fs.qualname, "wrong_later", source, namespace)
        return [Candidate(self.name, "wrong_later", (), source, fs.name, path, namespace)]

    def refine(self, fs, candidate, failure, kernels_dir):
        return None

    def load(self, candidate):
        return getattr(load_module(candidate.path, candidate.namespace), candidate.entry)

    def prepare(self, variant, args):
        variant(*args)  # compile before timing

    def binaries(self, candidate):
        return ()

    def invocation_errors(self):
        return ()


WRONG_LATER = NumbaWrongLater()


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory, fast: hotpath.Config):
    home = tmp_path_factory.mktemp("health-state")
    config = fast.replace(state_dir=home, backends=("tests.fake_backends:WRONG_SOMETIMES", WRONG_LATER.name))
    a = np.random.default_rng(3).random(20_000)
    result = hotpath.tune(scale, a, 2.0, config=config)
    assert result.winner is not None and result.winner.name == "wrong_later", result.summary()
    return home, result


def _health(home: Path) -> health.Health:
    report = model.load(home)
    assert report is not None
    return health.compute(report)


@pytest.mark.slow
def test_a_faulty_install_moves_the_health_numbers(tuned) -> None:
    home, result = tuned
    before = _health(home)
    # Verification caught the candidate wrong on a length-1 input; nothing was rolled back yet.
    assert before.caught_incorrect == 1 and before.rolled_back == 0 and before.self_correction == 1.0
    (cycle,) = before.cycles
    assert cycle.installs == cycle.timed == 1 and cycle.median_s is not None and cycle.median_s > 0
    assert before.cycle_p95_s == cycle.p95_s == cycle.median_s
    (covered,) = before.coverage
    assert covered.state == "live" and covered.inputs and covered.inputs > 1 and covered.coverage_percent
    assert before.blocked_s is None and any("blocked" in note for note in before.not_recorded)

    rng = np.random.default_rng(4)
    for _ in range(10):
        a = rng.random(50)
        assert agrees(result.optimized(a, 2.0), scale(a, 2.0))
    assert result.optimized.installed
    report_watch()  # what `hotpath status` reads: the calls each install served
    served = _health(home)
    assert served.calls_served is not None and served.calls_served >= 9
    assert served.rollbacks_per_1000_calls == 0.0

    poisoned = np.full(50, POISON)
    assert agrees(result.optimized(poisoned, 2.0), scale(poisoned, 2.0))  # the original's answer
    assert result.optimized.installed == {}
    after = _health(home)
    assert after.rolled_back == 1 and after.self_correction == 0.5  # 1 caught before, 1 after install
    assert after.calls_served is not None and after.calls_served >= served.calls_served
    assert after.rollbacks_per_1000_calls is not None and after.rollbacks_per_1000_calls > 0
    (recovery,) = after.recoveries
    assert recovery.check == "shadow" and recovery.answered_by_original and recovery.variant == "wrong_later"
    assert recovery.in_service_s is not None and recovery.in_service_s > 0 and recovery.calls_served
    (covered,) = after.coverage
    assert covered.state == "rolled back"


@pytest.mark.slow
def test_the_health_is_in_every_output(tuned, tmp_path: Path) -> None:
    home, _ = tuned
    page = tmp_path / "report.html"
    env = dict(os.environ, HOTPATH_HOME=str(home), COLUMNS="200")
    root = Path(__file__).resolve().parent.parent  # where `tests` is found, as the report looks it up
    text = subprocess.run([sys.executable, "-m", "hotpath.cli", "report", "--html", str(page)],
                          capture_output=True, text=True, env=env, cwd=root, timeout=120)
    assert text.returncode == 0, text.stderr
    assert "loop health" in text.stdout and "self-correction" in text.stdout and "not recorded" in text.stdout
    got = subprocess.run([sys.executable, "-m", "hotpath.cli", "report", "--json"], capture_output=True, text=True,
                         env=env, cwd=root, timeout=120)
    data = json.loads(got.stdout)["health"]
    assert data["caught_incorrect"] == 1 and data["blocked_s"] is None and data["not_recorded"]
    assert {"cycle_median_s", "self_correction", "rollbacks_per_1000_calls", "recoveries", "coverage"} <= set(data)
    body = page.read_text()
    assert 'id="health"' in body and "self-correction" in body
    # The generated source of the installed variant, one click away, with its diff to the original.
    assert "<details" in body and str(POISON) in body and "+@numba.njit" in body
    assert str(Path(__file__).resolve()) in body  # the file each function lives in
