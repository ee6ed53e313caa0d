"""Forking while another thread compiles with Numba (hotpath's tuner thread confirms winners in
the caller's process): the child must be able to compile, not inherit a lock nobody releases."""

from __future__ import annotations

import os
import signal
import threading

import pytest

numba = pytest.importorskip("numba")

import hotpath.kernels.numba_threads  # noqa: F401,E402  (registers the fork hooks)
from numba.core.compiler_lock import global_compiler_lock  # noqa: E402


def test_a_child_forked_mid_compile_can_compile() -> None:
    holding, release = threading.Event(), threading.Event()

    def compiling() -> None:  # stands in for a compile in progress on the tuner thread
        with global_compiler_lock:
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=compiling)
    thread.start()
    holding.wait(10)
    threading.Timer(0.2, release.set).start()  # the fork below waits until the compile ends
    pid = os.fork()
    if pid == 0:  # the child: compile something small, then report by exit status
        signal.alarm(30)  # a child that inherited a held lock hangs: end it, failing the test
        try:
            ok = numba.njit(lambda x: x + 1)(1) == 2
        finally:
            os._exit(0 if ok else 1)
    thread.join(10)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
