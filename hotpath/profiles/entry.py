"""What the user asked a program command to run: a script or a module (``-m``), and its arguments.

``hotpath profile|optimize|run`` take the program the way ``python`` does: ``SCRIPT.py ARGS``
or ``-m MODULE ARGS``, everything after the script or module belonging to the program. The
module's file is found the way ``python -m`` finds it (the current folder first), without
importing it: importing a program's module may run it.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # hooks (ast, the import hook) is imported by ``run`` alone
    from hotpath.profiles.hooks import Wrapper


class EntryError(Exception):
    """The program cannot be found or compiled; the message is one line for the user."""


@dataclass(frozen=True)
class Program:
    """A script path or a module name, with the program's own arguments."""

    target: str
    args: tuple[str, ...] = ()
    module: bool = False

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> Program:
        """``[SCRIPT, ARGS...]`` or ``["-m", MODULE, ARGS...]``."""
        if not argv:
            raise EntryError("give the program to run: SCRIPT.py [ARGS...] or -m MODULE [ARGS...]")
        if argv[0] == "-m":
            if len(argv) < 2:
                raise EntryError("-m needs a module name, as in `python -m MODULE`")
            return cls(argv[1], tuple(argv[2:]), module=True)
        return cls(argv[0], tuple(argv[1:]))

    def argv(self) -> list[str]:
        """The command line after ``python``: ``[SCRIPT, ARGS...]`` or ``["-m", MODULE, ARGS...]``."""
        return ["-m", self.target, *self.args] if self.module else [self.target, *self.args]

    def label(self) -> str:
        """The program without its arguments: the script, or ``-m MODULE``."""
        return f"-m {self.target}" if self.module else self.target

    def display(self) -> str:
        """As the user would type it after ``python``."""
        return " ".join(self.argv())

    def main_file(self) -> Path:
        """The file run as ``__main__``: the script, or the module's (a package's ``__main__.py``);
        ``EntryError`` when there is none."""
        if not self.module:
            path = Path(self.target)
            if not path.is_file():
                raise EntryError(f"{self.target}: no such file")
            return path.resolve()
        return module_file(self.target)

    def root(self) -> Path:
        """The folder whose files are the program's own: the script's, or for a module the current
        one (``python -m`` puts it first on ``sys.path``)."""
        return self.main_file().parent if not self.module else Path.cwd().resolve()

    def run(self, wrapper: Wrapper | None = None, wanted: Callable[[str, str], bool] | None = None) -> int:
        """Run the program in this process as ``python`` would run it, with the functions ``wrapper``
        replaces in the modules ``wanted`` accepts; its exit status, 130 after Ctrl-C
        (``hooks.run_program``)."""
        from hotpath.profiles import hooks

        return hooks.run_program(self.target, self.args, self.module, wrapper, wanted)

    def check(self) -> None:
        """``EntryError`` when the program cannot be found; ``SyntaxError`` when its main file does not compile."""
        path = self.main_file()
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)


def module_file(name: str, search: Sequence[str] | None = None) -> Path:
    """The file ``python -m name`` would run, found without importing anything."""
    path: list[str] = list(search) if search is not None else [os.getcwd(), *sys.path[1:]]
    parts = name.split(".")
    spec = None
    for index in range(len(parts)):
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:index + 1]), path)
        if spec is None:
            raise EntryError(f"No module named {name}")
        if index < len(parts) - 1:
            if spec.submodule_search_locations is None:
                raise EntryError(f"No module named {name} ({'.'.join(parts[:index + 1])} is not a package)")
            path = list(spec.submodule_search_locations)
    assert spec is not None
    if spec.submodule_search_locations is not None:  # a package: its __main__
        spec = importlib.machinery.PathFinder.find_spec(name + ".__main__", list(spec.submodule_search_locations))
        if spec is None:
            raise EntryError(f"No module named {name}.__main__; '{name}' is a package and cannot be directly executed")
    if spec.origin is None or not spec.origin.endswith(".py"):
        raise EntryError(f"{name} has no Python source to run ({spec.origin})")
    return Path(spec.origin).resolve()
