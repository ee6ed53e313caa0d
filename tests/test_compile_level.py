"""The LLVM level Numba variants compile at: module-sized (outlined) candidates declare O2 in
their module and ``prepare`` compiles them there; every other variant, and every compile under a
user's ``NUMBA_OPT``, keeps Numba's own level."""

from __future__ import annotations

import numpy as np
import pytest

from hotpath.kernels import get_backend
from hotpath.kernels.numba_backend import OPT_LEVEL_GLOBAL, OUTLINED_OPT_LEVEL, compiling_at

numba = pytest.importorskip("numba")


class _RecordsLevel:
    """A variant whose ``compile`` records the level Numba would optimize it at, and whose
    module declares ``declared`` (or nothing) the way a generated module does."""

    def __init__(self, declared: int | None) -> None:
        namespace: dict[str, object] = {} if declared is None else {OPT_LEVEL_GLOBAL: declared}
        exec("def kernel(x):\n    return x", namespace)
        self.py_func = namespace["kernel"]
        self.levels: list[int] = []

    def compile(self, signature: tuple[object, ...]) -> None:
        self.levels.append(int(numba.config.OPT))


def test_compiling_at_sets_the_level_inside_and_restores_numbas_own(monkeypatch):
    monkeypatch.delenv("NUMBA_OPT", raising=False)
    before = numba.config.OPT
    with compiling_at(2):
        assert int(numba.config.OPT) == 2
        assert not numba.config.OPT.is_opt_max  # still Numba's type: its codegen reads more than the int
    assert numba.config.OPT is before
    with compiling_at(None):
        assert numba.config.OPT is before


def test_prepare_compiles_at_the_level_the_module_declares(monkeypatch):
    monkeypatch.delenv("NUMBA_OPT", raising=False)
    default = int(numba.config.OPT)
    declared, undeclared = _RecordsLevel(OUTLINED_OPT_LEVEL), _RecordsLevel(None)
    for variant in (declared, undeclared):
        get_backend("numba").prepare(variant, (np.ones(3),))
    assert declared.levels == [OUTLINED_OPT_LEVEL] != [default]
    assert undeclared.levels == [default]


def test_a_users_numba_opt_is_kept(monkeypatch):
    monkeypatch.setenv("NUMBA_OPT", str(int(numba.config.OPT)))
    variant = _RecordsLevel(OUTLINED_OPT_LEVEL)
    get_backend("numba").prepare(variant, (np.ones(3),))
    assert variant.levels == [int(numba.config.OPT)] != [OUTLINED_OPT_LEVEL]
