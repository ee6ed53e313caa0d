"""Which functions hotpath can rewrite at all, from their kind and parameters alone.

The first check of every rewrite, and the one ``hotpath.optimize`` runs at decoration so that a
function it will never optimize is named there (``NotOptimizedWarning``), not found out later.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

from hotpath.errors import NotRewritable


def check_supported(fn: Callable[..., Any]) -> types.FunctionType:
    """``fn`` itself if its kind and parameters can be rewritten, else ``NotRewritable`` with the
    reason. Reads no source: cheap enough to run when a function is decorated."""
    if inspect.ismethod(fn):
        raise NotRewritable(
            f"{fn.__qualname__} is a bound method; decorate a module-level function and pass the "
            "object's arrays to it as arguments"
        )
    if not isinstance(fn, types.FunctionType):
        kind = type(fn).__name__
        raise NotRewritable(
            f"{getattr(fn, '__name__', fn)!r} is a {kind}, not a Python function: hotpath rewrites "
            "functions written in Python (builtins and C functions have no source to rewrite)"
        )
    code = fn.__code__
    if fn.__name__ == "<lambda>":
        raise NotRewritable("lambdas are not rewritten: give the function a name with `def`")
    if code.co_flags & (inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR):
        raise NotRewritable(f"{fn.__qualname__} is a generator; only functions that return are rewritten")
    if code.co_flags & inspect.CO_COROUTINE:
        raise NotRewritable(f"{fn.__qualname__} is a coroutine; only plain functions are rewritten")
    parts = fn.__qualname__.split(".")
    if len(parts) > 1 and parts[-2] != "<locals>":
        raise NotRewritable(
            f"{fn.__qualname__} is defined in a class (a method); decorate a module-level function "
            "and pass the object's arrays to it as arguments"
        )
    for param in inspect.signature(fn).parameters.values():
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            raise NotRewritable(f"keyword-only parameter {param.name!r} is not supported; make it positional")
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            raise NotRewritable(f"*{param.name} is not supported; pass a tuple instead")
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            raise NotRewritable(f"**{param.name} is not supported; pass the values as positional arguments")
    return fn
