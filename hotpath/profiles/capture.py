"""Capturing real arguments of chosen functions while the program runs.

Per function and argument signature (the same guard key dispatch uses), a reservoir sample of
``samples`` calls is kept (seeded, so reruns pick the same calls), each pickled *before* the
call (functions may change their arguments in place; the pickle is the copy): only picklable
arguments can go to the sandbox, and the pickle is what tuning and ``hotpath bench`` read
later. Arguments larger than ``max_bytes`` are passed over; a signature whose arguments cannot
be pickled is given up with the reason. Only calls chosen for the sample pay for the copy.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hotpath.runner import payload
from hotpath.signature import guard_key, signature_of

log = logging.getLogger(__name__)

CAPTURED_ATTR = "__hotpath_capture__"


@dataclass
class SignatureSamples:
    """The calls seen with one signature and the pickled arguments of those sampled."""

    signature: str
    calls: int = 0
    samples: list[bytes] = field(default_factory=list)
    skipped: str | None = None  # why this signature cannot be captured
    too_large: int = 0


def approximate_bytes(value: object, depth: int = 0) -> int:
    """A cheap lower bound of the pickled size: array buffers, strings, and containers of them."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (bytes, bytearray, str)):
        return len(value)
    if depth < 3 and isinstance(value, (tuple, list)):
        return sum(approximate_bytes(v, depth + 1) for v in value[:1000])
    if depth < 3 and isinstance(value, dict):
        return sum(approximate_bytes(v, depth + 1) for v in list(value.values())[:1000])
    return 8


class Recorder:
    """Samples of calls per function and signature."""

    def __init__(self, samples: int = 1, max_bytes: int = 64 << 20, max_signatures: int = 4, seed: int = 0) -> None:
        self.samples_per_signature = max(1, samples)
        self.max_bytes = max_bytes
        self.max_signatures = max_signatures
        self._random = random.Random(seed)
        self.functions: dict[str, dict[Hashable, SignatureSamples]] = {}
        self.originals: dict[str, Callable[..., Any]] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A stand-in for ``fn`` that records its calls, then calls it."""
        import inspect

        self.originals[name] = fn
        self.functions.setdefault(name, {})
        try:
            bind = inspect.signature(fn).bind
        except (TypeError, ValueError):
            return fn

        @functools.wraps(fn)
        def capturing(*args: Any, **kwargs: Any) -> Any:
            try:
                self._observe(name, bind, args, kwargs)
            except Exception:  # capturing must never change what the program does
                log.debug("capturing a call of %s failed", name, exc_info=True)
            return fn(*args, **kwargs)

        setattr(capturing, CAPTURED_ATTR, fn)
        capturing.__hotpath_original__ = fn  # type: ignore[attr-defined]  # what extract() unwraps to
        return capturing

    def _observe(self, name: str, bind: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if kwargs:
            bound = bind(*args, **kwargs)
            bound.apply_defaults()
            args = bound.args
        key = guard_key(args)
        per_function = self.functions[name]
        entry = per_function.get(key)
        if entry is None:
            if len(per_function) >= self.max_signatures:
                return
            entry = per_function[key] = SignatureSamples(str(signature_of(args)))
        entry.calls += 1
        if entry.skipped is not None:
            return
        slot = self._slot(entry)
        if slot is None:
            return
        if approximate_bytes(args) > self.max_bytes:
            entry.too_large += 1
            return
        try:
            data = payload.dumps(args)  # the pickle is the copy, taken before the call
        except Exception as exc:
            entry.skipped = (f"its arguments cannot be pickled ({type(exc).__name__}: {exc}); only picklable "
                             "arguments can be sent to the sandbox, so this signature is not tuned")
            log.warning("%s %s: %s", name, entry.signature, entry.skipped)
            return
        if len(data) > self.max_bytes:
            entry.too_large += 1
            return
        if slot == len(entry.samples):
            entry.samples.append(data)
        else:
            entry.samples[slot] = data

    def _slot(self, entry: SignatureSamples) -> int | None:
        """Reservoir sampling: where this call's arguments go, or ``None`` to pass it over."""
        kept = len(entry.samples)
        if kept < self.samples_per_signature:
            return kept
        pick = self._random.randrange(entry.calls)
        return pick if pick < self.samples_per_signature else None
