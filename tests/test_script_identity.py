"""Two scripts each defining ``smooth`` are two functions: stored, listed, explained and rolled back apart."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hotpath
from hotpath import cli, persist
from hotpath.model import explain
from hotpath.signature import signature_of
from hotpath.store import Store, names

SCRIPT = """\
import numpy as np


def smooth(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += {body}
    return total
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory, fast: hotpath.Config) -> dict[str, Any]:
    """``smooth`` of two scripts (different bodies), each run as ``__main__`` and tuned into one state folder."""
    root = tmp_path_factory.mktemp("scripts")
    config = fast.replace(state_dir=root / "state", background=False)
    x = np.random.default_rng(0).random(2_000)
    found: dict[str, Any] = {"config": config, "x": x, "home": str(root / "state")}
    for stem, body in (("a", "x[i] * x[i]"), ("b", "abs(x[i] - 0.5)")):
        path = root / f"{stem}.py"
        path.write_text(SCRIPT.format(body=body))
        fn = runpy.run_path(str(path), run_name="__main__")["smooth"]
        assert fn.__module__ == "__main__"
        assert hotpath.tune(fn, x, config=config).winner is not None
        found[stem] = (fn, f"{path.resolve()}:smooth")
    return found


def test_each_script_function_has_its_own_name_and_install(tuned: dict[str, Any], capsys) -> None:
    a_fn, a_name = tuned["a"]
    b_fn, b_name = tuned["b"]
    assert persist.identify(a_fn).function_id.name == a_name
    installed = {f"{r['module']}:{r['qualname']}" for r in Store.at(Path(tuned["home"])).active_installs()}
    assert installed == {a_name, b_name}
    status, out, _ = run(capsys, "status", "--home", tuned["home"])
    assert status == 0 and a_name in out and b_name in out and "__main__:smooth" not in out


def test_explain_resolves_each_script_and_refuses_the_ambiguous_old_name(tuned: dict[str, Any], capsys) -> None:
    known = [tuned["a"][1], tuned["b"][1]]
    a, b = (explain.explain(explain.recorded_name(name, known), Path(tuned["home"]), every=True)
            for name in ("a.py:smooth", "b.py:smooth"))
    assert (a["function"], b["function"]) == tuple(known)
    # One tuning run each, its own (a was tuned first), not both runs under either name.
    assert len(a["runs"]) == 1 and len(b["runs"]) == 1 and a["runs"][0]["created"] < b["runs"][0]["created"]
    status, out, err = run(capsys, "explain", "__main__:smooth", "--home", tuned["home"])
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "2 scripts" in err and known[0] in err and known[1] in err


def test_rolling_back_one_script_leaves_the_other_installed(tuned: dict[str, Any], capsys) -> None:
    home, x = tuned["home"], tuned["x"]
    store = Store.at(Path(home))
    status, _, err = run(capsys, "rollback", "__main__:smooth", "--home", home)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "name one" in err
    assert len(store.active_installs()) == 2  # nothing was rolled back
    status, out, _ = run(capsys, "rollback", "a.py:smooth", "--home", home)  # the end of its path is enough
    assert status == 0 and tuned["a"][1] in out
    signature = str(signature_of((x,)))
    (a_fn, _), (b_fn, b_name) = tuned["a"], tuned["b"]
    assert store.find_winner(persist.identify(a_fn).function_id, signature) is None
    assert store.find_winner(persist.identify(b_fn).function_id, signature) is not None  # b warm-starts still
    assert [f"{r['module']}:{r['qualname']}" for r in store.active_installs()] == [b_name]


def test_rows_an_older_hotpath_recorded_as_main_are_still_found_and_rolled_back(tuned: dict[str, Any]) -> None:
    b_fn, b_name = tuned["b"]
    store = Store.at(Path(tuned["home"]))
    fid = persist.identify(b_fn).function_id
    signature = str(signature_of((tuned["x"],)))
    with store.db.write() as tx:  # as a hotpath before script paths stored it
        tx.execute("UPDATE functions SET module = ? WHERE module = ?", (names.MAIN, fid.module))
    winner = store.find_winner(fid, signature)
    assert winner is not None  # same key: the same source and globals
    store.rollback(fid, signature, winner.candidate.name, "test", {})
    assert store.find_winner(fid, signature) is None and winner.candidate.name in store.barred(fid, signature)


def test_what_a_typed_name_stands_for() -> None:
    known = ["/w/sim/a.py:smooth", "/w/other/a.py:smooth", "/w/sim/b.py:step", "__main__:step", "kern:smooth"]
    assert names.resolve("kern:smooth", known) == ["kern:smooth"]
    assert names.resolve("sim/a.py:smooth", known) == ["/w/sim/a.py:smooth"]
    assert names.resolve("__main__:step", known) == ["/w/sim/b.py:step", "__main__:step"]
    assert names.resolve("__main__:nosuch", known) == []
    with pytest.raises(names.AmbiguousName, match="2 scripts"):
        names.resolve("a.py:smooth", known)
    with pytest.raises(names.AmbiguousName):
        names.resolve("__main__:smooth", known)
