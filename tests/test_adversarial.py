"""The adversarial "never wrong" suite: every verified candidate, on inputs it never saw.

Each kernel of ``tests.adversarial_kernels`` is tuned once on realistic arguments with Numba,
Cython and Pythran (a backend that is not installed is skipped by hotpath with its reason).
Then every candidate that verified ("won" or "correct": on another machine any of them may
win) is loaded as tuning installs it and called on each later argument set, as is the
installed dispatcher. Each call must do what the original does on fresh copies of the same
arguments: an equal return value (hotpath's comparison at the default tolerance), the same
scalar types, the same exception type when the original raises, no exception where it
returns, and the same contents of every mutable argument afterwards.

The checks run in a forked child of the test process: a candidate that reads far out of
bounds or loops forever on a later input must fail this kernel's test, not end the session.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import traceback
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hotpath
from hotpath.errors import NotRewritable
from hotpath.fastpath import guard_key
from hotpath.frozen_globals import FrozenGlobals, freeze
from hotpath.kernels import get_backend
from hotpath.rewriter.source import extract
from hotpath.runner import adapters
from hotpath.runner.compare import Tolerance, difference
from hotpath.runner.trials import CORRECT, WON, Trial
from hotpath.signature import signature_of
from tests.adversarial_kernels import FAMILIES, KERNELS, Adversarial, Later

pytestmark = pytest.mark.slow

log = logging.getLogger(__name__)

BACKENDS = ("numba", "cython", "pythran")
DEFAULT = Tolerance(None, 0.0)
#: Wall time the checks of one kernel may take in the child before it counts as hung.
CHECK_LIMIT_S = 120.0
#: Kernels tuned at once ahead of their tests: tuning mostly waits on one compiler or sandbox
#: process at a time, so one per core keeps the cores busy.
TUNE_AHEAD = max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Outcome:
    """What one call did: its value or exception, and its arguments afterwards."""

    value: Any
    raised: BaseException | None
    args_after: tuple[Any, ...]


def call(fn: Callable[..., Any], later: Later) -> Outcome:
    args = later.make()
    context = later.context() if later.context is not None else contextlib.nullcontext()
    with context, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return Outcome(fn(*args), None, args)
        except Exception as exc:  # the original's exceptions are part of its behaviour
            return Outcome(None, exc, args)


def scalar_types(value: Any) -> Any:
    """The types of the scalars in ``value``, through tuples and lists (arrays are compared by
    dtype already)."""
    if isinstance(value, (tuple, list)):
        return type(value)(scalar_types(v) for v in value)
    if isinstance(value, (bool, int, float, complex, np.generic)):
        return type(value)
    return None


def outcome_difference(want: Outcome, got: Outcome) -> str | None:
    """How ``got`` differs from the original's ``want``, or ``None``."""
    if want.raised is not None or got.raised is not None:
        if got.raised is None:
            return f"returned {got.value!r:.80} where the original raised {type(want.raised).__name__}"
        if want.raised is None:
            return (f"raised {type(got.raised).__name__}: {str(got.raised)[:120]} where the original returned "
                    f"(the dispatcher would answer with the original and roll back)")
        if type(got.raised) is not type(want.raised):
            return f"raised {type(got.raised).__name__} where the original raised {type(want.raised).__name__}"
    else:
        found = difference(want.value, got.value, DEFAULT, "return value")
        if found:
            return found
        if scalar_types(want.value) != scalar_types(got.value):
            return f"scalar types {scalar_types(got.value)} instead of {scalar_types(want.value)}"
    return difference(want.args_after, got.args_after, DEFAULT, "arguments after the call")


def as_installed(variant: Callable[..., Any], original: Callable[..., Any],
                 invocation_errors: tuple[type[BaseException], ...],
                 frozen: FrozenGlobals | None) -> Callable[..., Any]:
    """What the dispatcher does around an installed variant besides the guard key: the original
    answers once a global it read has changed, or when the variant cannot take the arguments."""
    def installed(*args: Any) -> Any:
        if frozen is not None and frozen.changed() is not None:
            return original(*args)
        try:
            return variant(*args)
        except invocation_errors:
            return original(*args)

    return installed


def load(trial: Trial, original: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Callable[..., Any], tuple]:
    """The trial's candidate loaded, prepared and adapted exactly as ``hotpath.tuning`` installs it."""
    assert trial.candidate is not None
    backend = get_backend(trial.backend)
    variant = backend.load(trial.candidate)
    backend.prepare(variant, args)
    return adapters.apply(trial.candidate.adapters, variant, original), backend.invocation_errors()


def check(kernel: Adversarial, result: hotpath.TuneResult, frozen: FrozenGlobals | None) -> list[str]:
    """Every difference between the original and each verified candidate, and the dispatcher,
    on the kernel's later inputs."""
    original = kernel.function
    tuned_key = guard_key(kernel.tune_args())
    found = []
    callers: list[tuple[str, Callable[..., Any]]] = [("dispatcher", result.optimized)]
    for trial in result.trials:
        if trial.status not in (WON, CORRECT):
            continue
        try:
            variant, errors = load(trial, original, kernel.tune_args())
        except Exception as exc:  # tuning keeps the original when the winner will not load
            log.warning("%s: %s did not load here: %s", kernel.name, trial.name, exc)
            continue
        callers.append((trial.name, as_installed(variant, original, errors, frozen)))
    for later in kernel.later:
        with later.context() if later.context is not None else contextlib.nullcontext():
            # A guard key that changes with the caller's state (NumPy's error state) sends the
            # call elsewhere: no candidate of this signature answers it.
            reaches = guard_key(later.make()) == tuned_key
        want = call(original, later)
        for name, fn in callers:
            if name != "dispatcher" and not reaches:
                continue
            try:
                got = call(fn, later)
                found_here = outcome_difference(want, got)
            except Exception:  # comparing itself failed: report it rather than lose the rest
                found_here = "the comparison failed: " + traceback.format_exc(limit=3)
            if found_here:
                found.append(f"{kernel.name} [{name}] on {later.label!r}: {found_here}")
    return found


