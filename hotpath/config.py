"""User-facing settings, one frozen object passed from the API down to the runner.

Where a setting comes from, strongest first: an argument (``Config(rtol=1e-6)``, a keyword of
``optimize``/``tune``, a command-line option), a ``HOTPATH_*`` environment variable (the state
folder, the LLM server), the ``[tool.hotpath]`` table of the project's ``pyproject.toml`` (the
nearest one up from the current folder, as pytest and mypy find theirs), then the defaults below.
docs/configuration.md lists every key.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, cast, get_args, get_origin, get_type_hints

from hotpath import projectfile
from hotpath.errors import ConfigError
from hotpath.kernels.base import BACKENDS
from hotpath.statedir import StateDir

#: Backends tried when the user names none; a missing one is skipped with its reason, at no cost.
#: Cython builds take ~10 s per variant but win where Numba loses, or is wrong (Python ints);
#: Pythran, torch and CuPy propose candidates only for code they can speed up (Pythran and torch:
#: array-style code, where Pythran's fused expressions and SIMD math can beat Numba's loops;
#: CuPy: array-style code or parallel loop nests, on a GPU). Cython and Pythran builds (10-80 s
#: a Pythran candidate on two cores) run in the background while the Numba trials do
#: (``hotpath.runner.ahead``), within the tuning budget; built binaries are cached by content.
DEFAULT_BACKENDS: tuple[str, ...] = ("numba", "cython", "pythran", "torch", "cupy")

#: Backends ``hotpath optimize`` tries when given no ``--backends`` (and the project's
#: ``[tool.hotpath]`` table names none): Numba alone. The command tunes up to five functions times
#: four signatures in one sitting, in the foreground, where a Cython build (~10 s a variant on
#: two cores) would multiply its time; ``@hotpath.optimize`` and ``hotpath.tune`` tune one
#: signature at a time (the decorator in the background), so they use :data:`DEFAULT_BACKENDS`.
PROGRAM_BACKENDS: tuple[str, ...] = ("numba",)

#: Wall-time budget of one tuning run (one function, one signature), the same for the decorator's
#: background tuning, ``hotpath.tune`` and ``hotpath optimize``: about a minute on a two-core
#: machine, spent on the cost model's likeliest winners first. ``budget_s=None`` (``"none"`` in
#: ``pyproject.toml``; ``tune(..., budget_s=float("inf"))``) lifts it.
DEFAULT_BUDGET_S = 60.0

#: A value of an option that may be ``None`` (``memory_limit_mb``, ``budget_s`` ...) that means
#: ``None`` in that table: TOML has no null.
NONE_IN_FILE = "none"
#: Tables inside ``[tool.hotpath]`` that are not ``Config`` settings: ``[tool.hotpath.gate]`` is
#: the gate's policy (docs/gate.md).
OTHER_TABLES = ("gate",)
#: Environment variables that outrank the table's key of the same setting.
ENVIRONMENT = {"state_dir": "HOTPATH_HOME", "llm_url": "HOTPATH_LLM_URL", "llm_model": "HOTPATH_LLM_MODEL"}
#: Numeric settings a ``HOTPATH_*`` variable sets, written as in the table (a number or
#: ``none``), outranking the table: ``HOTPATH_BUDGET_S=none`` lifts the tuning budget for a CI
#: job or a test suite whose runs must try every candidate, in this process and its children.
ENVIRONMENT_VALUES = {"budget_s": "HOTPATH_BUDGET_S"}

#: Below this relative tolerance, fastmath's reassociation could be noticed, so it is not tried.
FASTMATH_MIN_RTOL = 1e-6


T = TypeVar("T")


class _Default:
    """A field's default as the class declares it: ``Config.__post_init__`` puts the project's
    ``[tool.hotpath]`` value in its place, or this one. A marker rather than a default factory per
    field, so that a ``Config`` reads the project's file once, not once a field."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def _default(value: T) -> T:
    return cast(T, _Default(value))


