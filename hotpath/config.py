"""User-facing settings, one frozen object passed from the API down to the runner."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotpath.errors import ConfigError
from hotpath.kernels.base import BACKENDS
from hotpath.statedir import StateDir

#: Backends tried when the user names none; a missing one is skipped with its reason, at no cost.
#: Cython builds take ~10 s per variant but win where Numba loses, or is wrong (Python ints);
#: torch and CuPy propose candidates only for code they can speed up (torch: array-style code,
#: whose compile takes seconds; CuPy: array-style code or parallel loop nests, on a GPU).
#: Pythran is opt-in (``backends=(..., "pythran")``): it often wins on vectorized NumPy code, but
#: a build takes 10-80 s per candidate on two cores, longer than a background tuning should hold
#: a hot function on its original (built binaries are cached, so a second tune is free).
DEFAULT_BACKENDS: tuple[str, ...] = ("numba", "cython", "torch", "cupy")

#: Below this relative tolerance, fastmath's reassociation could be noticed, so it is not tried.
FASTMATH_MIN_RTOL = 1e-6


@dataclass(frozen=True)
class Config:
    """How hotpath tunes and when it installs.

    Attributes:
        backends: compilers to try, in order (default :data:`DEFAULT_BACKENDS`; ``"pythran"``
            is opt-in; a plug-in is named ``"package.module:OBJECT"``).
        rtol, atol: tolerance for floating-point results (``|a - b| <= atol + rtol * |b|``);
            integers, booleans, dtypes, shapes and exception types always compare exactly.
            ``rtol=None`` (default) is 1e-9, widened to 64 ulps for float32/float16 results.
        fastmath: try fastmath variants. ``None`` means only when ``rtol`` is loose enough
            (``>= 1e-6``) that reassociated sums cannot be noticed.
        hot_calls, hot_seconds: a signature is hot (and tuned in the background) once it has
            been called this many times, or has spent this long in the original.
        min_speedup: install only when the lower bound of the speedup's confidence interval
            exceeds this.
        timing_budget_s: wall time spent timing one candidate against the original.
        compile_timeout_s: time a candidate may take to compile before it counts as hung.
        memory_limit_mb: address-space cap for a sandboxed trial (``None``: no cap).
        edge_cases: verify on generated inputs (empty, length 1, NaN, inf, ...) besides the
            captured arguments. Turning this off weakens the proof; keep it on.
        verify_rate: the largest fraction of calls to an installed variant that are checked
            against the original (shadow verification) once its probation is over; ``0`` turns
            the watch off altogether (no probation, no sampling).
        watch_fraction: the share of an installed variant's own call time that shadow
            verification may cost (default 2%): the sampling period adapts to the measured cost
            of a shadow call, between ``1 / verify_rate`` and one call in 100,000. A fresh
            install (tuned or warm) is checked on every one of its first 16 calls whatever
            this is; ``float("inf")`` lifts the limit, so that ``verify_rate`` alone sets the rate.
        background: tune hot signatures in a background thread (tier 0 -> tier 1).
        persist: record trials and winners in the state folder's store, and start new processes
            with the stored winner (warm start).
        state_dir: where generated sources and built artifacts live; default ``$HOTPATH_HOME``
            or ``./.hotpath``.
        budget_s: wall-time budget of one tuning run's trials: no new candidate is started once
            it is spent (``None``: no limit). The cost model orders candidates so the likely
            winners come first.
        cost_model: let the cost model (scikit-learn, the ``model`` extra) order the candidates
            and stop when the rest are unlikely to beat the best so far; ``False`` tries every
            candidate in the rewriter's order.
        proposers: extra candidate proposers as plug-ins, ``"package.module:OBJECT"``; their
            candidates are verified and timed like every other.
        llm_url: base URL of an OpenAI-compatible server (llama.cpp, vLLM...) that proposes a
            rewritten function (default ``$HOTPATH_LLM_URL``; none: no such proposer).
        llm_model: the model name sent to that server (default ``$HOTPATH_LLM_MODEL`` or "default").
        llm_timeout_s: how long one request to that server may take.
    """

    backends: tuple[str, ...] = DEFAULT_BACKENDS
    rtol: float | None = None
    atol: float = 0.0
    fastmath: bool | None = None
    hot_calls: int = 50
    hot_seconds: float = 0.5
    min_speedup: float = 1.0
    timing_budget_s: float = 2.0
    compile_timeout_s: float = 90.0
    memory_limit_mb: int | None = 8192
    edge_cases: bool = True
    verify_rate: float = 0.01
    watch_fraction: float = 0.02
    background: bool = True
    persist: bool = True
    state_dir: Path | None = None
    budget_s: float | None = None
    cost_model: bool = True
    proposers: tuple[str, ...] = ()
    llm_url: str | None = None
    llm_model: str | None = None
    llm_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if isinstance(self.backends, str):
            object.__setattr__(self, "backends", (self.backends,))
        else:
            object.__setattr__(self, "backends", tuple(self.backends))
        if not self.backends:
            raise ConfigError("backends is empty: name at least one, e.g. backends=('numba',)")
        for name in self.backends:
            if name not in BACKENDS and ":" not in name:
                raise ConfigError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}, "
                                  "or a plug-in as 'package.module:OBJECT'")
        object.__setattr__(self, "proposers", (self.proposers,) if isinstance(self.proposers, str)
                           else tuple(self.proposers))
        for name in self.proposers:
            if ":" not in name:
                raise ConfigError(f"a proposer plug-in is named 'package.module:OBJECT', got {name!r}")
        for name in ("rtol", "atol", "hot_seconds", "timing_budget_s", "compile_timeout_s", "budget_s",
                     "llm_timeout_s", "watch_fraction"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.hot_calls < 1:
            raise ConfigError(f"hot_calls must be >= 1, got {self.hot_calls!r}")
        if not 0.0 <= self.verify_rate <= 1.0:
            raise ConfigError(f"verify_rate is a fraction in [0, 1], got {self.verify_rate!r}")
        if self.min_speedup < 1.0:
            raise ConfigError(f"min_speedup below 1 would install slower code, got {self.min_speedup!r}")
        if self.state_dir is not None:
            object.__setattr__(self, "state_dir", Path(self.state_dir))

    @property
    def allows_fastmath(self) -> bool:
        if self.fastmath is None:
            return self.rtol is not None and self.rtol >= FASTMATH_MIN_RTOL
        return self.fastmath

    def resolved_state_dir(self) -> Path:
        """The state folder: explicit setting, else ``$HOTPATH_HOME``, else ``./.hotpath``."""
        return self.state.root

    @property
    def state(self) -> StateDir:
        """The state folder with its sub-paths (``state.kernels``, ``state.store_db`` ...)."""
        return StateDir.locate(self.state_dir)

    def replace(self, **changes: object) -> Config:
        """A copy with ``changes`` applied; ``None`` values mean "keep the current value"."""
        given: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
        unknown = set(given) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown option(s) {sorted(unknown)}; see help(hotpath.Config)")
        return dataclasses.replace(self, **given)


def disabled_by_env() -> bool:
    """``HOTPATH_DISABLE=1`` turns every optimization off, for debugging."""
    return os.environ.get("HOTPATH_DISABLE", "").strip().lower() not in ("", "0", "false", "no")
