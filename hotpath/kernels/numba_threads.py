"""Numba's threading layer for hotpath's parallel variants: one that survives ``os.fork()``.

Numba picks GNU OpenMP on Linux by default, and a process that has run an OpenMP parallel
region kills every child it forks ("fork() called from a process already using GNU OpenMP"),
so a ``numba-parallel`` winner would break a program built on fork-based ``multiprocessing``
that the original never broke. Before the first parallel variant compiles, hotpath asks for
Numba's ``forksafe`` layer (TBB when installed, else the workqueue), unless the user chose a
layer (``NUMBA_THREADING_LAYER``) or the threads are already running.

The workqueue is not thread-safe: two threads in a parallel region at once terminate the
process. Parallel variants on it are therefore entered by one thread at a time (each already
uses every core), through ``Serialized``.

Numba's compiler lock is held across ``os.fork()`` as well: hotpath compiles in the caller's
process on its tuner thread (the winner is confirmed there), and a child forked mid-compile
would inherit the lock held by a thread it does not have and hang at its first compile. A fork
therefore waits for the compile in progress to finish.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: Numba's name for "a layer that is safe to fork from": TBB, else (on Linux) the workqueue.
FORK_SAFE = "forksafe"

_lock = threading.Lock()
_entry = threading.Lock()  # one thread at a time inside a workqueue parallel region


def _new_entry_lock() -> None:
    # A thread of the parent may have held it at the fork; that thread does not exist here.
    global _entry
    _entry = threading.Lock()


def _compiler_lock() -> Any:
    """Numba's process-wide compiler lock, if Numba is imported (never imports it)."""
    module = sys.modules.get("numba.core.compiler_lock")
    return getattr(module, "global_compiler_lock", None)


_held_for_fork: list[Any] = []


def _before_fork() -> None:
    lock = _compiler_lock()
    if lock is not None:
        lock.acquire()  # reentrant: a fork from inside a compile does not wait for itself
        _held_for_fork.append(lock)


def _after_fork_in_parent() -> None:
    while _held_for_fork:
        _held_for_fork.pop().release()


def _after_fork_in_child() -> None:
    _after_fork_in_parent()  # the forking thread is the child's only thread, and it holds it
    _new_entry_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


def choose_fork_safe() -> None:
    """Ask Numba for a fork-safe threading layer if nobody has chosen one and none is running."""
    import numba

    with _lock:
        if _running() is not None or "NUMBA_THREADING_LAYER" in os.environ:
            return  # the user's choice, or the threads already started: not ours to change
        if numba.config.THREADING_LAYER == "default":  # type: ignore[attr-defined]
            numba.config.THREADING_LAYER = FORK_SAFE  # type: ignore[attr-defined]
            log.info("numba threading layer set to %r for hotpath's parallel variants (fork-safe)", FORK_SAFE)


def needs_serializing() -> bool:
    """Whether parallel regions must be entered one thread at a time (the layer may be the
    workqueue: chosen, or possibly chosen once the threads start)."""
    import numba

    running = _running()
    if running is not None:
        return running == "workqueue"
    return numba.config.THREADING_LAYER in ("workqueue", FORK_SAFE) and not _tbb_available()  # type: ignore[attr-defined]


def _running() -> str | None:
    """The threading layer in use, or None before Numba has started its threads."""
    import numba

    try:
        return str(numba.threading_layer())
    except ValueError:  # "Threading layer is not initialized."
        return None


def _tbb_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tbb") is not None


class Serialized:
    """A parallel Numba dispatcher entered by one thread at a time; otherwise the dispatcher
    itself (``compile``, ``signatures`` and the rest are forwarded)."""

    def __init__(self, dispatcher: Callable[..., Any]) -> None:
        self.dispatcher = dispatcher

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with _entry:
            return self.dispatcher(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dispatcher, name)
