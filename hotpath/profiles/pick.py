"""Which profiled functions are worth a tuning run.

Compiling removes Python time, not native time (NumPy already runs compiled code) nor system
time, so a function is worth trying when it is rewritable and its *Python* time is a real part
of the program's: at least ``min_python_share`` of the whole run. The best ``limit`` go, in
order of Python time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hotpath.profiles.model import FunctionProfile, Profile
from hotpath.profiles.rewritable import check

DEFAULT_MIN_PYTHON_SHARE = 0.02
DEFAULT_LIMIT = 5


@dataclass(frozen=True)
class Choice:
    """A profiled function and whether it was picked (and why not, when not)."""

    function: FunctionProfile
    picked: bool
    why: str


def annotate(profile: Profile) -> Profile:
    """The profile with each function's rewritability (and reason) filled in."""
    checked = []
    for f in profile.functions:
        verdict = check(f.file, f.function, f.line)
        checked.append(f.with_verdict(verdict.rewritable, verdict.reason))
    return Profile(profile.script, profile.args, profile.profiler, profile.elapsed_s, tuple(checked))


def choose(profile: Profile, min_python_share: float = DEFAULT_MIN_PYTHON_SHARE,
           limit: int = DEFAULT_LIMIT) -> list[Choice]:
    """Every profiled function with the decision about it, picked ones first."""
    choices: list[Choice] = []
    picked = 0
    for f in sorted(profile.functions, key=lambda f: -f.python_share):
        if not f.rewritable:
            choices.append(Choice(f, False, f"not rewritable: {f.reason}"))
        elif f.python_share < min_python_share:
            choices.append(Choice(f, False, f"{f.python_share:.1%} of the time in Python, below "
                                            f"{min_python_share:.0%}: compiling it would not show"))
        elif picked >= limit:
            choices.append(Choice(f, False, f"beyond the {limit} functions tried per run"))
        else:
            picked += 1
            choices.append(Choice(f, True, f"{f.python_share:.1%} of the time in Python"))
    return sorted(choices, key=lambda c: not c.picked)


def named(profile: Profile | None, script: str, names: Iterable[str]) -> list[FunctionProfile]:
    """Functions chosen by name (``--functions``): from the profile when there is one, else the script."""
    from pathlib import Path

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
