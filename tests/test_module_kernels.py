"""Module-sized kernels: module-level constants and NumPy-style helpers, arrays updated in place.

A reduced version of what ``bench/heldout/ocean.py`` measures: the kernel reads module-level
float constants, calls a ``np.where`` helper and a tridiagonal solve along the last axis, and
writes two argument arrays through slices.
"""

import ast

import numpy as np
import pytest

import hotpath
from hotpath.kernels.numba_backend import BACKEND
from hotpath.rewriter.reduction_order import keep_order
from hotpath.rewriter.inline import inline_helpers
from hotpath.rewriter.source import extract
from hotpath.runner.trials import OK_STATUSES

dt_mix = 600.0
drag = 1.2e-3
kappa_floor = 1.0e-6
offset = -2.0


def floor_at(x, floor):
    """``x`` where it exceeds ``floor``, else ``floor``."""
    return np.where(x > floor, x, floor)


def solve_columns(a, b, c, d):
    """Thomas algorithm along the last axis of (columns, levels) arrays."""
    n = a.shape[-1]
    cp = np.zeros_like(a)
    dp = np.zeros_like(a)
    cp[:, 0] = c[:, 0] / b[:, 0]
    dp[:, 0] = d[:, 0] / b[:, 0]
    for k in range(1, n):
        denom = b[:, k] - a[:, k] * cp[:, k - 1]
        cp[:, k] = c[:, k] / denom
        dp[:, k] = (d[:, k] - a[:, k] * dp[:, k - 1]) / denom
    x = np.zeros_like(a)
    x[:, n - 1] = dp[:, n - 1]
    for k in range(n - 2, -1, -1):
        x[:, k] = dp[:, k] - cp[:, k] * x[:, k + 1]
    return x


def mix_columns(temp, temp_new, kappa, dz):
    """Implicit vertical diffusion of ``temp`` into ``temp_new``; ``kappa`` floored in place."""
    kappa[...] = floor_at(kappa, kappa_floor)
    depth = np.cumsum(dz)
    a = np.zeros_like(kappa)
    c = np.zeros_like(kappa)
    a[:, 1:] = -dt_mix * kappa[:, :-1] / (dz[1:] * dz[:-1])
    c[:, :-1] = -dt_mix * kappa[:, :-1] / (dz[:-1] * dz[:-1])
    b = 1.0 - a - c + dt_mix * drag / depth[-1]
    temp_new[:, :] = solve_columns(a, b, c, temp) + (offset ** 2) * 0.0


def triad_slopes(drdT, dTdx, dTdz, slopes):
    """Neutral slopes at the 2x2 triads of each east face, written into ``slopes``; their taper summed."""
    nx, nz = drdT.shape
    total = np.zeros((nx - 2, nz - 2))
    for kr in range(2):
        for ip in range(2):
            drodx = drdT[1 + ip:nx - 1 + ip, 1:-1] * dTdx[1:-1, 1:-1]
            drodz = drdT[1 + ip:nx - 1 + ip, 1:-1] * dTdz[1 + ip:nx - 1 + ip, kr:nz - 2 + kr]
            sx = -drodx / (np.minimum(0.0, drodz) - 1e-20)
            taper = 0.5 * (1.0 + np.tanh((-np.abs(sx) + 1e-3) / 4e-4))
            total += taper
            slopes[1:-1, 1:-1, ip, kr] = taper * sx
    return total


def _triad_args():
    rng = np.random.default_rng(1803)
    shape = (14, 9)
    # Most slopes far beyond the taper's width, so tanh saturates at -1, as in a real ocean.
    return (-0.2 - 0.01 * rng.random(shape), 1e-3 * rng.standard_normal(shape), -1e-2 * rng.random(shape),
            np.zeros(shape + (2, 2)))


def _args():
    rng = np.random.default_rng(18)
    temp = 10.0 + rng.standard_normal((12, 6))
    kappa = 1e-3 * rng.standard_normal((12, 6))
    return temp, np.zeros_like(temp), kappa, np.linspace(20.0, 5.0, 6)


