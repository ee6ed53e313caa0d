"""The pipe between a sandbox worker and its parent: length-prefixed pickled messages.

A frame's payload is a pickle (protocol 5) followed by its out-of-band buffers: the memory of
the contiguous NumPy arrays in the message, written to the pipe straight from the arrays. A
reference report holds the original's arguments after every input (on a bench-size input,
gigabytes), so a pickle holding them in-band, plus the frame built around it, would need three
copies of all of it in a worker capped by ``Config.memory_limit_mb``.

The worker sends what it did (a candidate's outcome on each input, its timing samples, its
final report); the parent answers on the worker's stdin. Everything a candidate's worker sends
is the candidate's to forge, so the parent unpickles it with ``load_untrusted``: only the
classes an outcome is made of (NumPy arrays and scalars, builtin containers, hotpath's records,
the user's own classes by reference) can be built, never a callable that runs code at load time.
"""

from __future__ import annotations

import builtins
import io
import os
import pickle
import struct
from typing import Any

import cloudpickle

_HEADER = struct.Struct("<Q")
#: A payload's own header: the pickle's length and how many buffers follow it.
_PAYLOAD = struct.Struct("<QQ")
#: Each buffer's header: its length, and 1 where the array it came from was read-only.
_BUFFER = struct.Struct("<QQ")
#: Builtins a pickle of plain data needs; ``eval``, ``getattr``, ``__import__``... are not here.
_SAFE_BUILTINS = frozenset({
    "object", "int", "float", "complex", "bool", "str", "bytes", "bytearray", "tuple", "list", "dict", "set",
    "frozenset", "slice", "range", "type", "NoneType", "Ellipsis", "NotImplemented",
})
#: Module roots whose classes and reconstructors may be named in an untrusted pickle.
_SAFE_ROOTS = ("numpy", "hotpath", "collections", "datetime", "decimal", "fractions", "enum")
#: Functions (not classes) an untrusted pickle may call, besides classes' constructors.
_SAFE_FUNCTIONS = frozenset({
    ("copyreg", "_reconstructor"), ("copyreg", "__newobj__"), ("copyreg", "__newobj_ex__"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"), ("numpy", "dtype"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
})
#: hotpath names that are not plain records and so may not be built from an untrusted pickle.
_UNSAFE_HOTPATH = ("hotpath.runner.sandbox", "hotpath.runner.worker", "hotpath.cli", "hotpath.store",
                   "hotpath.persist", "hotpath.kernels")


def send(fd: int, message: Any) -> None:
    """Write ``message`` to ``fd`` as one frame (cloudpickle: a result may hold user classes).

    The whole message is pickled before anything is written, so a message that cannot be
    pickled leaves the pipe as it was, and the caller may send another in its place.
    """
    buffers: list[pickle.PickleBuffer] = []
    data = cloudpickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    views = [buffer.raw() for buffer in buffers]
    heads = [_BUFFER.pack(view.nbytes, int(view.readonly)) for view in views]
    size = _PAYLOAD.size + len(data) + sum(_BUFFER.size + view.nbytes for view in views)
    _write_all(fd, _HEADER.pack(size) + _PAYLOAD.pack(len(data), len(views)) + data)
    for head, view in zip(heads, views):
        _write_all(fd, head)
        _write_all(fd, view)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _split(payload: bytearray) -> tuple[bytes, list[memoryview]]:
    """A frame's payload as its pickle and its out-of-band buffers (views of ``payload``, which
    is writable, so an array rebuilt on one is writable unless it was sent read-only)."""
    whole = memoryview(payload)
    size, count = _PAYLOAD.unpack_from(whole)
    at = _PAYLOAD.size + size
    data = bytes(whole[_PAYLOAD.size:at])
    buffers = []
    for _ in range(count):
        length, readonly = _BUFFER.unpack_from(whole, at)
        at += _BUFFER.size
        view = whole[at:at + length]
        buffers.append(view.toreadonly() if readonly else view)
        at += length
    return data, buffers


def load(payload: bytearray) -> Any:
    """Unpickle a frame's payload from a trusted worker (the original's)."""
    data, buffers = _split(payload)
    return pickle.loads(data, buffers=buffers)


class Frames:
    """Reassembles frames from the bytes read off a pipe, in whatever chunks they come."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytearray]:
        """Take ``chunk``; the complete frames' payloads it finished."""
        self._buffer += chunk
        done = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < _HEADER.size + size:
                break
            if len(self._buffer) == _HEADER.size + size:
                # The usual case, and the one that matters for a large frame: the buffer itself
                # becomes the payload (dropping a bytearray's head is cheap), not a copy of it.
                payload, self._buffer = self._buffer, bytearray()
                del payload[:_HEADER.size]
            else:
                payload = self._buffer[_HEADER.size:_HEADER.size + size]
                del self._buffer[:_HEADER.size + size]
            done.append(payload)
        return done


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins":
            if name in _SAFE_BUILTINS:
                return getattr(builtins, name)
        elif (module, name) in _SAFE_FUNCTIONS:
            return super().find_class(module, name)
        elif module.split(".")[0] in _SAFE_ROOTS + self.allowed and not module.startswith(_UNSAFE_HOTPATH):
            found = super().find_class(module, name)
            # A class: building one runs its constructor, nothing else. NumPy's only as values;
            # an ``np.memmap`` comes back as a plain array (one built by calling the class would
            # open, and write, a file the pickle names).
            if isinstance(found, type) and (module.split(".")[0] != "numpy" or _numpy_value(found)):
                return _plain(found)
        raise pickle.UnpicklingError(f"{module}.{name} may not be loaded from a candidate's worker")

    allowed: tuple[str, ...] = ()


def _numpy_value(kind: type) -> bool:
    import numpy as np

    return issubclass(kind, (np.generic, np.dtype, np.ndarray))


def _plain(kind: type) -> type:
    import numpy as np

    return np.ndarray if issubclass(kind, np.memmap) else kind


def load_untrusted(payload: bytearray, user_modules: tuple[str, ...] = ()) -> Any:
    """Unpickle a frame's payload a candidate's worker sent, refusing any global that is not plain data."""
    data, buffers = _split(payload)
    unpickler = _Restricted(io.BytesIO(data), buffers=buffers)
    unpickler.allowed = tuple(m.split(".")[0] for m in user_modules)
    return unpickler.load()
