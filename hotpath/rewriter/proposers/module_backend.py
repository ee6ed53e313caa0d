"""The backend of candidates that are a whole Python module as a proposer wrote it.

An LLM's or a plug-in proposer's candidate is a module holding the rewritten function as
written: plain Python, NumPy, or a function the proposer decorated with ``numba.njit`` itself.
Loading imports the module (in the sandbox first, where a crash, a hang or an exception at
import is a failed trial) and takes the entry function; a Numba dispatcher is compiled for the
arguments' types ahead of the first call, so the compile is not timed as a call.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hotpath.kernels.artifacts import load_module
from hotpath.kernels.base import Availability, Candidate, Failure, Skipped

#: What ``Candidate.backend`` says for these candidates (a plug-in name, resolved by ``get_backend``).
NAME = "hotpath.rewriter.proposers.module_backend:BACKEND"


class ModuleBackend:
    """Loads a proposer-written module; proposes nothing itself and refines nothing."""

    name = NAME

    def availability(self) -> Availability:
        return Availability(True)

    def propose(self, fs: Any, signature: Any, config: Any, kernels_dir: Path) -> list[Candidate | Skipped]:
        return []

    def refine(self, fs: Any, candidate: Candidate, failure: Failure, kernels_dir: Path) -> Candidate | None:
        return None

    def load(self, candidate: Candidate) -> Callable[..., Any]:
        return getattr(load_module(candidate.path, candidate.namespace), candidate.entry)

    def prepare(self, variant: Callable[..., Any], args: Sequence[object]) -> None:
        if type(variant).__module__.startswith("numba") and hasattr(variant, "compile"):
            import numba

            variant.compile(tuple(numba.typeof(a) for a in args))

    def binaries(self, candidate: Candidate) -> tuple[Path, ...]:
        return ()  # plain Python or a JIT: nothing built ahead

    def invocation_errors(self) -> tuple[type[BaseException], ...]:
        if importlib.util.find_spec("numba") is None:
            return ()
        from numba.core.errors import NumbaError

        return (NumbaError,)


BACKEND = ModuleBackend()
