"""Which profiled functions are worth a tuning run, decided the same way run after run.

Compiling removes Python time, not native time (NumPy already runs compiled code) nor system
time, so a function is worth trying when it is rewritable and its *Python* time is a real part
of the program's: at least ``min_python_share`` of the whole run. The best ``limit`` go, in
order of Python time.

A share is counted from samples, so it moves from one profile to the next: a function at 2.1%
in one run is at 1.8% in the next. A bare threshold would pick it, drop it, pick it again. So
the threshold has a noise band below it (hysteresis): a function picked needs the threshold,
one that was tuned before (it has trials in the state folder's store) is kept down to the
band's lower edge. The band is half the threshold wide, or two standard errors of a share at
the threshold counted from the profile's samples if that is wider (a short run has few samples:
about one per 10 ms of CPU time, Scalene's default). Once a function crossed the threshold and
was tuned, noise alone no longer drops it; one that never did is not picked on a lucky run
unless that run puts it over the threshold, as before.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from hotpath.profiles import costcheck
from hotpath.profiles.model import FunctionProfile, Profile
from hotpath.profiles.rewritable import check

log = logging.getLogger(__name__)

DEFAULT_MIN_PYTHON_SHARE = 0.02
DEFAULT_LIMIT = 5
#: Scalene's default CPU sampling interval: a profile of ``elapsed_s`` holds about
#: ``elapsed_s / SAMPLE_INTERVAL_S`` samples.
SAMPLE_INTERVAL_S = 0.01


@dataclass(frozen=True)
class Choice:
    """A profiled function and whether it was picked (and why not, when not)."""

    function: FunctionProfile
    picked: bool
    why: str


@dataclass(frozen=True)
class Band:
    """The noise band below the threshold: shares in ``[low, threshold)`` keep a function tuned before."""

    threshold: float
    low: float
    samples: int | None  # the profile's samples, estimated from its length; None: not known

    def describe(self) -> str:
        counted = f", about {self.samples} samples" if self.samples else ""
        return f"the noise band {self.low:.1%}-{self.threshold:.1%}{counted}"


def noise_band(profile: Profile, threshold: float) -> Band:
    """The band below ``threshold`` within which ``profile``'s shares are sampling noise."""
    samples = round(profile.elapsed_s / SAMPLE_INTERVAL_S) if profile.elapsed_s > 0 else None
    margin = threshold / 2
    if samples:
        margin = max(margin, 2 * math.sqrt(threshold * (1 - threshold) / samples))
    return Band(threshold, max(0.0, threshold - margin), samples)


def tuned_before(state_dir: Path) -> frozenset[tuple[str, str]]:
    """``(module, qualname)`` of every function the store in ``state_dir`` has trials for (a
    script's functions under the script's path); empty when there is no store or it cannot be
    read."""
    rows = costcheck.store_rows(state_dir, "SELECT DISTINCT f.module, f.qualname FROM trials t"
                                           " JOIN functions f ON f.id = t.function_id")
    if rows is None:
        log.debug("the store in %s cannot be read to find the functions tuned before", state_dir)
        return frozenset()
    return frozenset((str(module), str(qualname)) for module, qualname in rows)


def _was_tuned(f: FunctionProfile, tuned: Collection[tuple[str, str]]) -> bool:
    """Whether ``tuned`` (store names) holds ``f``: a script's function by its file's path, a
    module's by the module's last name matching the file (``pkg.physics`` for ``physics.py``)."""
    path = Path(f.file).resolve()
    stem = path.parent.name if path.stem == "__init__" else path.stem
    return any(qualname == f.function and (module == str(path) or module.rsplit(".", 1)[-1] == stem)
               for module, qualname in tuned)


def annotate(profile: Profile) -> Profile:
    """The profile with each function's rewritability (and reason) filled in."""
    checked = []
    for f in profile.functions:
        verdict = check(f.file, f.function, f.line)
        checked.append(f.with_verdict(verdict.rewritable, verdict.reason))
    return Profile(profile.script, profile.args, profile.profiler, profile.elapsed_s, tuple(checked))


def choose(profile: Profile, min_python_share: float = DEFAULT_MIN_PYTHON_SHARE,
           limit: int = DEFAULT_LIMIT, tuned: Collection[tuple[str, str]] | None = None) -> list[Choice]:
    """Every profiled function with the decision about it, picked ones first.

    ``tuned``: ``(module, qualname)`` of the functions tuned before, which the noise band keeps;
    by default those of the store in the state folder (``$HOTPATH_HOME`` or the configured one)."""
    if tuned is None:
        from hotpath.config import Config

        tuned = tuned_before(Config().resolved_state_dir())
    band = noise_band(profile, min_python_share)
    choices: list[Choice] = []
    picked = 0
    for f in sorted(profile.functions, key=lambda f: -f.python_share):
        share = f"{f.python_share:.1%} of the time in Python"
        kept = band.low <= f.python_share < min_python_share and _was_tuned(f, tuned)
        if not f.rewritable:
            choices.append(Choice(f, False, f"not rewritable: {f.reason}"))
        elif f.python_share < min_python_share and not kept:
            within = band.low <= f.python_share
            choices.append(Choice(f, False, f"{share}, below {min_python_share:.0%}"
                                            + (f" (in {band.describe()}; kept there only once tuned)" if within
                                               else ": compiling it would not show")))
        elif picked >= limit:
            choices.append(Choice(f, False, f"beyond the {limit} functions tried per run"))
        else:
            picked += 1
            choices.append(Choice(f, True, f"{share}, below {min_python_share:.0%} but in {band.describe()}: "
                                           "tuned before, kept" if kept else share))
    return sorted(choices, key=lambda c: not c.picked)


def named(profile: Profile | None, script: str, names: Iterable[str]) -> list[FunctionProfile]:
    """Functions chosen by name (``--functions``): from the profile when there is one, else the script."""
    from hotpath.profiles.scalene import definitions

    wanted = list(names)
    found: list[FunctionProfile] = []
    if profile is not None:
        found = [f for f in profile.functions if f.function in wanted]
    known = {f.function for f in found}
    path = Path(script).resolve()
    lines = {qualname: line for line, qualname in sorted(definitions(path).items(), reverse=True)}
    for name in wanted:
        if name not in known and name in lines:
            verdict = check(str(path), name, lines[name])
            found.append(FunctionProfile(str(path), name, lines[name], 0.0, 0.0, 0.0, verdict.rewritable,
                                         verdict.reason))
    return found
