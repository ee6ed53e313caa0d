"""Confirming a sandbox winner where it will run: in the caller's process, before install.

The sandbox worker is a fresh process: its allocator, its threads and the modules it imported
are not the caller's, and a variant that won there can lose here (a NumPy original that pays
page faults in a fresh worker and not in a warm process; a parallel loop that waits for a core
the caller's other threads keep busy). So the winner is timed once more against the original,
here, on copies of the captured arguments, with the same paired statistics; a variant whose
interval or mean does not clear the bar here is not installed. A parallel variant is also timed
with another core kept busy, as it will often be on a shared machine.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from hotpath.config import Config
from hotpath.kernels import get_backend
from hotpath.runner import adapters
from hotpath.runner.timing import Timing, measure
from hotpath.runner.trials import CORRECT, WON, Trial

log = logging.getLogger(__name__)

#: The caller-side timing budget never exceeds this, whatever the sandbox's: it runs on the
#: tuning thread of the user's process.
MAX_CONFIRM_S = 1.0


@dataclass(frozen=True)
class Confirmation:
    """The caller-side measurement of a sandbox winner and whether it holds the install bar."""

    timing: Timing
    busy: Timing | None  # the same with another core busy (parallel variants only)
    holds: bool
    reason: str


@contextmanager
def busy_core() -> Iterator[None]:
    """Another process spinning on a core for the duration: what a parallel variant meets on a
    machine that is doing something else too."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def confirm(original: Callable[..., Any], variant: Callable[..., Any], args: tuple[Any, ...], mutates: bool,
            budget_s: float, min_speedup: float, parallel: bool) -> Confirmation:
    """Time ``variant`` against ``original`` here; ``holds`` says whether it may be installed."""
    budget_s = min(budget_s, MAX_CONFIRM_S)
    timing = measure(original, variant, args, mutates, budget_s)
    if not timing.holds(min_speedup):
        return Confirmation(timing, None, False, f"it did not hold in this process: {_said(timing)}")
    if not parallel:
        return Confirmation(timing, None, True, f"confirmed in this process: {timing}")
    with busy_core():
        busy = measure(original, variant, args, mutates, budget_s)
    if not busy.holds(min_speedup):
        return Confirmation(timing, busy, False, f"it did not hold in this process with another core busy: "
                                                 f"{_said(busy)}")
    return Confirmation(timing, busy, True, f"confirmed in this process: {timing}, {busy} with a core busy")


def _said(timing: Timing) -> str:
    mean = "" if timing.mean_speedup is None else f", mean {timing.mean_speedup:.2f}x"
    return f"{timing}{mean}"


@dataclass(frozen=True)
class Confirmed:
    """A winner that held in this process too, loaded here, with its trial."""

    trial: Trial
    variant: Callable[..., Any]
    invocation_errors: tuple[type[BaseException], ...]


#: How many sandbox-verified candidates are tried here, fastest first, before giving up.
MAX_TRIES = 3


def confirm_winner(original: Callable[..., Any], trials: Sequence[Trial], args: tuple[Any, ...], mutates: bool,
                   config: Config) -> tuple[tuple[Trial, ...], Confirmed | None]:
    """Load and confirm the sandbox's winner here; if it does not hold, the next fastest
    significant candidate, up to ``MAX_TRIES``. Returns the trials with the verdicts updated (the
    winner is the confirmed one, or none) and the loaded winner."""
    ranked = sorted((t for t in trials if t.status in (WON, CORRECT) and t.timing is not None
                     and t.timing.holds(config.min_speedup)), key=lambda t: -t.timing.speedup)  # type: ignore[union-attr]
    verdicts: dict[int, Trial] = {}
    loaded: Confirmed | None = None
    for trial in ranked[:MAX_TRIES]:
        assert trial.candidate is not None and trial.timing is not None
        backend = get_backend(trial.backend)
        try:
            variant = backend.load(trial.candidate)
            backend.prepare(variant, args)
            variant = adapters.apply(trial.candidate.adapters, variant, original)
        except Exception as exc:  # it built in the sandbox; if it will not here, the original stays
            log.warning("loading %s here failed: %s", trial.name, exc)
            verdicts[id(trial)] = replace(trial, status=CORRECT, reason=f"it could not be loaded here: {exc}")
            continue
        checked = confirm(original, variant, args, mutates, config.timing_budget_s, config.min_speedup,
                          bool(trial.candidate.options_dict.get("parallel")))
        if checked.holds:
            loaded = Confirmed(replace(trial, status=WON, reason=f"fastest correct variant: {trial.timing}; "
                                                               f"{checked.reason}"),
                            variant, backend.invocation_errors())
            verdicts[id(trial)] = loaded.trial
            break
        verdicts[id(trial)] = replace(trial, status=CORRECT, reason=f"faster in the sandbox ({trial.timing}), but "
                                                                    f"{checked.reason}")
    demoted = (replace(t, status=CORRECT) if t.status == WON else t for t in trials)
    return tuple(verdicts.get(id(original_trial), t) for original_trial, t in zip(trials, demoted)), loaded