def _child(conn: Any, kernel: Adversarial, result: hotpath.TuneResult, frozen: FrozenGlobals | None) -> None:
    try:
        conn.send(check(kernel, result, frozen))
    except Exception:
        conn.send(["the check raised: " + traceback.format_exc()])
    finally:
        conn.close()


def checked_in_child(kernel: Adversarial, result: hotpath.TuneResult, frozen: FrozenGlobals | None) -> list[str]:
    """``check`` in a forked child, so a crash or a hang is a difference, not the end of the run.

    Except where a verified candidate uses GNU OpenMP: after the parent ran one (tuning confirms
    the winner in this process), a forked child entering OpenMP hangs, so those are checked here.
    """
    if any(t.candidate is not None and t.candidate.options_dict.get("openmp") for t in result.trials
           if t.status in (WON, CORRECT)):
        return check(kernel, result, frozen)
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, kernel, result, frozen), daemon=True)
    child.start()
    send.close()
    try:
        if receive.poll(CHECK_LIMIT_S):
            return receive.recv()  # type: ignore[no-any-return]
        return [f"{kernel.name}: the checks did not finish in {CHECK_LIMIT_S:.0f} s (a candidate hung?)"]
    except EOFError:
        child.join(5)
        return [f"{kernel.name}: the checking process died with exit code {child.exitcode} "
                "(a candidate crashed on a later input)"]
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)


@pytest.fixture(scope="module")
def adversarial_config() -> hotpath.Config:
    """Numba, Cython and Pythran, a short timing budget, every candidate tried (no cost model).
    Backends that are not installed are skipped by hotpath itself, each with its reason.

    ``HOTPATH_ADVERSARIAL_STATE`` names a state folder kept between runs (a CI cache): builds
    are content-addressed, so a rerun compiles only what changed. The store is off then, so
    nothing recorded by an earlier run (a barred candidate) changes what this run tries."""
    config = hotpath.Config(backends=BACKENDS, timing_budget_s=0.2, compile_timeout_s=120.0, cost_model=False)
    kept = os.environ.get("HOTPATH_ADVERSARIAL_STATE")
    return config if not kept else config.replace(state_dir=Path(kept), persist=False)


def test_the_suite_covers_every_family() -> None:
    names = [k.name for k in KERNELS]
    assert len(set(names)) == len(names) >= 45
    assert {k.family for k in KERNELS} == set(FAMILIES)
    assert all(len(k.later) >= 3 for k in KERNELS)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_later_inputs_keep_the_signature(kernel: Adversarial) -> None:
    """A later input of another signature would never reach the tuned variant: a test bug."""
    tuned = signature_of(kernel.tune_args())
    for later in kernel.later:
        assert signature_of(later.make()) == tuned, later.label


class TunedAhead:
    """Tunes the selected kernels ahead of their tests, a few at a time on worker threads, as
    background tuning does: the suite compiles on every core instead of one. What is checked is
    unchanged: each test still checks every verified candidate of its kernel."""

    def __init__(self, kernels: list[Adversarial], config: hotpath.Config) -> None:
        self.config = config
        self.pool = ThreadPoolExecutor(max_workers=TUNE_AHEAD, thread_name_prefix="tune-ahead")
        self.futures = {kernel.name: self.pool.submit(self.tune, kernel) for kernel in kernels}

    def tune(self, kernel: Adversarial) -> hotpath.TuneResult:
        return hotpath.tune(kernel.function, *kernel.tune_args(), config=self.config)

    def result(self, kernel: Adversarial) -> hotpath.TuneResult:
        future = self.futures.get(kernel.name) or self.pool.submit(self.tune, kernel)
        return future.result()


@pytest.fixture(scope="module")
def tuned_ahead(request: pytest.FixtureRequest, adversarial_config: hotpath.Config) -> Any:
    selected = [item.callspec.params["kernel"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_never_wrong_on_later_inputs"]
    with warnings.catch_warnings():  # once for every thread: catch_warnings is not thread-safe
        warnings.simplefilter("ignore")
        ahead = TunedAhead(selected, adversarial_config)
        try:
            yield ahead
        finally:
            ahead.pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: f"{k.family}:{k.name}")
def test_never_wrong_on_later_inputs(kernel: Adversarial, tuned_ahead: TunedAhead) -> None:
    try:
        frozen = freeze(kernel.function, extract(kernel.function))
    except NotRewritable:
        frozen = None
    result = tuned_ahead.result(kernel)
    log.info("%s", result.summary())
    found = checked_in_child(kernel, result, frozen)
    assert not found, f"{len(found)} differences from the original:\n" + "\n".join(found) + "\n" + result.summary()
