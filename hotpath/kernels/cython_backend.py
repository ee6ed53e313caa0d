"""Cython variants: typed memoryviews and C locals from the observed signature, built once.

One candidate to start with: bounds checks and negative-index wrapping off, Python's division
semantics kept (``cdivision=False``). The runner verifies it; a failure that fits a known cause
becomes a stricter (or, for division, a more NumPy-like) candidate, verified from scratch:

* any mismatch or crash without bounds checks -> ``+checks`` (``boundscheck`` and
  ``wraparound`` on: Python's indexing, ``a[i - 1]`` at ``i == 0`` included);
* ``ZeroDivisionError`` from the variant where the original (computing on NumPy scalars) gave
  inf -> ``+cdivision`` (IEEE division), only when the function has no ``//`` or ``%``, whose
  C semantics differ from Python's for negative numbers.

Building (``cython`` + the C compiler) happens in ``load``, in the sandboxed worker; the binary
is cached by content under the state folder (``hotpath.kernels.cython_build``), so the user's
process, and any later process, loads it without building.
"""

from __future__ import annotations

import ast
import importlib.util
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotpath.kernels import cython_build
from hotpath.kernels.artifacts import pickle_namespace, write_module
from hotpath.kernels.base import Availability, Candidate, Failure, Skipped
from hotpath.kernels.cython_emit import Directives, emit_module
from hotpath.rewriter.source import injected_values

if TYPE_CHECKING:
    from hotpath.config import Config
    from hotpath.rewriter.source import FunctionSource
    from hotpath.signature import Signature

#: Failures that unchecked indexing explains: a wrong value read past an edge, or a crash.
_INDEXING_FAILURES = ("mismatch", "crash", "error")


def _directives(options: dict[str, Any]) -> Directives:
    return Directives(boundscheck=bool(options.get("checks")), wraparound=bool(options.get("checks")),
                      cdivision=bool(options.get("cdivision")))


def _has_integer_division(fs: FunctionSource) -> bool:
    return any(isinstance(node, (ast.FloorDiv, ast.Mod)) for part in fs.walk() for node in ast.walk(part.tree))


class CythonBackend:
    """Emits, builds (cached) and loads Cython variants."""

    name = "cython"

    def __init__(self) -> None:
        # Candidate path -> the signature it was typed for, so a refinement in the same tuning
        # run re-emits the same types (options stay JSON-able: the store keeps them).
        self._signatures: dict[Path, Signature] = {}

    def availability(self) -> Availability:
        # Only Cython itself: a missing C compiler is found when the candidate is built, and
        # reported as that candidate's failure with the compiler's name.
        if importlib.util.find_spec("Cython") is None:
            return Availability(False, "Cython is not installed (pip install cython)")
        return Availability(True)

    def propose(self, fs: FunctionSource, signature: Signature, config: Config,
                kernels_dir: Path) -> list[Candidate | Skipped]:
        return [self._candidate(fs, signature, "cython", {}, kernels_dir)]

    def _candidate(self, fs: FunctionSource, signature: Signature, name: str, options: dict[str, Any],
                   kernels_dir: Path) -> Candidate:
        values = injected_values(fs)
        namespace = pickle_namespace(values)
        source, notes = emit_module(fs, signature, _directives(options), name, values)
        path = write_module(kernels_dir, f"{fs.module}.{fs.qualname}", name, source, namespace, suffix=".pyx")
        self._signatures[path] = signature
        return Candidate(self.name, name, tuple(sorted(options.items())), source, fs.name, path, namespace, notes)

    def refine(self, fs: FunctionSource, candidate: Candidate, failure: Failure,
               kernels_dir: Path) -> Candidate | None:
        options = candidate.options_dict
        signature = self._signatures.get(candidate.path)
        if signature is None or failure.return_dtypes:
            return None  # only the scalar type differed: the runner's return cast fits that
        if (failure.candidate_raised == "ZeroDivisionError" and failure.original_raised is None
                and not options.get("cdivision") and not _has_integer_division(fs)):
            # The original divided NumPy scalars (inf, no exception); C's IEEE division agrees.
            change, suffix = {"cdivision": True}, "+cdivision"
        elif failure.kind in _INDEXING_FAILURES and not options.get("checks") \
                and failure.candidate_raised != "ZeroDivisionError":
            change, suffix = {"checks": True}, "+checks"
        else:
            return None
        return self._candidate(fs, signature, candidate.name + suffix, {**options, **change}, kernels_dir)

    def load(self, candidate: Candidate) -> Callable[..., Any]:
        binary, _ = cython_build.build(candidate.path, candidate.source)
        module = cython_build.load(binary, candidate.path.stem)
        # Values the module reads as globals at call time; bound before the first call.
        module.__dict__.update(pickle.loads(candidate.namespace))
        return getattr(module, candidate.entry)

    def prepare(self, variant: Callable[..., Any], args: Sequence[object]) -> None:
        pass  # built ahead of time: nothing is compiled lazily

    def binaries(self, candidate: Candidate) -> tuple[Path, ...]:
        return (cython_build.built_path(candidate.path, candidate.source),)

    def build(self, candidate: Candidate) -> bool:
        return cython_build.build(candidate.path, candidate.source)[1]

    def invocation_errors(self) -> tuple[type[BaseException], ...]:
        # Arguments keep Python types at the boundary (arrays are viewed inside the body), so
        # nothing is refused before the body runs.
        return ()


BACKEND = CythonBackend()
