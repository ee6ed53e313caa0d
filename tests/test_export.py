"""``hotpath export --patch``: winners tuned with real Numba, written as a patch, applied, and run
in a fresh interpreter where hotpath cannot be imported."""

import json
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.cli import main
from hotpath.export import runtime
from hotpath.runner import adapters
from hotpath.signature import signature_of

KERNELS = '''\
"""Two kernels as a scientist writes them."""
import math

import numpy as np

import hotpath


def growth(x, rate):
    """exp(rate * x), element by element."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = math.exp(rate * x[i])
    return out


@hotpath.optimize
def smooth(u):
    n = u.shape[0]
    out = np.zeros_like(u)
    for i in range(1, n - 1):
        out[i] = 0.25 * u[i - 1] + 0.5 * u[i] + 0.25 * u[i + 1]
    return out
'''

#: Run in the fresh interpreter: hotpath blocked, the patched module imported, results pickled.
CHECK = '''\
import pickle, sys
sys.modules["hotpath"] = None  # any import of hotpath now raises ImportError
sys.path[:0] = {paths!r}
import numpy as np
import hp_export_kernels as k
cases = pickle.load(open({cases!r}, "rb"))
out = []
for name, args in cases:
    try:
        out.append(("ok", getattr(k, name)(*args)))
    except Exception as exc:
        out.append(("raised", type(exc).__name__))
pickle.dump((out, sorted(m for m in sys.modules if "hotpath" in m and sys.modules[m] is not None),
             k.growth.__doc__), open({results!r}, "wb"))
'''


def _cases():
    x = np.linspace(0.0, 1.0, 257)
    return [
        ("growth", (x, 0.5)),
        ("growth", (x[::-1].copy(), -3.0)),
        ("growth", (x, 2000.0)),  # outside the verified range: the original raises OverflowError
        ("growth", (np.array([0.1, np.nan, 0.3]), 1.0)),  # NaN: the finite guard's fallback
        ("growth", (x[::2], 0.5)),  # strided: not the verified signature
        ("smooth", (np.random.default_rng(0).random(300),)),
        ("smooth", (np.arange(10),)),  # int64: not the verified signature
    ]


def _same(a, b):
    if a[0] != b[0]:
        return False
    if a[0] == "raised":
        return a[1] == b[1]
    return type(a[1]) is type(b[1]) and a[1].dtype == b[1].dtype and np.array_equal(a[1], b[1], equal_nan=True)


def _hotpath_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "hotpath.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_exported_patch_runs_without_hotpath_and_keeps_the_guards(tmp_path, fast):
    src = tmp_path / "src"
    src.mkdir()
    (src / "hp_export_kernels.py").write_text(KERNELS)
    state = tmp_path / "state"
    sys.path.insert(0, str(src))
    try:
        import hp_export_kernels as k
    finally:
        sys.path.remove(str(src))
    config = fast.replace(state_dir=str(state))
    grown = hotpath.tune(k.growth, np.linspace(0.0, 1.0, 2000), 0.5, config=config)
    smoothed = hotpath.tune(k.smooth, np.random.default_rng(1).random(2000), config=config)
    assert grown.winner is not None and smoothed.winner is not None, (grown.summary(), smoothed.summary())
    assert any(a.startswith(adapters.RANGE) for a in grown.winner.adapters), grown.summary()

    diff = tmp_path / "changes.diff"
    assert main(["export", "--home", str(state), "--root", str(src), "--patch", str(diff)]) == 0
    text = diff.read_text()
    assert "def _growth_original(x, rate):" in text and "@numba.njit(cache=True" in text
    assert "range guard on argument" in text and "faster [95% CI" in text and "verified on" in text
    assert "-import hotpath\n" in text and "+import hotpath" not in text and "from hotpath" not in text
    assert "-@hotpath.optimize\n" in text  # the decorator goes with the import: the wrapper dispatches

    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(src / "hp_export_kernels.py", copy)
    subprocess.run(["git", "apply", str(diff)], cwd=copy, check=True, capture_output=True)
    assert "_growth_numba" in (copy / "hp_export_kernels.py").read_text()

    cases = tmp_path / "cases.pkl"
    results = tmp_path / "results.pkl"
    pickle.dump(_cases(), cases.open("wb"))
    site_packages = str(Path(np.__file__).resolve().parent.parent)
    script = CHECK.format(paths=[str(copy), site_packages], cases=str(cases), results=str(results))
    subprocess.run([sys.executable, "-S", "-I", "-c", script], cwd=copy, check=True, timeout=300)
    got, hotpath_modules, doc = pickle.load(results.open("rb"))
    assert hotpath_modules == []
    assert doc == "exp(rate * x), element by element."
    expected = []
    for name, args in _cases():
        try:
            expected.append(("ok", getattr(k, name)(*args)))
        except Exception as exc:
            expected.append(("raised", type(exc).__name__))
    assert expected[2] == ("raised", "OverflowError")  # what the fallback must reproduce
    for case, want, have in zip(_cases(), expected, got):
        assert _same(want, have), (case[0], want, have)

    # Failure paths, each one line with its exit status.
    assert main(["export", "--home", str(state), "--root", str(src), "--patch", str(diff), "nosuch"]) == 2
    assert main(["export", "--home", str(tmp_path / "empty"), "--patch", str(diff)]) == 1
    (src / "hp_export_kernels.py").write_text(KERNELS.replace("0.5 * u[i]", "0.5 * u[i] + 0.0"))
    changed = _hotpath_cli("export", "--home", str(state), "--root", str(src), "--patch", str(diff), cwd=src)
    assert changed.returncode == 4 and "hp_export_kernels:smooth: changed since tuning" in changed.stderr
    assert len(changed.stderr.strip().splitlines()) == 1
    (src / "hp_export_kernels.py").rename(src / "moved.py")
    moved = _hotpath_cli("export", "--home", str(state), "--root", str(src), "--patch", str(diff), "growth", cwd=src)
    assert moved.returncode == 4 and "no longer exists" in moved.stderr


