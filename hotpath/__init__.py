"""hotpath: make hot numeric Python fast, verified against the original, reversibly.

Public API::

    @hotpath.optimize                     # tier 0 now; tunes hot signatures in the background
    def kernel(a, b): ...

    result = hotpath.tune(kernel, a, b)   # tune now for these arguments
    result.winner, result.reason, result.trials, result.optimized

Set ``HOTPATH_DISABLE=1`` to run every function as its original.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from hotpath.config import Config
from hotpath.dispatch import Optimized
from hotpath.errors import ConfigError, HotpathError, NotRewritable
from hotpath.kernels.base import Candidate
from hotpath.runner.timing import Timing
from hotpath.runner.trials import Trial
from hotpath.signature import Signature
from hotpath.tuning import TuneResult
from hotpath.version import VERSION as __version__

F = TypeVar("F", bound=Callable[..., Any])


@overload
def optimize(fn: Callable[..., Any], /) -> Optimized: ...
@overload
def optimize(*, config: Config | None = None, **options: Any) -> Callable[[Callable[..., Any]], Optimized]: ...


def optimize(fn: Callable[..., Any] | None = None, /, *, config: Config | None = None,
             **options: Any) -> Optimized | Callable[[Callable[..., Any]], Optimized]:
    """Wrap ``fn`` so hot argument signatures get a verified, faster variant.

    Use bare (``@hotpath.optimize``) or with options (``@hotpath.optimize(backends=("numba",),
    rtol=1e-9)``); options are the fields of ``hotpath.Config``. The wrapper keeps ``fn``'s
    name, docstring and signature, runs the original until a signature is hot, then tunes that
    signature in the background without blocking callers.
    """
    settings = (config or Config()).replace(**options)

    def wrap(function: Callable[..., Any]) -> Optimized:
        if isinstance(function, Optimized):
            function = function.original
        return Optimized(function, settings)

    return wrap if fn is None else wrap(fn)


def tune(fn: Callable[..., Any], /, *args: Any, backends: tuple[str, ...] | str | None = None,
         rtol: float | None = None, atol: float | None = None, fastmath: bool | None = None,
         config: Config | None = None, executor: Any = None, budget_s: float | None = None,
         **kwargs: Any) -> TuneResult:
    """Optimize ``fn`` now for these arguments and install the winner for their signature.

    ``fn`` may be a plain function or one decorated with ``hotpath.optimize``. ``backends``,
    ``rtol``, ``atol``, ``fastmath`` and ``config`` configure the run; ``executor`` says where the
    candidates' trials run: ``None`` (here, one at a time), a ``distributed.Client`` or a scheduler
    address such as ``"tcp://host:8786"`` (needs ``hotpath[dask]``; see docs/cluster.md).
    ``budget_s`` caps the wall time spent on trials: the cost model tries the likely winners
    first and no new candidate starts once it is spent. Every other keyword argument is passed
    to ``fn``. Never raises because of the function: anything that prevents optimization is in
    ``TuneResult.reason`` and ``fn`` keeps running as the original.
    """
    base = config or (fn.config if isinstance(fn, Optimized) else Config())
    settings = base.replace(backends=backends, rtol=rtol, atol=atol, fastmath=fastmath, budget_s=budget_s)
    opt = fn if isinstance(fn, Optimized) else Optimized(fn, settings)
    return opt.tune_call(args, kwargs, settings, executor=executor)


__all__ = [
    "optimize", "tune", "Config", "Optimized", "TuneResult", "Trial", "Candidate", "Timing",
    "Signature", "HotpathError", "ConfigError", "NotRewritable", "__version__",
]
