"""Backends, one module each, behind the protocol in ``hotpath.kernels.base``."""

from __future__ import annotations

import importlib

from hotpath.errors import ConfigError
from hotpath.kernels.base import Availability, Backend, Candidate, Failure, Skipped

#: Backend name -> module holding its ``BACKEND`` object. Imported lazily: a backend whose
#: compiler is missing costs nothing until asked for.
BACKENDS: dict[str, str] = {
    "numba": "hotpath.kernels.numba_backend",
}


def get_backend(name: str) -> Backend:
    """The backend called ``name``; ``ConfigError`` naming the known ones otherwise."""
    try:
        module = BACKENDS[name]
    except KeyError:
        raise ConfigError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}") from None
    return importlib.import_module(module).BACKEND  # type: ignore[no-any-return]


__all__ = ["Availability", "Backend", "Candidate", "Failure", "Skipped", "BACKENDS", "get_backend"]
