"""`hotpath run`'s cost check: a stored winner is loaded only where it pays for its loading."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hotpath
from hotpath import persist, watch
from hotpath.profiles import costcheck, loading, programs
from hotpath.profiles.loading import Stage, load_plan, staged

SIG = "(array(float64, 1d, C),)"


def _run(calls: int, original_s: float, speedup: float, load_s: float,
         args: tuple[str, ...] | None = ("--size", "small")) -> programs.ProgramRun:
    function = programs.FunctionRun({SIG: programs.SignatureRun(calls, original_s, speedup)}, "numba", load_s)
    return programs.ProgramRun("/x/prog.py", 1.0, {"kern:smooth": function}, args)


def test_a_winner_that_saves_more_than_its_load_is_loaded_on_the_first_call() -> None:
    # (100 - 22 shadowed) x 20 ms - 100 x 20 ms / 50 = 1.52 s saved against 0.8 s to load
    assert load_plan({("kern", "smooth")}, _run(100, 0.02, 50.0, 0.8)) == {("kern", "smooth"): Stage(0.0)}


def test_a_winner_that_saves_less_than_its_measured_load_waits_for_that_much_time_in_the_original() -> None:
    # 25 calls x 36 ms at 1000x, as measured on a one-second program: 18 calls are shadow-verified,
    # so 0.25 s saved against 1.5 s to load (all 25 calls would have claimed 0.9 s)
    plan = load_plan({("kern", "smooth")}, _run(25, 0.036, 1000.0, 1.5))
    assert plan == {("kern", "smooth"): Stage(1.5)}


def test_functions_without_numbers_are_loaded_on_their_first_call() -> None:
    names = {("kern", "smooth"), ("__main__", "other")}
    assert load_plan(names, None) == dict.fromkeys(names, Stage(0.0))
    assert load_plan(names, _run(10, 0.02, 50.0, 0.8))[("__main__", "other")] == Stage(0.0)


def test_the_loader_thread_is_asked_for_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loading.LOAD_THREAD_ENV, "1")
    assert load_plan({("kern", "smooth")}, _run(25, 0.036, 1000.0, 1.5))[("kern", "smooth")] == Stage(1.5, True)
    monkeypatch.setenv(loading.LOAD_THREAD_ENV, "0")
    assert load_plan({("kern", "smooth")}, None)[("kern", "smooth")] == Stage(0.0, False)


def test_the_saving_counts_the_shadow_verified_calls_of_a_warm_install() -> None:
    assert programs.PROBATION_CALLS == watch.PROBATION_CALLS
    assert [programs.shadowed_calls(n) for n in (1, 16, 17, 18, 25, 30, 1000)] == [1, 16, 16, 17, 18, 19, 24]
    few = _run(16, 0.02, 50.0, 0.0).functions["kern:smooth"]
    assert few.saving_s < 0  # every call also ran the original: the variant's time is all it added
    assert abs(_run(25, 0.02, 50.0, 0.0).functions["kern:smooth"].saving_s - (7 * 0.02 - 25 * 0.02 / 50)) < 1e-12


def _original(x: int) -> int:
    return x + 1


def test_deferred_loads_on_the_caller_once_the_budget_is_spent_and_then_calls_the_replacement() -> None:
    loads: list[int] = []

    def load() -> Callable[..., Any]:
        loads.append(1)
        return lambda x: x + 100

    never = staged(_original, Stage(1e9), load)
    assert [never(i) for i in range(3)] == [1, 2, 3] and not loads
    at_once = staged(_original, Stage(0.0), load)
    assert at_once(1) == 101 and len(loads) == 1  # loaded before the first call returned
    soon = staged(_original, Stage(1e-9), load)
    assert soon(1) == 2  # this call ran the original and spent the budget
    assert soon(1) == 101 and soon(2) == 102 and len(loads) == 2


def test_on_the_loader_thread_the_original_answers_until_the_replacement_is_ready() -> None:
    release = threading.Event()
    seen: list[tuple[object, ...]] = []
    caller = threading.get_ident()

    def preload(args: tuple[object, ...]) -> None:
        assert threading.get_ident() != caller  # off the caller's path
        seen.append(args)

    def load() -> Callable[..., Any]:
        release.wait(30)
        return lambda x: x + 100

    fn = staged(_original, Stage(0.0, background=True), load, preload)
    assert fn(x=1) == 2  # starts the load; keywords are bound to positions for the preload
    assert [fn(i) for i in range(3)] == [1, 2, 3]  # the load is pending: the original answers
    release.set()
    for thread in threading.enumerate():
        if thread.name == "hotpath-load-_original":
            thread.join(30)
    assert seen == [(1,)] and fn(1) == 101


def test_a_failed_load_leaves_the_original() -> None:
    def load() -> Callable[..., Any]:
        raise ImportError("no backend here")

    fn = staged(_original, Stage(0.0), load)
    assert fn(1) == 2 and fn(2) == 3


def test_the_program_record_round_trips(tmp_path: Path) -> None:
    run = _run(10, 0.02, 50.0, 0.8)
    path = programs.write(tmp_path, run)
    assert path == programs.record_path(tmp_path, run.script)
    assert programs.read(tmp_path, run.script) == run


def test_only_a_run_of_the_recorded_program_is_judged_by_the_record(tmp_path: Path) -> None:
    script = tmp_path / "prog.py"
    script.write_text("print(1)\n")
    programs.write(tmp_path, programs.ProgramRun(str(script), 1.0, _run(100, 0.02, 50.0, 0.8).functions, ("25",)))
    assert programs.nothing_to_load(tmp_path, str(script), ["25"]) == f"no active stored winner in {tmp_path}"
    assert programs.nothing_to_load(tmp_path, str(script), ["250"]) is None  # another run: runscript weighs it
    script.write_text("print(2)\n")
    assert programs.nothing_to_load(tmp_path, str(script), ["25"]) is None  # an edited program: likewise
    programs.write(tmp_path, programs.ProgramRun(str(script), 1.0, _run(100, 0.02, 50.0, 0.8).functions, None))
    assert programs.nothing_to_load(tmp_path, str(script), ["25"]) is None  # arguments not recorded


def test_a_scripts_functions_are_matched_by_its_path_as_the_store_names_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "prog.py"
    script.write_text("print(1)\n")
    function = _run(25, 0.036, 1000.0, 1.5).functions["kern:smooth"]  # never pays for its load
    programs.write(tmp_path, programs.ProgramRun(str(script), 1.0, {"__main__:smooth": function}, ("25",)))
    for stored_as in (f"{script.resolve()}:smooth", "__main__:smooth"):  # today's stores, and older ones
        monkeypatch.setattr(costcheck, "active_names", lambda state, name=stored_as: {name})
        reason = programs.nothing_to_load(tmp_path, str(script), ["25"])
        assert reason is not None and "not installing the numba winners" in reason, stored_as


def test_a_run_like_the_recorded_one_loads_nothing_even_where_it_spends_the_load_cost_in_the_original(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "prog.py"
    script.write_text("print(1)\n")
    # 25 calls x 36 ms: 0.9 s in the original, more than the 0.5 s load; 0.25 s saved, less than it
    function = _run(25, 0.036, 1000.0, 0.5).functions["kern:smooth"]
    assert function.original_total_s > 0.5 > function.saving_s
    programs.write(tmp_path, programs.ProgramRun(str(script), 1.0, {"kern:smooth": function}, ("25",)))
    monkeypatch.setattr(costcheck, "active_names", lambda state: {"kern:smooth"})
    reason = programs.nothing_to_load(tmp_path, str(script), ["25"])
    assert reason is not None and "not installing the numba winners of kern:smooth" in reason


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, fast: hotpath.Config) -> tuple[hotpath.Config, np.ndarray]:
    """``sum_squares`` tuned with its winner stored in a state folder of its own."""
    from tests import sample_kernels

    config = fast.replace(state_dir=tmp_path_factory.mktemp("run-cost"), background=False)
    a = np.random.default_rng(0).random(2_000)
    assert hotpath.tune(sample_kernels.sum_squares, a, config=config).winner is not None
    return config, a


@pytest.mark.slow
def test_a_run_that_loads_no_winner_is_the_plain_program(stored: tuple[hotpath.Config, np.ndarray]) -> None:
    config, _ = stored
    state = config.resolved_state_dir()
    name = "tests.sample_kernels:sum_squares"
    assert programs.active_names(state) == {name}
    script = str(state / "prog.py")
    Path(script).write_text("print(1)\n")

    def record(functions: dict[str, programs.FunctionRun]) -> str | None:
        programs.write(state, programs.ProgramRun(script, 1.0, functions, ("25",)))
        return programs.nothing_to_load(state, script, ["25"])

    # Its measured load cost exceeds the expected saving: nothing is loaded, python runs it.
    reason = record({name: _run(25, 0.036, 1000.0, 1.5).functions["kern:smooth"]})
    assert reason is not None and f"not installing the numba winners of {name}" in reason
    assert record({name: _run(100, 0.02, 50.0, 0.8).functions["kern:smooth"]}) is None  # it pays: loaded
    # A stored winner the record has no cost for would be installed at once.
    assert record(_run(25, 0.036, 1000.0, 1.5).functions) is None


@pytest.mark.slow
def test_the_real_winner_loads_on_the_loader_thread_and_then_answers(
        stored: tuple[hotpath.Config, np.ndarray]) -> None:
    from tests import sample_kernels

    config, a = stored
    release = threading.Event()
    preloaded: list[bool] = []

    def preload(args: tuple[object, ...]) -> None:
        preloaded.append(persist.preload(config, sample_kernels.sum_squares, args))
        release.wait(60)

    made: list[hotpath.Optimized] = []

    def load() -> hotpath.Optimized:
        made.append(hotpath.optimize(sample_kernels.sum_squares, config=config))
        return made[-1]

    fn = staged(sample_kernels.sum_squares, Stage(0.0, background=True), load, preload)
    expected = sample_kernels.sum_squares(a)
    assert fn(a) == expected and fn(a) == expected and not made  # the original, while the load waits
    release.set()
    for thread in threading.enumerate():
        if thread.name == "hotpath-load-sum_squares":
            thread.join(60)
    assert preloaded == [True] and len(made) == 1
    assert np.isclose(fn(a), expected)
    assert made[0].installed  # that call warm-started the stored winner the loader thread had loaded
