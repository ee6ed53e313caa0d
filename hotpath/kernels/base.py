"""What every backend provides, and the candidate it produces.

A backend is a module with one object implementing ``Backend``: it says whether it can run
here, emits candidate sources from a ``FunctionSource``, loads a candidate into a callable (in
the sandbox worker and, for the winner, in the user's process), and may refine a candidate that
failed verification into a stricter one. Adding a compiler is adding such a module and naming it
in ``hotpath.kernels.BACKENDS``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hotpath.config import Config
    from hotpath.runner.inputs import Probe
    from hotpath.rewriter.source import FunctionSource
    from hotpath.signature import Signature


#: Candidate adapter names (``Candidate.adapters``): the guards and casts
#: ``hotpath.runner.adapters`` wraps a loaded variant in. Here, beside the record that carries
#: them, so that backends and proposers can name one without importing the runner.
FINITE = "finite"
DISTINCT_ARRAYS = "distinct-arrays"
CAST_RETURN = "cast-return:"  # + the return dtypes
RANGE = "range:"  # + the verified value ranges
MIN_SIZE = "min-size:"  # + the smallest verified length
SAME_LENGTHS = "same-lengths:"  # + the groups of arguments whose first axes were verified equal

#: Backend name -> module holding its ``BACKEND`` object (see ``hotpath.kernels.get_backend``).
#: Imported lazily: a backend whose compiler is missing costs nothing until asked for. Here, in
#: the records module, so that ``Config`` can validate names without importing any backend.
BACKENDS: dict[str, str] = {
    "numba": "hotpath.kernels.numba_backend",
    "cython": "hotpath.kernels.cython_backend",
    "torch": "hotpath.kernels.torch_backend",
    "cupy": "hotpath.kernels.cupy_backend",
    "pythran": "hotpath.kernels.pythran_backend",
}


#: Versioned names of the JSON each record's ``to_json`` writes (its ``schema`` key). A reader
#: refuses another version rather than guessing at fields whose meaning may have changed.
CANDIDATE_SCHEMA = "hotpath.candidate/1"
SKIPPED_SCHEMA = "hotpath.skipped/1"
FAILURE_SCHEMA = "hotpath.failure/1"


def expect_schema(data: Mapping[str, Any], schema: str) -> None:
    """Raise ``ValueError`` unless ``data`` was written under ``schema`` (or names none: the
    rows written before records carried one)."""
    found = data.get("schema", schema)
    if found != schema:
        raise ValueError(f"schema {found!r}, expected {schema!r}")


def pairs_to_json(items: Sequence[tuple[str, Any]]) -> list[list[Any]]:
    """``(("parallel", True),)`` -> ``[["parallel", True]]``: options and parts as JSON keeps them."""
    return [[key, list(value) if isinstance(value, tuple) else value] for key, value in items]


def pairs_from_json(items: Sequence[Sequence[Any]]) -> tuple[tuple[str, Any], ...]:
    """The inverse of ``pairs_to_json``: JSON lists become the tuples a frozen record holds."""
    return tuple((str(key), tuple(value) if isinstance(value, list) else value) for key, value in items)


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run on this machine; ``reason`` says why not."""

    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class Candidate:
    """One variant to try: emitted source for one backend with one set of options."""

    backend: str
    name: str  # e.g. "numba-parallel"; unique within one tuning run
    options: tuple[tuple[str, Any], ...]
    source: str = field(repr=False)  # the complete generated module, as written to ``path`` (read it there)
    entry: str  # the function to call in that module
    path: Path
    namespace: bytes = field(repr=False)  # pickled values the module needs but cannot import
    notes: tuple[str, ...] = ()  # what the rewrite did and did not do, for the user
    adapters: tuple[str, ...] = ()  # wrappers applied after loading (see hotpath.runner.adapters)

    @property
    def options_dict(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def on_device(self) -> bool:
        """Whether it runs on an accelerator (its ``device`` option names one other than the CPU)."""
        return self.options_dict.get("device", "cpu") != "cpu"

    @property
    def key(self) -> str:
        """Content address: equal keys mean the same generated module."""
        return self.path.stem

    def to_json(self) -> dict[str, Any]:
        """Every field as plain JSON (``namespace`` in base64), under ``CANDIDATE_SCHEMA``."""
        return {"schema": CANDIDATE_SCHEMA, "backend": self.backend, "name": self.name,
                "options": pairs_to_json(self.options), "source": self.source, "entry": self.entry,
                "path": str(self.path), "namespace": base64.b64encode(self.namespace).decode("ascii"),
                "notes": list(self.notes), "adapters": list(self.adapters)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Candidate:
        """The candidate ``to_json`` wrote; equal to the one it was written from."""
        expect_schema(data, CANDIDATE_SCHEMA)
        return cls(str(data["backend"]), str(data["name"]), pairs_from_json(data.get("options", ())),
                   str(data["source"]), str(data["entry"]), Path(data["path"]),
                   base64.b64decode(data["namespace"]), tuple(map(str, data.get("notes", ()))),
                   tuple(map(str, data.get("adapters", ()))))


@dataclass(frozen=True)
class Skipped:
    """A candidate the rewriter did not produce, and why (missing compiler, unsafe option...)."""

    backend: str
    name: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON under ``SKIPPED_SCHEMA``."""
        return {"schema": SKIPPED_SCHEMA, "backend": self.backend, "name": self.name, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Skipped:
        """The record ``to_json`` wrote."""
        expect_schema(data, SKIPPED_SCHEMA)
        return cls(str(data["backend"]), str(data["name"]), str(data["reason"]))


@dataclass(frozen=True)
class Failure:
    """What went wrong with a candidate, in terms a refinement can act on."""

    kind: str  # "compile", "mismatch", "crash", "timeout", "error"
    message: str
    case: str | None = None  # the input it went wrong on
    original_raised: str | None = None  # exception type names on that input, e.g. "IndexError"
    candidate_raised: str | None = None
    return_dtypes: str | None = None  # set when only the scalar type of the result differed
    # For a value guard (``hotpath.runner.adapters``), set only when every input the candidate
    # disagreed on was a probe of one argument leaf: the probes it disagreed and agreed on, and
    # the captured call's values of each leaf that failed.
    failed_probes: tuple[Probe, ...] = ()
    passed_probes: tuple[Probe, ...] = ()
    captured_probes: tuple[Probe, ...] = ()
    # Set when every input it disagreed on was a tiny one (``SIZE_CASES``) or a probe: calls with
    # an array axis shorter than this would have to go to the original.
    below_size: int | None = None
    # Set when it disagreed on arrays resized so that they no longer broadcast (``broadcast/``
    # cases), besides probes and tiny inputs: the argument leaves whose first axes the captured
    # call had equally long, grouped; calls where a group's lengths differ would go to the original.
    equal_lengths: tuple[tuple[tuple[int, ...], ...], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON under ``FAILURE_SCHEMA``; each probe as ``{"path", "low", "high", "nan"}``
        (``low``/``high`` may be infinite or, for a leaf that held only NaN, NaN: Python's
        ``json`` writes ``Infinity`` and ``NaN``). Such a failure reads back field for field,
        but not ``==``: NaN never equals NaN."""
        def probes(items: tuple[Probe, ...]) -> list[dict[str, Any]]:
            return [{"path": list(p.path), "low": p.low, "high": p.high, "nan": p.nan} for p in items]

        return {"schema": FAILURE_SCHEMA, "kind": self.kind, "message": self.message, "case": self.case,
                "original_raised": self.original_raised, "candidate_raised": self.candidate_raised,
                "return_dtypes": self.return_dtypes, "failed_probes": probes(self.failed_probes),
                "passed_probes": probes(self.passed_probes), "captured_probes": probes(self.captured_probes),
                "below_size": self.below_size,
                "equal_lengths": [[list(path) for path in group] for group in self.equal_lengths]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any],
                  probe: Callable[[tuple[int, ...], float, float, bool], Probe] | None = None) -> Failure:
        """The failure ``to_json`` wrote. Probes are ``hotpath.runner.inputs.Probe``, which this
        foundation module cannot import: the caller passes it as ``probe`` (the runner's
        ``Trial.from_json`` does); without it, a failure that carries probes is refused."""
        expect_schema(data, FAILURE_SCHEMA)

        def probes(key: str) -> tuple[Probe, ...]:
            items = data.get(key) or ()
            if not items:
                return ()
            if probe is None:
                raise ValueError(f"the failure's {key} need a probe constructor to be read")
            make = probe
            return tuple(make(tuple(int(i) for i in p["path"]), float(p["low"]), float(p["high"]),
                              bool(p.get("nan", False))) for p in items)

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        below = data.get("below_size")
        return cls(str(data["kind"]), str(data["message"]), text("case"), text("original_raised"),
                   text("candidate_raised"), text("return_dtypes"), probes("failed_probes"),
                   probes("passed_probes"), probes("captured_probes"), None if below is None else int(below),
                   tuple(tuple(tuple(int(i) for i in path) for path in group)
                         for group in data.get("equal_lengths") or ()))


class Backend(Protocol):
    """The protocol each module under ``hotpath.kernels`` implements."""

    name: str

    def availability(self) -> Availability:
        """Can this backend run here? Cheap; must not raise."""

    def propose(self, fs: FunctionSource, signature: Signature, config: Config,
                kernels_dir: Path) -> Sequence[Candidate | Skipped]:
        """Candidates for ``fs`` at ``signature``; their sources are written under ``kernels_dir``."""

    def refine(self, fs: FunctionSource, candidate: Candidate, failure: Failure,
               kernels_dir: Path) -> Candidate | None:
        """A stricter candidate worth trying after ``failure``, or ``None``."""

    def load(self, candidate: Candidate) -> Callable[..., Any]:
        """Build/import the candidate and return the callable (raises on compile errors)."""

    def prepare(self, variant: Callable[..., Any], args: Sequence[object]) -> None:
        """Compile ``variant`` for ``args``' types ahead of the first call, where lazy."""

    def binaries(self, candidate: Candidate) -> tuple[Path, ...]:
        """The built files ``load`` imports besides the candidate's source (the shared object
        an ahead-of-time compiler made), so the store can checksum them with it; ``()`` for
        backends that compile in the process (Numba, torch)."""

    def build(self, candidate: Candidate) -> bool:
        """Build the files ``binaries`` names without importing them (``hotpath.runner.ahead``
        does, in the background, while earlier trials run): True if built now, False if they
        were already there. Only called where ``binaries`` names something; raises what
        ``load`` would raise for a build that fails."""

    def invocation_errors(self) -> tuple[type[BaseException], ...]:
        """Exceptions a variant raises *before running anything* when it cannot take the
        arguments (a type it was not compiled for): the caller then gets the original instead."""
