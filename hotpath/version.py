"""hotpath's version, read from the installed distribution's metadata in this one place.

A leaf: the store's fingerprints and ``hotpath.__version__`` both read it, so neither needs the
other (the store importing the package's ``__init__`` closed an import cycle through dispatch).
"""

from __future__ import annotations

import importlib.metadata


def _read() -> str:
    try:
        return importlib.metadata.version("hotpath")
    except importlib.metadata.PackageNotFoundError:  # a source tree run without installing
        return "0+unknown"


#: The installed hotpath's version, e.g. ``"0.1.0"``.
VERSION: str = _read()
