"""Which lines of the original the verification inputs execute, and a search for inputs that reach more.

Runs inside the reference worker. Lines are counted with ``sys.settrace`` restricted to the
code objects of the original and its user helpers (their comprehensions included), so library
code costs no tracing. The search mutates the values of known inputs (signs, magnitudes, NaN,
zeros, sizes, flipped flags), keeps the signature, and keeps a mutant when the original, run on
it, executes a line no input executed before: a branch taken only for negative values, a
``raise`` only for an empty input. Every candidate is then verified on those inputs too.
"""

from __future__ import annotations

import math
import random
import sys
import time
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import numpy as np

from hotpath.runner import probes
from hotpath.runner.inputs import CAPTURED, SHAPE_CASES, InputCase, at, probe_of, shrunk
from hotpath.runner.outcome import Outcome
from hotpath.signature import signature_of

#: Found inputs kept at most: every candidate is verified on each.
MAX_FOUND = 16
#: The search gives up after this many mutants in a row reach no new line: what is left is
#: most likely unreachable by value changes (a ``raise`` for a wrong type, dead code).
PATIENCE = 400
SEARCH_PREFIX = "search"


@dataclass(frozen=True)
class LineCoverage:
    """Lines of the original and its helpers that the verification inputs executed."""

    run: int
    total: int
    found: int = 0  # inputs the search added
    search_s: float = 0.0

    @property
    def percent(self) -> float:
        return 100.0 * self.run / self.total if self.total else 100.0


def functions(original: Callable[..., Any], qualnames: Iterable[str] = ()) -> list[types.FunctionType]:
    """``original`` and the helpers named in ``qualnames`` it reaches through its globals."""
    wanted = set(qualnames)
    found: list[types.FunctionType] = []
    stack: list[Any] = [getattr(original, "__hotpath_original__", original)]
    while stack:
        fn = stack.pop()
        if not isinstance(fn, types.FunctionType) or any(fn is f for f in found):
            continue
        found.append(fn)
        cells = dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__ or ())))
        for name in _names(fn.__code__):
            value = cells.get(name, fn.__globals__.get(name))
            value = getattr(value, "__hotpath_original__", value)
            if isinstance(value, types.FunctionType) and value.__qualname__ in wanted:
                stack.append(value)
    return found


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


class LineTracer:
    """Records the lines executed in the given functions while it is entered."""

    def __init__(self, traced: list[types.FunctionType]) -> None:
        self.codes = {code for fn in traced for code in _codes(fn.__code__)}
        self.lines: set[tuple[str, int]] = set()
        self.total: set[tuple[str, int]] = set()
        for fn in traced:
            for code in _codes(fn.__code__):
                lines = {line for _, _, line in code.co_lines() if line is not None}
                if code is fn.__code__:
                    lines.discard(code.co_firstlineno)  # the ``def`` (or decorator) line
                self.total |= {(code.co_filename, line) for line in lines}
        self._previous: Any = None

    def _global(self, frame: FrameType, event: str, arg: Any) -> Any:
        return self._local if frame.f_code in self.codes else None

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.lines.add((frame.f_code.co_filename, frame.f_lineno))
        return self._local

    def __enter__(self) -> LineTracer:
        self._previous = sys.gettrace()
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(self._previous)

    def coverage(self, found: int = 0, search_s: float = 0.0) -> LineCoverage:
        return LineCoverage(len(self.lines & self.total), len(self.total), found, search_s)


# --- mutations ----------------------------------------------------------------------------------


def _mutate_scalar(value: Any, peers: list[Any], rng: random.Random) -> tuple[str, Any]:
    if isinstance(value, (bool, np.bool_)):
        return "flip", type(value)(not value)
    if isinstance(value, (int, np.integer)):
        choices = [("negate", -value), ("zero", 0), ("one", 1), ("minus-one", -1),
                   ("small", rng.randint(-10, 10)), ("grow", value * 2 ** rng.randint(1, 70) + 1)]
    else:
        choices = [("negate", -value), ("zero", 0.0), ("negative-zero", -0.0), ("nan", math.nan),
                   ("inf", rng.choice((math.inf, -math.inf))), ("tiny", rng.choice((1e-300, -1e-300))),
                   ("scale", value * 10.0 ** rng.randint(-8, 300)), ("small", rng.uniform(-10, 10))]
    if peers:  # another argument's value, or next to it: branches often compare two arguments
        choices.append(("like-another", rng.choice(peers) + rng.choice((-1, 0, 1))))
    name, new = rng.choice(choices)
    try:
        return name, type(value)(new)
    except (OverflowError, ValueError):
        return "negate", type(value)(-value)