@dataclass(frozen=True)
class Config:
    """How hotpath tunes and when it installs.

    A field not given takes its value from the ``[tool.hotpath]`` table of the project's
    ``pyproject.toml`` when it has one (docs/configuration.md), else the default named here.

    Attributes:
        backends: compilers to try, in order (default :data:`DEFAULT_BACKENDS`: Numba, Cython,
            Pythran, torch, CuPy, each skipped at no cost where it is missing or cannot help; a
            plug-in is named ``"package.module:OBJECT"``). ``hotpath optimize``
            tries :data:`PROGRAM_BACKENDS` (Numba alone) unless given ``--backends``.
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
        memory_limit_mb: address-space cap for a sandboxed trial on the CPU (``None``: no cap); GPU
            trials run without one, since CUDA reserves address space for all device memory.
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
        budget_s: wall-time budget of one tuning run (one signature), counted from its start
            (default :data:`DEFAULT_BUDGET_S`, 60 s): no new candidate is started once it is
            spent, and a candidate's trial is stopped when it runs out (a ``skipped`` trial that
            says so); the best candidate verified and timed by then is installed. The cost model
            orders candidates so the likely winners come first. ``None`` (or ``inf``): no limit.
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

    backends: tuple[str, ...] = _default(DEFAULT_BACKENDS)
    rtol: float | None = _default(None)
    atol: float = _default(0.0)
    fastmath: bool | None = _default(None)
    hot_calls: int = _default(50)
    hot_seconds: float = _default(0.5)
    min_speedup: float = _default(1.0)
    timing_budget_s: float = _default(2.0)
    compile_timeout_s: float = _default(90.0)
    memory_limit_mb: int | None = _default(8192)
    edge_cases: bool = _default(True)
    verify_rate: float = _default(0.01)
    watch_fraction: float = _default(0.02)
    background: bool = _default(True)
    persist: bool = _default(True)
    state_dir: Path | None = _default(None)
    budget_s: float | None = _default(DEFAULT_BUDGET_S)
    cost_model: bool = _default(True)
    proposers: tuple[str, ...] = _default(())
    llm_url: str | None = _default(None)
    llm_model: str | None = _default(None)
    llm_timeout_s: float = _default(120.0)

    def __post_init__(self) -> None:
        project: Mapping[str, Any] | None = None
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            if isinstance(value, _Default):
                if project is None:
                    project = project_settings().values
                outranked = name in ENVIRONMENT and os.environ.get(ENVIRONMENT[name], "").strip()
                value = value.value if outranked else project.get(name, value.value)
                if os.environ.get(ENVIRONMENT_VALUES.get(name, ""), "").strip():
                    value = _environment_value(name)
            object.__setattr__(self, name, _checked(name, value))

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


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Config))
_NON_NEGATIVE = ("rtol", "atol", "hot_seconds", "timing_budget_s", "compile_timeout_s", "budget_s",
                 "llm_timeout_s", "watch_fraction")


def _checked(name: str, value: Any) -> Any:
    """``value`` for the field ``name``, normalized (tuples, paths); ``ConfigError`` saying what to
    pass when it cannot be used. One field at a time, so a file's key is named with its error."""
    if name in ("backends", "proposers"):
        value = (value,) if isinstance(value, str) else tuple(value)
    if name == "backends":
        if not value:
            raise ConfigError("backends is empty: name at least one, e.g. backends=('numba',)")
        for backend in value:
            if backend not in BACKENDS and ":" not in backend:
                raise ConfigError(f"unknown backend {backend!r}; known backends: {', '.join(BACKENDS)}, "
                                  "or a plug-in as 'package.module:OBJECT'")
    elif name == "proposers":
        for proposer in value:
            if ":" not in proposer:
                raise ConfigError(f"a proposer plug-in is named 'package.module:OBJECT', got {proposer!r}")
    elif name in _NON_NEGATIVE:
        if value is not None and value < 0:
            raise ConfigError(f"{name} must be >= 0, got {value!r}")
    elif name == "hot_calls":
        if value < 1:
            raise ConfigError(f"hot_calls must be >= 1, got {value!r}")
    elif name == "verify_rate":
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"verify_rate is a fraction in [0, 1], got {value!r}")
    elif name == "min_speedup":
        if value < 1.0:
            raise ConfigError(f"min_speedup below 1 would install slower code, got {value!r}")
    elif name == "state_dir" and value is not None:
        value = Path(value)
    return value


def _environment_value(name: str) -> float | None:
    """The value of the numeric, optional field ``name`` that its ``HOTPATH_*`` variable gives."""
    variable = ENVIRONMENT_VALUES[name]
    text = os.environ[variable].strip()
    if text.lower() == NONE_IN_FILE:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"${variable}={text!r}: expected a number or {NONE_IN_FILE!r}") from None
    try:
        return cast(float, _checked(name, value))
    except ConfigError as exc:
        raise ConfigError(f"${variable}: {exc}") from None


@dataclass(frozen=True)
class ProjectSettings:
    """The ``[tool.hotpath]`` table of a project's ``pyproject.toml``, checked: ``values`` maps
    ``Config`` field names to values (``state_dir`` resolved against the file's folder)."""

    path: Path | None
    values: Mapping[str, Any]


