"""`hotpath run`'s cost check: a stored winner is loaded only where it pays for its loading."""

from __future__ import annotations

from pathlib import Path

from hotpath.profiles import programs
from hotpath.profiles.runscript import deferred, load_plan

SIG = "(array(float64, 1d, C),)"


def _run(calls: int, original_s: float, speedup: float, load_s: float) -> programs.ProgramRun:
    function = programs.FunctionRun({SIG: programs.SignatureRun(calls, original_s, speedup)}, "numba", load_s)
    return programs.ProgramRun("/x/prog.py", 1.0, {"kern:smooth": function})


def test_a_winner_that_saves_more_than_its_load_is_installed_at_once() -> None:
    # 100 calls x 20 ms x (1 - 1/50) = 1.96 s saved against 0.8 s to load
    assert load_plan({("kern", "smooth")}, _run(100, 0.02, 50.0, 0.8)) == {("kern", "smooth"): 0.0}


def test_a_winner_that_saves_less_than_its_load_waits_for_that_much_time_in_the_original() -> None:
    # 10 calls x 20 ms: 0.196 s saved against 0.8 s to load
    assert load_plan({("kern", "smooth")}, _run(10, 0.02, 50.0, 0.8)) == {("kern", "smooth"): 0.8}


def test_functions_without_numbers_are_installed() -> None:
    names = {("kern", "smooth"), ("__main__", "other")}
    assert load_plan(names, None) == dict.fromkeys(names, 0.0)
    assert load_plan(names, _run(10, 0.02, 50.0, 0.8))[("__main__", "other")] == 0.0


def test_deferred_loads_once_the_budget_is_spent_and_then_calls_the_replacement() -> None:
    loads: list[int] = []

    def original(x: int) -> int:
        return x + 1

    def load() -> object:
        loads.append(1)
        return lambda x: x + 100

    never = deferred(original, 1e9, load)
    assert [never(i) for i in range(3)] == [1, 2, 3] and not loads
    soon = deferred(original, 0.0, load)
    assert soon(1) == 2  # this call ran the original and spent the budget
    assert soon(1) == 101 and soon(2) == 102 and len(loads) == 1


def test_the_program_record_round_trips(tmp_path: Path) -> None:
    run = _run(10, 0.02, 50.0, 0.8)
    path = programs.write(tmp_path, run)
    assert path == programs.record_path(tmp_path, run.script)
    assert programs.read(tmp_path, run.script) == run
    assert abs(run.functions["kern:smooth"].saving_s - 10 * 0.02 * (1 - 1 / 50)) < 1e-12
