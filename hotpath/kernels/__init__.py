"""Backends, one module each, behind the protocol in ``hotpath.kernels.base``."""

from __future__ import annotations

import importlib

from hotpath.errors import ConfigError
from hotpath.kernels.base import BACKENDS, Availability, Backend, Candidate, Failure, Skipped


def get_backend(name: str) -> Backend:
    """The backend called ``name``, or one given as ``"package.module:OBJECT"`` (a plug-in).

    Raises ``ConfigError`` naming the known backends when there is no such backend.
    """
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot load backend plug-in {name!r}: {exc}") from None
    try:
        module = BACKENDS[name]
    except KeyError:
        raise ConfigError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}, "
                          "or a plug-in as 'package.module:OBJECT'") from None
    return importlib.import_module(module).BACKEND


__all__ = ["Availability", "Backend", "Candidate", "Failure", "Skipped", "BACKENDS", "get_backend"]
