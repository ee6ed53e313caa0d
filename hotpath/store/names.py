"""How the store names a function, and what a name typed on the command line stands for.

A function of an importable module is ``module:qualname``. A function a script defines runs as
``__main__``, and every script's ``__main__`` is a different module: its functions are stored
under the script's resolved path instead (``/home/me/sim/particles.py:smooth``), so two scripts
each defining ``smooth`` are two functions, tuned, installed and rolled back apart. Stores
written before this recorded such functions as ``__main__:smooth``; those rows stay readable and
are still found by that name. Only a ``__main__`` function with a file on disk gets a path: one
typed into a REPL or a notebook cell has none and stays ``__main__``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from hotpath.errors import HotpathError

MAIN = "__main__"


class AmbiguousName(HotpathError):
    """A name that stands for functions of several scripts; the message, one line, lists them."""

    def __init__(self, name: str, choices: list[str]) -> None:
        self.choices = choices
        super().__init__(f"{name} is defined in {len(choices)} scripts; name one: {', '.join(choices)}")


def is_script(module: str) -> bool:
    """Whether ``module`` (as the store keeps it) is a script's path rather than a module name:
    module names never hold a path separator."""
    return "/" in module or os.sep in module


def stored_module(module: str, filename: str | None) -> str:
    """The module a function defined in ``filename`` is stored under: a ``__main__`` function
    with a file on disk under the script's resolved path, any other under its module name."""
    if module != MAIN or not filename or not Path(filename).is_file():
        return module
    return str(Path(filename).resolve())


def split(name: str) -> tuple[str, str]:
    """``module:qualname`` (or ``path:qualname``) as its two parts; qualnames hold no colon."""
    module, _, qualname = name.rpartition(":")
    return module, qualname


def resolve(name: str, known: Iterable[str]) -> list[str]:
    """The recorded names (of ``known``) that ``name`` stands for; empty when none.

    A recorded name stands for itself. A script may also be named by a relative path (from the
    current folder) or by the end of its path (``particles.py:smooth``), and ``__main__:smooth``
    stands for the one script that defines ``smooth`` (with rows recorded under that old name).
    Raises ``AmbiguousName`` when such a name fits functions of more than one script.
    """
    recorded = set(known)
    module, qualname = split(name)
    if name in recorded and module != MAIN:
        return [name]
    if not module or not qualname:
        return []
    scripts = sorted(k for k in recorded if split(k)[1] == qualname and is_script(split(k)[0]))
    if module == MAIN:
        found = scripts
    else:
        given = Path(module).expanduser()
        exact = str(given.resolve())
        found = [k for k in scripts if split(k)[0] == exact] or \
            [k for k in scripts if Path(split(k)[0]).parts[-len(given.parts):] == given.parts]
    if len(found) > 1:
        raise AmbiguousName(name, found)
    return found + ([f"{MAIN}:{qualname}"] if module == MAIN and f"{MAIN}:{qualname}" in recorded else [])
