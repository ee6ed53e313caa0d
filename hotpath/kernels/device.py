"""Running a variant on a GPU for a caller that passes host (NumPy) arrays.

``DeviceCall`` wraps a device function: NumPy arrays among the arguments go to the device
(one copy per distinct array, so ``f(x, x)`` stays aliased), the function runs there, the
arguments it may write are copied back into the caller's arrays (in-place semantics), and
device results come back as NumPy values: a 0-d device array becomes the NumPy scalar NumPy
itself would have returned from a reduction. A caller that already passes device arrays
gets device results, and nothing moves.

``parts`` times the three phases separately, synchronizing the device between them, so a
user sees whether the transfers eat the gain at their sizes; the install decision still uses
the end-to-end time of ``__call__``.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Names of the phases ``parts`` reports, in the order they happen.
TRANSFER_S, COMPUTE_S = "transfer_s", "compute_s"


@dataclass(frozen=True)
class DeviceOps:
    """How one library moves arrays and waits for its device."""

    is_device_array: Callable[[object], bool]
    to_device: Callable[[np.ndarray], Any]
    to_host: Callable[[Any], np.ndarray]
    synchronize: Callable[[], None]


class DeviceCall:
    """A callable taking host arrays that runs ``fn`` on device copies of them."""

    def __init__(self, fn: Callable[..., Any], ops: DeviceOps, written: Sequence[int]) -> None:
        self.fn = fn
        self.ops = ops
        self.written = frozenset(written)  # positions of parameters the function may write
        self.__wrapped__ = fn

    def __call__(self, *args: Any) -> Any:
        device_args, moved = self.to_device(args)
        result = self.fn(*device_args)
        return self.finish(args, device_args, moved, result)

    def to_device(self, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[int, Any]]:
        """Device copies of the host arrays in ``args``; ``moved`` maps id(host) -> device."""
        moved: dict[int, Any] = {}

        def convert(value: Any) -> Any:
            if type(value) is np.ndarray:
                if id(value) not in moved:
                    moved[id(value)] = self.ops.to_device(value)
                return moved[id(value)]
            if type(value) is tuple:
                return tuple(convert(v) for v in value)
            return value

        return tuple(convert(a) for a in args), moved

    def finish(self, args: tuple[Any, ...], device_args: tuple[Any, ...], moved: dict[int, Any],
               result: Any) -> Any:
        """Copy written arrays back into the caller's, and bring the result to the host."""
        if not moved:
            return result  # the caller passed device arrays: results stay on the device
        back: dict[int, Any] = {}  # id(device array) -> the caller's host array
        for position, (host, device) in enumerate(zip(args, device_args)):
            if type(host) is np.ndarray and device is not host:
                back[id(device)] = host
                if position in self.written and host.flags.writeable:
                    host[...] = self.ops.to_host(device)
        return self._host_value(result, back)

    def _host_value(self, value: Any, back: dict[int, Any]) -> Any:
        if id(value) in back:
            return back[id(value)]  # the function returned an argument: return the caller's array
        if self.ops.is_device_array(value):
            host = self.ops.to_host(value)
            # Device libraries return 0-d arrays where NumPy returns scalars (reductions).
            return host[()] if host.ndim == 0 else host
        if isinstance(value, tuple):
            return tuple(self._host_value(v, back) for v in value)
        if isinstance(value, list):
            return [self._host_value(v, back) for v in value]
        if isinstance(value, dict):
            return {k: self._host_value(v, back) for k, v in value.items()}
        return value

    def parts(self, *args: Any) -> dict[str, float]:
        """One synchronized call split into transfer (both ways) and compute seconds."""
        clock, sync = time.perf_counter, self.ops.synchronize
        sync()
        start = clock()
        device_args, moved = self.to_device(args)
        sync()
        sent = clock()
        result = self.fn(*device_args)
        sync()
        computed = clock()
        self.finish(args, device_args, moved, result)
        sync()
        done = clock()
        return {TRANSFER_S: (sent - start) + (done - computed), COMPUTE_S: computed - sent}


def measure_parts(variant: Callable[..., Any], args: Sequence[Any], repeats: int = 7) -> dict[str, float]:
    """Median transfer and compute seconds of a ``DeviceCall`` on fresh copies of ``args``.

    Returns ``{}`` for a variant without phases (it runs on the host).
    """
    parts = getattr(variant, "parts", None)
    if parts is None:
        return {}
    parts(*copy.deepcopy(tuple(args)))  # warm: allocator pools, kernel caches
    samples = [parts(*copy.deepcopy(tuple(args))) for _ in range(repeats)]
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}
