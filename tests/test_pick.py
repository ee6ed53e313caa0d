"""Which profiled functions ``hotpath optimize`` tries: the same ones run after run, and never
the program's glue (issue 19, item 10). Profiles are built by hand: no Scalene, no timing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hotpath.profiles.model import FunctionProfile, Profile
from hotpath.profiles.pick import choose, noise_band, tuned_before
from hotpath.profiles.rewritable import check
from hotpath.profiles.scalene import definitions
from hotpath.statedir import StateDir

SCRIPT = "/home/me/sim/particles.py"


def profile(elapsed_s: float, **shares: float) -> Profile:
    functions = tuple(FunctionProfile(SCRIPT, name, i + 1, share, 0.0, 0.0, True)
                      for i, (name, share) in enumerate(shares.items()))
    return Profile("particles.py", (), "scalene test", elapsed_s, functions)


def picked(choices) -> set[str]:
    return {c.function.function for c in choices if c.picked}


def test_the_band_is_half_the_threshold_or_two_standard_errors_of_a_short_run() -> None:
    long_run = noise_band(profile(60.0), 0.02)
    assert long_run.low == pytest.approx(0.01) and long_run.samples == 6000
    short_run = noise_band(profile(3.0), 0.02)  # 300 samples: 2 sigma of 2% is 1.6%
    assert short_run.low == pytest.approx(0.02 - 2 * (0.02 * 0.98 / 300) ** 0.5)
    assert noise_band(profile(0.5), 0.02).low == 0.0  # 50 samples: 2% is one sample
    assert noise_band(profile(0.0), 0.02).low == pytest.approx(0.01)  # length unknown: the band alone


def test_a_share_moving_across_the_threshold_keeps_its_decision() -> None:
    """Five profiles of one program, its third function's share wandering around 2%: a bare
    threshold picks it in three and drops it in two; with the band, tuned after the first, it stays."""
    wander = [0.021, 0.018, 0.023, 0.016, 0.019]
    tuned: set[tuple[str, str]] = set()
    decisions = []
    for share in wander:
        choices = choose(profile(30.0, step=0.5, forces=0.2, smooth=share), tuned=tuned)
        decisions.append("smooth" in picked(choices))
        tuned |= {(SCRIPT, c.function.function) for c in choices if c.picked}  # what tuning records
    assert decisions == [True] * 5
    untuned = [("smooth" in picked(choose(profile(30.0, step=0.5, smooth=s), tuned=set()))) for s in wander]
    assert untuned == [True, False, True, False, False]  # what the bare threshold did


def test_the_decision_says_why() -> None:
    tuned = {(SCRIPT, "smooth")}
    choices = {c.function.function: c for c in choose(profile(30.0, smooth=0.015, fresh=0.015, tiny=0.004),
                                                       tuned=tuned)}
    assert choices["smooth"].picked and "tuned before, kept" in choices["smooth"].why
    assert "noise band 1.0%-2.0%, about 3000 samples" in choices["smooth"].why
    assert not choices["fresh"].picked and "kept there only once tuned" in choices["fresh"].why
    assert not choices["tiny"].picked and choices["tiny"].why.endswith("compiling it would not show")


def test_below_the_band_a_function_tuned_before_is_dropped() -> None:
    assert picked(choose(profile(30.0, smooth=0.009), tuned={(SCRIPT, "smooth")})) == set()


def test_a_module_function_is_matched_by_its_module_name() -> None:
    choices = choose(Profile("-m sim", (), "scalene test", 30.0,
                             (FunctionProfile("/src/sim/physics.py", "forces", 3, 0.012, 0.0, 0.0, True),)),
                     tuned={("sim.physics", "forces")})
    assert picked(choices) == {"forces"}


def test_functions_tuned_before_are_read_from_the_store(tmp_path: Path) -> None:
    assert tuned_before(tmp_path) == frozenset()  # no store yet
    from hotpath.store.db import Database

    Database(StateDir(tmp_path).store_db).read("SELECT 1")  # creates the schema
    db = sqlite3.connect(StateDir(tmp_path).store_db)
    db.execute("INSERT INTO functions (module, qualname, source_hash) VALUES (?, 'smooth', 'k')", (SCRIPT,))
    db.execute("INSERT INTO functions (module, qualname, source_hash) VALUES (?, 'never', 'k')", (SCRIPT,))
    db.execute("INSERT INTO trials (function_id, signature, environment, backend, name, status, reason, created)"
               " VALUES (1, '(x)', 'e', 'numba', 'numba', 'lost', '', 0)")
    db.commit()
    db.close()
    assert tuned_before(tmp_path) == {(SCRIPT, "smooth")}


SCIENTIST = '''"""A scientist's script: argparse, a loop kernel, output."""
import argparse
import logging
import sys

import numpy as np

log = logging.getLogger(__name__)
PARAMS = {"damping": 0.9}


def pair_forces(x, out):
    n = x.shape[0]
    for i in range(n):
        s = 0.0
        for j in range(n):
            if i != j:
                s += 1.0 / (abs(x[i] - x[j]) + 1e-3)
        out[i] = s * PARAMS["damping"]
    return out


def simulate(n, steps):
    x = np.linspace(0.0, 1.0, n)
    f = np.empty(n)
    for _ in range(steps):
        pair_forces(x, f)
        x = x + 1e-6 * f
    return x


def report(x):
    log.info("mean %s", x.mean())


def save(x, path):
    np.save(path, x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    x = simulate(args.n, 10)
    print(x.sum())


def main_argv():
    n = int(sys.argv[1])
    return simulate(n, 3)


def shout(x):
    print(x)


def quiet(x, log):
    return log(x)  # a parameter named log is not the module's logger


if __name__ == "__main__":
    main()
'''


def test_a_scripts_main_and_its_io_are_not_rewritable(tmp_path: Path) -> None:
    script = tmp_path / "particles.py"
    script.write_text(SCIENTIST)
    verdicts = {name: check(str(script), name, line) for line, name in definitions(script).items()}
    assert verdicts["pair_forces"].rewritable and verdicts["simulate"].rewritable and verdicts["quiet"].rewritable
    expected = {"main": "parses command-line arguments (argparse.ArgumentParser() at line 41)",
                "main_argv": "reads the command line (sys.argv at line 49)",
                "report": "logs (log.info() at line 33)", "save": "reads or writes files (np.save() at line 37)",
                "shout": "prints (print() at line 54)"}
    for name, why in expected.items():
        assert not verdicts[name].rewritable
        assert verdicts[name].reason == f"{name} {why}: program glue, not a numeric kernel"


def test_the_tables_say_the_rule_and_each_reason() -> None:
    from rich.console import Console

    from hotpath.profiles.render import choices_table, profile_table

    console = Console(width=100, record=True)
    shown = profile(30.0, step=0.5, smooth=0.015)
    console.print(profile_table(shown))
    console.print(choices_table(choose(shown, tuned={(SCRIPT, "smooth")})))
    text = " ".join(console.export_text().split())
    assert "tries rewritable functions with at least 2.0% of the time in Python, and one tuned before in the " \
           "noise band 1.0%-2.0%, about 3000 samples" in text
    assert "tuned before, kept" in text
