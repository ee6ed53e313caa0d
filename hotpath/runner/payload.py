"""Serialising functions and arguments for a worker process.

The user's own modules are pickled by value (their functions' code and the globals they read),
so the worker does not import a user's script, whose top level might do anything; libraries
are pickled by reference and imported in the worker as usual.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable

import cloudpickle

# cloudpickle's by-value registry is process-wide; registrations must not interleave.
_lock = threading.Lock()
_state = threading.local()


def sandbox_pickling() -> bool:
    """True while ``dumps`` runs in this thread: wrappers then pickle as the bare original."""
    return getattr(_state, "active", False)


def dumps(obj: object, user_modules: Iterable[str] = ()) -> bytes:
    """Pickle ``obj``; functions from ``user_modules`` travel by value."""
    with _lock:
        registered = []
        for name in set(user_modules):
            module = sys.modules.get(name)
            if module is None or name == "__main__":
                continue  # __main__ is pickled by value anyway
            try:
                cloudpickle.register_pickle_by_value(module)
            except ValueError:
                continue  # already registered
            registered.append(module)
        _state.active = True
        try:
            return cloudpickle.dumps(obj)
        finally:
            _state.active = False
            for module in registered:
                cloudpickle.unregister_pickle_by_value(module)
