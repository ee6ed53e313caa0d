"""Where the trials of one tuning run go: what a user passes as ``executor=``, made an executor.

- ``None``: ``LocalExecutor`` (one sandbox at a time, in proposal order);
- an ``Executor``: used as is;
- a ``distributed.Client``, or a scheduler address such as ``"tcp://host:8786"``: a
  ``hotpath.runner.dask_executor.DaskExecutor`` (needs the ``hotpath[dask]`` extra, imported
  only when one is asked for).

Its own module so that the executors' records and the cluster executor built on them depend one
way: ``executors`` <- ``dask_executor`` <- ``placement``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hotpath.runner.dask_executor import DaskExecutor
from hotpath.runner.executors import Executor, ExecutorUnavailable, LocalExecutor


def is_dask_client(obj: object) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


@contextlib.contextmanager
def opened(spec: object = None) -> Iterator[Executor]:
    """The executor ``spec`` names, closed afterwards if it was opened here.

    Raises ``ExecutorUnavailable`` (with a reason for the user) when it cannot be had.
    """
    if spec is None:
        yield LocalExecutor()
        return
    if isinstance(spec, Executor):
        yield spec
        return
    if isinstance(spec, str) or is_dask_client(spec):
        executor = DaskExecutor.connect(spec) if isinstance(spec, str) else DaskExecutor(spec)
        try:
            yield executor
        finally:
            executor.close()
        return
    raise ExecutorUnavailable(f"executor={spec!r} is neither an Executor, a distributed.Client nor a "
                              "scheduler address such as 'tcp://host:8786'")
