"""hotpath: make hot numeric Python fast, verified against the original, reversibly.

Public API::

    @hotpath.optimize                     # tier 0 now; tunes hot signatures in the background
    def kernel(a, b): ...

    result = hotpath.tune(kernel, a, b)   # tune now for these arguments
    result.winner, result.reason, result.trials, result.optimized

Set ``HOTPATH_DISABLE=1`` to run every function as its original.

PYTEST_DONT_REWRITE: hotpath is a pytest plugin (the gate), and ``hotpath optimize -m pytest``
has imported it before pytest starts; pytest need not (and then could not) rewrite it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from hotpath.config import Config
    from hotpath.dispatch import Optimized
    from hotpath.errors import ConfigError, HotpathError, NotOptimizedWarning, NotRewritable
    from hotpath.kernels.base import Candidate
    from hotpath.runner.timing import Timing
    from hotpath.runner.trials import Trial
    from hotpath.signature import Signature
    from hotpath.tuning import TuneResult
    from hotpath.version import VERSION as __version__
else:
    # The public names are loaded on first use (PEP 562), so that ``import hotpath`` costs
    # almost nothing: ``hotpath run`` and the CLI import this package on every start, and
    # dispatch pulls in the store, the tuner, NumPy and more (about 0.3 s) that a program whose
    # stored winners are not worth loading never needs.
    _LAZY = {
        "Config": "hotpath.config", "Optimized": "hotpath.dispatch", "ConfigError": "hotpath.errors",
        "HotpathError": "hotpath.errors", "NotRewritable": "hotpath.errors",
        "NotOptimizedWarning": "hotpath.errors", "Candidate": "hotpath.kernels.base",
        "Timing": "hotpath.runner.timing", "Trial": "hotpath.runner.trials", "Signature": "hotpath.signature",
        "TuneResult": "hotpath.tuning", "__version__": "hotpath.version",
    }

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'hotpath' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), "VERSION" if name == "__version__" else name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(_LAZY))

F = TypeVar("F", bound=Callable[..., Any])


@overload
def optimize(fn: Callable[..., Any], /, *, config: Config | None = None, **options: Any) -> Optimized: ...
@overload
def optimize(*, config: Config | None = None, **options: Any) -> Callable[[Callable[..., Any]], Optimized]: ...


def optimize(fn: Callable[..., Any] | None = None, /, *, config: Config | None = None,
             **options: Any) -> Optimized | Callable[[Callable[..., Any]], Optimized]:
    """Wrap ``fn`` so hot argument signatures get a verified, faster variant.

    Use bare (``@hotpath.optimize``) or with options (``@hotpath.optimize(backends=("numba",),
    rtol=1e-9)``); options are the fields of ``hotpath.Config``. The wrapper keeps ``fn``'s
    name, docstring and signature, runs the original until a signature is hot, then tunes that
    signature in the background without blocking callers.

    A function hotpath can never rewrite (a method, a generator, a lambda, ``*args`` or
    ``**kwargs`` ...) still works, as the original, and is named with its reason in a
    ``hotpath.NotOptimizedWarning`` when it is decorated.
    """
    from hotpath.config import Config
    from hotpath.dispatch import Optimized

    settings = (config or Config()).replace(**options)

    def wrap(function: Callable[..., Any], stacklevel: int = 2) -> Optimized:
        if isinstance(function, Optimized):
            function = function.original
        _warn_if_never_rewritten(function, stacklevel + 1)
        return Optimized(function, settings)

    return wrap if fn is None else wrap(fn, stacklevel=3)


def _warn_if_never_rewritten(function: Callable[..., Any], stacklevel: int) -> None:
    import warnings

    from hotpath.errors import NotOptimizedWarning, NotRewritable
    from hotpath.rewriter.supported import check_supported

    try:
        check_supported(function)
    except NotRewritable as exc:
        name = getattr(function, "__qualname__", repr(function))
        warnings.warn(f"hotpath.optimize: {name} will always run as the original: {exc.reason}",
                      NotOptimizedWarning, stacklevel=stacklevel)


def tune(fn: Callable[..., Any], /, *args: Any, backends: tuple[str, ...] | str | None = None,
         rtol: float | None = None, atol: float | None = None, fastmath: bool | None = None,
         config: Config | None = None, executor: Any = None, budget_s: float | None = None,
         **kwargs: Any) -> TuneResult:
    """Optimize ``fn`` now for these arguments and install the winner for their signature.

    ``fn`` may be a plain function or one decorated with ``hotpath.optimize``. ``config`` and
    every field of ``hotpath.Config`` given by name (``backends``, ``rtol``, ``timing_budget_s``,
    ...) configure the run; ``executor`` says where the candidates' trials run: ``None`` (here,
    one at a time), a ``distributed.Client`` or a scheduler address such as
    ``"tcp://host:8786"`` (needs ``hotpath[dask]``; see docs/cluster.md). ``budget_s`` caps the
    run's wall time (default 60 s, ``float("inf")``: no cap; docs/configuration.md): the cost
    model tries the likely winners first, no new candidate starts once it is spent, and a
    running one is stopped when it runs out. Every other keyword argument is passed to ``fn``.

    A keyword that names both a ``Config`` field and a parameter of ``fn`` is ambiguous and
    raises ``ConfigError``: pass that argument to ``fn`` by position, or the option through
    ``config=``. Otherwise never raises because of the function: anything that prevents
    optimization is in ``TuneResult.reason`` and ``fn`` keeps running as the original.
    """
    import dataclasses
    import functools

    from hotpath.config import Config
    from hotpath.dispatch import Optimized
    from hotpath.errors import ConfigError

    fields = {field.name for field in dataclasses.fields(Config)}  # every Config field is an option by name
    options = {name: kwargs.pop(name) for name in list(kwargs) if name in fields}
    options.update((name, value) for name, value in (("backends", backends), ("rtol", rtol), ("atol", atol),
                                                      ("fastmath", fastmath), ("budget_s", budget_s))
                   if value is not None)
    clashes = sorted(set(options) & _keyword_parameters(fn))
    if clashes:
        raise ConfigError(f"{', '.join(clashes)} names both a hotpath option and a parameter of "
                          f"{getattr(fn, '__qualname__', fn)}; pass the argument by position, or the option "
                          "as config=hotpath.Config(...)")
    if isinstance(fn, functools.partial) and isinstance(fn.func, Optimized) and not fn.keywords:
        args = fn.args + args  # a decorated method, bound: tuned (or refused) as the function it wraps
        fn = fn.func
    base = config or (fn.config if isinstance(fn, Optimized) else Config())
    settings = base.replace(**options)
    opt = fn if isinstance(fn, Optimized) else Optimized(fn, settings)
    return opt.tune_call(args, kwargs, settings, executor=executor)


def _keyword_parameters(fn: Callable[..., Any]) -> set[str]:
    """The parameters of ``fn`` a keyword argument can reach (none when it has no signature)."""
    import inspect

    try:
        parameters = inspect.signature(getattr(fn, "original", fn)).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in parameters
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}


__all__ = [
    "optimize", "tune", "Config", "Optimized", "TuneResult", "Trial", "Candidate", "Timing",
    "Signature", "HotpathError", "ConfigError", "NotRewritable", "NotOptimizedWarning", "__version__",
]
