"""The Pythran backend: export lines from signatures, real builds, the build cache, OpenMP, absence.

Builds are real (``pythran`` and the C++ compiler, 10-80 s each on a loaded 2-core machine), so
the module builds as few as it can: one kernel tuned twice (the second tune must build nothing),
one loop kernel with and without OpenMP, one build of an export line with every array layout,
and one compile error (Pythran refuses it before any C++ is compiled).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.errors import NotRewritable
from hotpath.kernels import pythran_backend
from hotpath.kernels.pythran_backend import export_line, export_type, with_openmp
from hotpath.signature import signature_of

REPO = Path(__file__).resolve().parents[1]
SCALE = 0.5  # read by value: becomes a module constant of the generated module

pytestmark = pytest.mark.slow


def needs_pythran() -> None:
    availability = pythran_backend.BACKEND.availability()
    if not availability.ok:
        pytest.fail(f"the Pythran tests need Pythran and a C++ compiler (test extra): {availability.reason}")


def builds(state_dir: Path) -> list[dict]:
    log = state_dir / "kernels" / pythran_backend.BUILD_LOG
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def pythran_config(fast: hotpath.Config) -> hotpath.Config:
    needs_pythran()
    # Pythran builds are slow on a shared machine; a timed-out build would be a failed candidate.
    # Both candidates must be built and verified here, so none is left out as unlikely to win
    # (by the cost model, where there is one).
    every = {"cost_model": False} if "cost_model" in {f.name for f in dataclasses.fields(hotpath.Config)} else {}
    # These kernels sum floats, which Pythran vectorizes (another order than NumPy's): such a
    # candidate is tried only with a tolerance loose enough for reassociation (the default
    # tolerance's refusal is tested in test_reassociation.py).
    return fast.replace(backends=("pythran",), compile_timeout_s=400.0, rtol=1e-6, **every)


# -- kernels -------------------------------------------------------------------------------------
def _energy_density(x):
    return np.exp(-x ** 2) * np.sin(3.0 * x)


def wave_energy(x, damping):
    """Vectorized, with a helper and a global constant: one Pythran module holds all three."""
    return np.sum(_energy_density(x) + SCALE * np.cos(damping * x) ** 2)


def row_norms(a):
    """A loop whose rows are independent, with a reduction over them."""
    n = a.shape[0]
    out = np.empty(n)
    total = 0.0
    for i in range(n):
        s = 0.0
        for j in range(a.shape[1]):
            s = a[i, j] * a[i, j] + s  # `s += ...` would read as a reduction of the outer loop too
        out[i] = np.sqrt(s)
        total += out[i]
    return out, total


def softmax_keepdims(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)


def layouts(c, f, strided, ints, flags, scale, count):
    return c.sum() * scale + f[0, -1] + strided.sum() + ints.sum() + flags.sum() + count


# -- export lines ------------------------------------------------------------------------------
def test_export_types_follow_dtype_rank_and_layout():
    c = np.zeros((3, 4))
    spec = signature_of((c, np.asfortranarray(c), c[:, 1], np.zeros(5, np.int32), np.zeros(3, bool), 2.0, 3,
                         (c[0], 1.5), [1.0, 2.0], np.float32(1.0))).args
    assert [export_type(s) for s in spec] == [
        "float64[:,:] order(C)", "float64[:,:] order(F)", "float64[::]", "int32[:]", "bool[:]", "float", "int",
        "(float64[:], float)", "float list", "float32",
    ]
    assert export_line("f", signature_of((c, 2.0))) == "#pythran export f(float64[:,:] order(C), float)"


@pytest.mark.parametrize("value,reason", [
    (np.zeros(3).view(), "read-only"),
    (np.zeros((2, 2, 2), order="F"), "Fortran order"),
    (np.zeros((4, 4))[:, ::2], "one dimension only"),
    (np.float16(1.0), "float16"),
    (object(), "cannot take"),
    ([], "empty list"),
])
def test_unexpressible_signatures_are_skipped_with_a_reason(value, reason):
    if isinstance(value, np.ndarray) and reason == "read-only":
        value.flags.writeable = False
    with pytest.raises(NotRewritable, match=reason):
        export_type(signature_of((value,)).args[0])


def test_every_array_layout_builds_and_is_accepted(tmp_path):
    needs_pythran()
    c = np.arange(12.0).reshape(3, 4)
    args = (c, np.asfortranarray(c), c[:, 2], np.arange(5, dtype=np.int32), np.ones(3, bool), 2.0, 7)
    source = "\n".join([export_line("layouts", signature_of(args)), "import numpy as np", "",
                        textwrap.dedent(inspect.getsource(layouts))])
    path = tmp_path / "kernels" / "owner" / "layouts_mod.py"
    path.parent.mkdir(parents=True)
    path.write_text(source)
    binary, built = pythran_backend.build(path, source, pythran_backend.FLAGS)
    assert built and binary.exists()
    module = pythran_backend.native_build.load_extension(binary, path.stem, "pythran")
    assert module.layouts(*args) == pytest.approx(layouts(*args))
    # An int beyond int64 is refused while converting, with an error the dispatcher answers by
    # running the original instead.
    with pytest.raises(pythran_backend.BACKEND.invocation_errors()):
        module.layouts(*args[:-1], 2 ** 70)


# -- OpenMP ----------------------------------------------------------------------------------------
def test_openmp_pragmas_carry_the_reductions_of_the_loop():
    tree = ast.parse(textwrap.dedent('''
        def f(a, out):
            total = 0.0
            biggest = -1.0
            for i in range(a.shape[0]):
                s = 0.0
                for j in range(a.shape[1]):
                    s = a[i, j] + s
                out[i] = s
                total += s
                biggest = max(biggest, s)
            return total, biggest
    ''')).body[0]
    source, notes = with_openmp(tree)
    lines = source.splitlines()
    pragma = next(n for n, line in enumerate(lines) if "#omp" in line)
    assert lines[pragma].strip() == "#omp parallel for reduction(max:biggest) reduction(+:total)", source
    assert lines[pragma + 1].strip().startswith("for i in range(")
    assert source.count("#omp") == 1  # the inner loop is inside a parallel one; `s` is private
    assert any("#omp parallel for" in note for note in notes)


def test_loops_with_carried_dependencies_get_no_pragma():
    tree = ast.parse(textwrap.dedent('''
        def f(x):
            for i in range(1, x.shape[0]):
                x[i] = x[i - 1] * 0.5 + x[i]
            return x
    ''')).body[0]
    source, notes = with_openmp(tree)
    assert "#omp" not in source and "kept serial" in notes[0]


# -- end to end ------------------------------------------------------------------------------------
def test_tune_builds_once_and_the_second_tune_builds_nothing(pythran_config, state_dir):
    x = np.random.default_rng(5).standard_normal(20_000)
    before = len(builds(state_dir))
    first = hotpath.tune(wave_energy, x, 1.5, config=pythran_config)
    # Pythran returns a Python float where the original gives np.float64: verified with a cast.
    trial = next(t for t in first.trials if t.name.startswith("pythran") and "openmp" not in t.name and t.correct)
    source = trial.candidate.source
    assert "#pythran export wave_energy(float64[:], float)" in source
    assert "def _energy_density(x):" in source and "SCALE = 0.5" in source  # helper and constant inside
    assert len(builds(state_dir)) == before + 1
    assert first.optimized(x, 1.5) == pytest.approx(wave_energy(x, 1.5), rel=1e-12)

    second = hotpath.tune(wave_energy, x, 1.5, config=pythran_config)
    again = next(t for t in second.trials if t.name == trial.name)
    assert again.correct and again.candidate.path == trial.candidate.path
    assert len(builds(state_dir)) == before + 1, "the cached binary was rebuilt"


def test_openmp_candidate_is_built_and_verified(pythran_config):
    a = np.random.default_rng(6).standard_normal((400, 64))
    result = hotpath.tune(row_norms, a, config=pythran_config)
    trials = {t.name: t for t in result.trials}
    # Both return Python floats where the original gives np.float64: verified with a cast.
    assert trials["pythran+cast-return"].correct, result.summary()
    openmp = trials["pythran-openmp+cast-return"]
    assert openmp.correct, result.summary()
    assert "#omp parallel for reduction(+:total)" in openmp.candidate.source
    out, total = result.optimized(a) if result.winner else row_norms(a)
    np.testing.assert_allclose(out, np.sqrt((a * a).sum(axis=1)), rtol=1e-12)


def test_a_compile_error_is_a_failed_candidate_with_pythrans_message(pythran_config):
    logits = np.random.default_rng(7).standard_normal((50, 8))
    result = hotpath.tune(softmax_keepdims, logits, config=pythran_config)
    trial = next(t for t in result.trials if t.name == "pythran")
    assert trial.status == "failed", result.summary()
    assert "pythran failed" in trial.reason
    assert f"{trial.candidate.path.stem}.py:" in trial.reason  # file:line:col of the refused call
    assert result.winner is None
    np.testing.assert_allclose(result.optimized(logits), softmax_keepdims(logits))  # the original runs


@pytest.mark.parametrize("setup,reason", [
    ("sys.modules['pythran'] = None", "Pythran is not installed"),
    ("os.environ['CXX'] = '/nonexistent/c++'", "no C++ compiler"),
])
def test_missing_pythran_or_compiler_skips_with_the_reason(setup, reason, tmp_path):
    script = textwrap.dedent(f'''
        import os, sys
        {setup}
        import numpy as np
        import hotpath
        from tests.test_pythran import wave_energy
        config = hotpath.Config(backends=("pythran",), state_dir=r"{tmp_path}")
        result = hotpath.tune(wave_energy, np.ones(10), 1.0, config=config)
        trial = result.trials[0]
        print(trial.status, "|", trial.reason)
        assert result.optimized(np.ones(10), 1.0) == wave_energy(np.ones(10), 1.0)
    ''')
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    status, _, why = done.stdout.strip().splitlines()[-1].partition(" | ")
    assert status == "skipped" and reason in why, done.stdout