def _mutate_values(values: np.ndarray, rng: random.Random) -> tuple[str, np.ndarray]:
    new = np.array(values, copy=True).reshape(-1)
    if new.size == 0:
        return "empty", new.reshape(values.shape)
    kind = new.dtype.kind
    i = rng.randrange(new.size)
    if kind == "b":
        new[i] = not new[i]
        return "flip-one", new.reshape(values.shape)
    choices = ["negate-all", "negate-some", "zero-one", "zero-all", "extreme-one", "small-ints"]
    if kind == "f":
        choices += ["nan-one", "scale"]
    name = rng.choice(choices)
    if name == "negate-all" and kind != "u":
        new = -new
    elif name == "negate-some" and kind != "u":
        mask = np.array([rng.random() < 0.5 for _ in range(new.size)])
        new[mask] = -new[mask]
    elif name == "zero-one":
        new[i] = 0
    elif name == "zero-all":
        new[:] = 0
    elif name == "extreme-one":
        info = np.finfo(new.dtype) if kind == "f" else np.iinfo(new.dtype)
        new[i] = info.max if rng.random() < 0.5 or kind == "u" else info.min
    elif name == "small-ints":
        low = 0 if kind == "u" else -3
        new[:] = [rng.randint(low, max(3, new.size)) for _ in range(new.size)]
    elif name == "nan-one":
        new[i] = np.nan
    elif name == "scale":
        new *= 10.0 ** rng.randint(-8, 300)
    return name, new.reshape(values.shape)


def _is_scalar(value: Any) -> bool:
    return type(value) not in (np.ndarray, list)


def mutate(case: InputCase, params: tuple[str, ...], rng: random.Random) -> InputCase | None:
    """One random change to ``case``'s values (or sizes), named for the report, with its probe."""
    found = probes.leaves(case.args, params)
    if not found or rng.random() < 0.1:
        target = rng.randint(0, 6)
        args = shrunk(case.args, target)
        return None if args is None else InputCase(f"{SEARCH_PREFIX}/size-{target}", args)
    leaf = rng.choice(found)
    value = leaf.value
    if type(value) is np.ndarray:
        how, new = _mutate_values(value, rng)
    elif type(value) is list:
        how, array = _mutate_values(np.array(value), rng)
        new = [type(value[0])(v) for v in array.tolist()]  # type: ignore[assignment]
    else:
        peers = [other.value for other in found if other is not leaf and _is_scalar(other.value)
                 and not isinstance(other.value, (bool, np.bool_))]
        how, new = _mutate_scalar(value, peers, rng)
    args = probes.with_leaf(case.args, leaf.path, new)
    # Only the changed leaf differs from a plain input (or from a probe of the same leaf).
    single = case.name in SHAPE_CASES or (case.probe is not None and case.probe.path == leaf.path)
    probe = probe_of(leaf.path, at(args, leaf.path)) if single else None
    return InputCase(f"{SEARCH_PREFIX}/{leaf.name}/{how}", args, probe)


def search(run: Callable[[InputCase], Outcome | None], tracer: LineTracer, seeds: list[InputCase],
           params: tuple[str, ...], budget_s: float, seed: int = 0) -> list[tuple[InputCase, Outcome]]:
    """Mutants of ``seeds`` on which the original (``run``, traced) executes new lines.

    ``run`` returns None when the original took too long on an input. Stops at ``budget_s``,
    at ``MAX_FOUND`` inputs, after ``PATIENCE`` fruitless mutants, or when every line has run.
    """
    if not seeds:
        return []
    rng = random.Random(seed)
    signature = signature_of(seeds[0].args)
    corpus = list(seeds)
    found: list[tuple[InputCase, Outcome]] = []
    names: set[str] = {c.name for c in seeds}
    deadline = time.perf_counter() + budget_s
    idle = 0  # mutants run since the last new line
    while time.perf_counter() < deadline and len(found) < MAX_FOUND and idle < PATIENCE \
            and len(tracer.lines & tracer.total) < len(tracer.total):
        mutant = mutate(rng.choice(corpus), params, rng)
        if mutant is None or signature_of(mutant.args) != signature:
            continue
        before = len(tracer.lines)
        outcome = run(mutant)
        idle += 1
        if outcome is None or len(tracer.lines) == before:
            continue
        idle = 0
        name, n = mutant.name, 2
        while name in names:
            name, n = f"{mutant.name}#{n}", n + 1
        names.add(name)
        kept = InputCase(name, mutant.args, mutant.probe)
        corpus.append(kept)
        found.append((kept, outcome))
    return found


def seeds(cases: list[InputCase], outcomes: dict[str, Outcome], captured_cheap: bool) -> list[InputCase]:
    """The inputs worth mutating: the kept ones the original answered, the captured one if cheap."""
    return [c for c in cases if c.name in outcomes and outcomes[c.name].raised is None
            and (c.name != CAPTURED or captured_cheap)]


__all__ = ["LineCoverage", "LineTracer", "MAX_FOUND", "functions", "mutate", "search", "seeds"]
