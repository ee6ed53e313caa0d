import os
from pathlib import Path

import pytest

import hotpath


@pytest.fixture(scope="session", autouse=True)
def state_dir(tmp_path_factory) -> Path:
    """One state folder per test session, so generated modules and Numba's cache are reused."""
    folder = tmp_path_factory.mktemp("hotpath-state")
    os.environ["HOTPATH_HOME"] = str(folder)
    # Tests inspect every candidate's trial; on a loaded machine the default 60 s budget could
    # stop a run early, and which candidates ran would depend on the load. Tests of the budget
    # pass their own.
    os.environ["HOTPATH_BUDGET_S"] = "none"
    return folder


@pytest.fixture(scope="session")
def fast() -> hotpath.Config:
    """Settings that keep a tuning run to a few seconds: Numba only (each backend has its own
    test file), a short timing budget, real checks. The cost model is off so every candidate
    runs and tests can inspect each; the model's own tests turn it on."""
    return hotpath.Config(backends=("numba",), timing_budget_s=0.3, compile_timeout_s=60.0, cost_model=False)


@pytest.fixture(params=["compiled", "pure"])
def dispatch_path(request):
    """Each test on the compiled dispatch path and on the pure-Python one."""
    from hotpath import fastpath

    if request.param == "compiled" and not fastpath.available():
        pytest.skip("hotpath._fastpath is not built")
    assert fastpath.use(request.param == "compiled") == (request.param == "compiled")
    yield request.param
    fastpath.use(fastpath.requested())