_NO_PROJECT = ProjectSettings(None, {})
#: Parsed tables by file, with the (mtime, size) they were read at: a Config is built often.
_parsed: dict[Path, tuple[tuple[int, int], ProjectSettings]] = {}
_parsed_lock = threading.Lock()


def project_file(start: Path | None = None) -> Path | None:
    """The project's ``pyproject.toml``: the nearest one in ``start`` (default: the current
    folder) or above it, not above a repository's root (a folder holding ``.git`` or ``.hg``)."""
    found = projectfile.find(start)
    return Path(found) if found is not None else None


def project_settings(start: Path | None = None) -> ProjectSettings:
    """The checked ``[tool.hotpath]`` table of the project around ``start`` (default: the current
    folder); empty when there is no such file or table. ``ConfigError`` naming the file and the
    key when the table has a key that is not a ``Config`` field or a value it cannot take."""
    path = project_file(start)
    if path is None:
        return _NO_PROJECT
    try:
        status = path.stat()
    except OSError:
        return _NO_PROJECT
    stamp = (status.st_mtime_ns, status.st_size)
    with _parsed_lock:
        cached = _parsed.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    settings = _read_project(path)
    with _parsed_lock:
        _parsed[path] = (stamp, settings)
    return settings


def _read_project(path: Path) -> ProjectSettings:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10 (as the gate's TOML policy files)
        if "[tool.hotpath" in path.read_text(encoding="utf-8", errors="replace"):
            warnings.warn(f"{path}: [tool.hotpath] is ignored: reading TOML needs Python 3.11+",
                          RuntimeWarning, stacklevel=4)
        return ProjectSettings(path, {})
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as TOML ({exc}); hotpath reads its settings from the "
                          "[tool.hotpath] table of this file") from None
    table = document.get("tool", {}).get("hotpath", {}) if isinstance(document.get("tool"), dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: tool.hotpath must be a table ([tool.hotpath]), got {type(table).__name__}")
    return ProjectSettings(path, {key: _file_value(path, key, value) for key, value in table.items()
                                  if key not in OTHER_TABLES})


def _file_value(path: Path, key: str, value: Any) -> Any:
    """``value`` of ``key`` in ``path``'s table, as the ``Config`` field takes it; ``ConfigError``
    naming the file and the key otherwise."""
    where = f"{path}: [tool.hotpath] {key}"
    hints = _field_types()
    if key not in hints:
        import difflib  # only for this error: not on every command's start

        near = difflib.get_close_matches(key, hints, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ConfigError(f"{where}: no such option{hint} (the options are the fields of hotpath.Config, "
                          "listed in docs/configuration.md)")
    kind, optional = hints[key]
    if optional and value == NONE_IN_FILE:
        value = None
    elif kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # `timing_budget_s = 1` is a number as much as 1.0
    elif not _has_type(value, kind):
        expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
                    Path: "a path (a string)", tuple: "a list of strings"}[kind]
        none = f" or {NONE_IN_FILE!r}" if optional else ""
        raise ConfigError(f"{where} = {value!r}: expected {expected}{none}")
    if key == "state_dir" and value is not None:
        value = path.parent / Path(value).expanduser()  # relative to the project, as the other tools do
    try:
        return _checked(key, value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _has_type(value: Any, kind: type) -> bool:
    if kind is tuple:
        return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is Path:
        return isinstance(value, str)
    return isinstance(value, kind)


@functools.cache
def _field_types() -> dict[str, tuple[type, bool]]:
    """Each ``Config`` field's type as a file value takes it (``tuple[str, ...]`` is ``tuple``), and
    whether it may be ``None``."""
    types = {}
    for name, hint in get_type_hints(Config).items():
        members = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
        kinds = [member for member in members if member is not type(None)]
        types[name] = (get_origin(kinds[0]) or kinds[0], len(kinds) < len(members))
    return types

def state_home(explicit: str | os.PathLike[str] | None = None) -> StateDir:
    """The state folder: ``explicit``, else ``$HOTPATH_HOME``, else ``state_dir`` in the project's
    ``[tool.hotpath]`` table, else ``./.hotpath`` (as given, not resolved)."""
    if explicit is None and not os.environ.get(ENVIRONMENT["state_dir"], "").strip():
        explicit = project_settings().values.get("state_dir")
    return StateDir.locate(explicit)


def disabled_by_env() -> bool:
    """``HOTPATH_DISABLE=1`` turns every optimization off, for debugging."""
    return os.environ.get("HOTPATH_DISABLE", "").strip().lower() not in ("", "0", "false", "no")
