"""The program as Scalene runs it: a generated stub that hands over to ``main`` here.

Scalene parses its whole command line with argparse, program arguments included, so an
argument such as ``--n`` ("ambiguous option: --n could match --no-stacks") or a program given
with ``-m`` never reaches the program intact. So Scalene is given a stub script and the path of
a JSON file naming the program; ``main`` runs the program exactly as ``hooks`` runs it for
``hotpath run`` (``python SCRIPT`` or ``python -m MODULE`` semantics, its own ``sys.argv``),
prints an exception the way Python does without Scalene's or hotpath's frames, and turns
Ctrl-C into exit status 130, so Scalene still writes the profile of the part that ran.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

from hotpath.profiles import hooks
from hotpath.profiles.entry import Program

STUB_NAME = "hotpath_program.py"
_STARTED = "started"
_STUB = "import sys\nfrom hotpath.profiles.launch import main\nmain(sys.argv[1])\n"


def prepare(program: Program, folder: Path) -> tuple[Path, Path]:
    """Write the stub and the program's description into ``folder``; returns both paths.

    The stub lives in a folder of its own: Scalene puts the stub's folder first on ``sys.path``
    (``main`` replaces it with the program's, as Python would have set it).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _STARTED).unlink(missing_ok=True)
    stub, spec = folder / STUB_NAME, folder / "program.json"
    stub.write_text(_STUB)
    spec.write_text(json.dumps(asdict(program)))
    return stub, spec


def started(folder: Path) -> bool:
    """Whether the program of the last ``prepare`` in ``folder`` was started (Scalene got that far)."""
    return (folder / _STARTED).exists()


def run(program: Program) -> int:
    """Run ``program`` unwrapped in this process; its exit status, 130 after Ctrl-C."""
    try:
        if program.module:
            return hooks.run_module(program.target, program.args, None)
        return hooks.run_script(program.target, program.args, None)
    except KeyboardInterrupt:
        return 130
    finally:
        sys.stdout.flush()


def main(spec_path: str) -> NoReturn:
    spec = Path(spec_path)
    (spec.parent / _STARTED).touch()
    data = json.loads(spec.read_text())
    raise SystemExit(run(Program(data["target"], tuple(data["args"]), bool(data["module"]))))