def _routes(adapter, args):
    """Whether hotpath's adapter sends ``args`` to the variant (True) or the original (False)."""
    return adapters.apply((adapter,), lambda *a: True, lambda *a: False)(*args)


@pytest.mark.parametrize("args", [
    (np.zeros(3),), (np.zeros((2, 3), order="F"), 1.5), (np.zeros(4)[::2], 2), ((np.zeros(2, np.float32), 3),),
    ([1.0, 2.0],), ([],), (np.float64(1.0), True), (None, "text"),
])
def test_exported_signature_text_is_hotpaths(args):
    assert runtime._hp_signature(args) == str(signature_of(args))


def test_exported_signature_text_under_a_loud_error_state():
    args = (np.zeros(3), 1.0)
    with np.errstate(divide="raise", over="call"):
        assert runtime._hp_signature(args) == str(signature_of(args))
        assert "under np.errstate(" in runtime._hp_signature(args)


def test_exported_signature_text_of_a_read_only_array():
    readonly = np.zeros(2)
    readonly.flags.writeable = False
    assert runtime._hp_signature((readonly,)) == str(signature_of((readonly,))) == "(array(float64, 1d, C, readonly))"


@pytest.mark.parametrize("args", [
    (np.array([1.0, np.nan]),), (np.array([1e200]),), (1e160,), ((np.ones(2), float("inf")),), (np.ones(3), 2.0),
    (np.ones(1), 5.0), (np.array([-0.5, 50.0]),), (200,),
])
def test_exported_guards_answer_as_hotpaths(args):
    assert runtime._hp_all_finite(args) == _routes(adapters.FINITE, args)
    pair = (args[0], args[0])
    assert runtime._hp_distinct(pair) == _routes(adapters.DISTINCT_ARRAYS, pair)
    assert runtime._hp_long_enough(args, 2) == _routes(adapters.MIN_SIZE + "2", args)
    spec = adapters.RANGE + json.dumps([[[0], -1.0, 100.0, False]])
    if type(args[0]) is not tuple:  # a range guards a number or an array of them, never a tuple
            assert runtime._hp_in_range(args, (0,), -1.0, 100.0, False) == _routes(spec, args)
    assert runtime._hp_cast(1.5, "float32") == adapters.cast_value(1.5, "float32")
    assert type(runtime._hp_cast(1.5, "float32")) is np.float32


HELPED = '''\
import numpy as np


def norm2(v):
    total = 0.0
    for i in range(v.shape[0]):
        total += v[i] * v[i]
    return total


def energy(x, out):
    for i in range(x.shape[0]):
        out[i] = 0.5 * x[i] * x[i]
    return norm2(x)
'''


@pytest.mark.slow
def test_helpers_and_several_signatures_are_written_as_separate_variants(tmp_path, fast):
    """Each signature gets its own variant, its helpers renamed with it, so the module's own
    helper stays plain Python for its other callers; a parallel variant brings its prange import.
    (The winners are built from real proposals, not tuned: this is about how they are written.)"""
    from hotpath.export.patch import build
    from hotpath.export.winners import Winner
    from hotpath.kernels import get_backend
    from hotpath.persist import identify
    from hotpath.rewriter.source import extract
    from hotpath.store.verification import Verification

    (tmp_path / "hp_export_helped.py").write_text(HELPED)
    sys.path.insert(0, str(tmp_path))
    try:
        import hp_export_helped as h
    finally:
        sys.path.remove(str(tmp_path))
    fs, key = extract(h.energy), identify(h.energy).function_id.key
    winners = []
    for dtype, variant in ((np.float64, "numba-parallel"), (np.float32, "numba")):
        args = (np.ones(4, dtype), np.zeros(4, dtype))
        signature = signature_of(args)
        candidates = get_backend("numba").propose(fs, signature, fast, tmp_path / "kernels")
        chosen = next(c for c in candidates if getattr(c, "name", None) == variant)
        winners.append(Winner("hp_export_helped", "energy", key, str(signature), "numba", chosen.name, chosen.entry,
                              (adapters.CAST_RETURN + np.dtype(dtype).name,), chosen.path, 3.0, (2.5, 3.5),
                              Verification(), 0.0))
    text = build(winners, tmp_path).diff
    assert "from numba import prange  # hotpath export" in text
    patched = tmp_path / "patched"
    patched.mkdir()
    shutil.copy(tmp_path / "hp_export_helped.py", patched)
    subprocess.run(["git", "apply", "-"], input=text.encode(), cwd=patched, check=True, capture_output=True)
    source = (patched / "hp_export_helped.py").read_text()
    assert "def norm2(v):" in source  # the module's helper, untouched
    assert "def _energy_numba_1__norm2(v):" in source and "def _energy_numba_2__norm2(v):" in source
    namespace: dict = {}
    exec(compile(source, str(patched / "hp_export_helped.py"), "exec"), namespace)
    for x in (np.arange(6.0), np.arange(6, dtype=np.float32), np.arange(6)):
        want_out, got_out = np.zeros_like(x), np.zeros_like(x)
        want = h.energy(x, want_out)
        got = namespace["energy"](x, got_out)
        assert type(got) is type(want) and got == want and np.array_equal(got_out, want_out)