def test_module_constants_are_folded_as_literals_in_the_function_and_its_helpers():
    fs = extract(mix_columns)
    tree = fs.tree
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"dt_mix", "drag", "kappa_floor", "offset"}
    assert "600.0 * 0.0012" in fs.source and "(-2.0) ** 2" in fs.source
    assert {h.name for h in fs.helpers} == {"floor_at", "solve_columns"}
    # still references, so a changed constant is noticed and changes the variant's key
    assert {"dt_mix", "drag", "kappa_floor", "offset"} <= {r.name for r in fs.refs}


def test_a_name_the_function_binds_itself_is_not_folded():
    def shadows(x):
        return [drag * v for drag in (1, 2) for v in x]

    assert "drag * v" in extract(shadows).source


def test_cumsum_is_not_a_reassociated_reduction():
    tree = ast.parse("def f(x):\n    return np.cumsum(x) + x.cumsum()").body[0]
    assert keep_order(tree, {"np": "numpy"}).reassociations == ()


@pytest.mark.slow
def test_a_module_kernel_gets_a_verified_numba_variant(fast, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTPATH_HOME", str(tmp_path))
    result = hotpath.tune(mix_columns, *_args(), config=fast)
    # On the empty and zero-divisor probes the original raises where plain njit does not, so the
    # verified variant may be a refinement (bounds checks, NumPy's error model) of the plain one.
    verified = [t for t in result.trials if t.backend == "numba" and t.status in OK_STATUSES]
    assert verified, "\n".join(f"{t.name}: {t.status} {t.reason[:300]}" for t in result.trials)
    plain = verified[0]
    assert plain.cases_checked > 1  # the captured call and generated edge cases

    expected_args, got_args = _args(), _args()
    expected = mix_columns(*expected_args)
    variant = BACKEND.load(plain.candidate)
    assert variant(*got_args) is expected is None
    for want, have in zip(expected_args[1:3], got_args[1:3]):
        np.testing.assert_allclose(have, want, rtol=1e-12)


def test_one_expression_helpers_are_inlined_with_their_arguments_and_others_are_not():
    fs = extract(mix_columns)
    tree, inlined = inline_helpers(fs.tree, [h.tree for h in fs.helpers])
    source = ast.unparse(tree)
    assert inlined == ("floor_at",)
    assert "kappa[...] = np.where(kappa > 1e-06, kappa, 1e-06)" in source
    assert "solve_columns(a, b, c, temp)" in source  # loops and locals: left a call
    assert "floor_at" in fs.source  # the extracted function itself is unchanged


def test_a_helper_called_on_an_expression_gets_it_once_through_a_name():
    def twice(x):
        return floor_at(x * 2.0, 0.0)  # x * 2.0 is computed once, as the call does

    fs = extract(twice)
    tree, inlined = inline_helpers(fs.tree, [h.tree for h in fs.helpers])
    assert inlined == ("floor_at",)
    assert ast.unparse(tree).count("x * 2.0") == 1


@pytest.mark.slow
def test_slices_offset_by_loop_variables_fuse_in_a_verified_variant(fast, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTPATH_HOME", str(tmp_path))
    result = hotpath.tune(triad_slopes, *_triad_args(), config=fast)
    fused = next(t for t in result.trials if t.name.startswith("numba-fused") and t.candidate is not None)
    assert fused.status in OK_STATUSES, fused.reason
    # Every statement of the triad loop became loops: no slice of drdT is left for NumPy or Numba.
    assert "drdT[1 + ip:" not in fused.candidate.source
    expected_args, got_args = _triad_args(), _triad_args()
    expected = triad_slopes(*expected_args)
    got = BACKEND.load(fused.candidate)(*got_args)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(got_args[3], expected_args[3], rtol=1e-9, atol=1e-300)
