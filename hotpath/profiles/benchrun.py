"""``python -m hotpath.profiles.benchrun CAPTURE [pyperf options]``: pyperf's runner on one capture.

Run by ``hotpath bench``; pyperf starts this module again in its worker processes (with
``--worker``), each of which loads the captured function and arguments and times, with
calibrated loops: the original, and the function as ``hotpath run`` calls it (wrapped by
``hotpath.optimize``, the stored winner installed from the store on its first call; guards and
sampled shadow checks included). The JSON pyperf writes (``-o``) is pyperf's own format.

The function timed is the one the program defines, so that its store identity (source hash and
global values) is the one ``hotpath run`` computes: a function of an imported module is imported
again from the script's folder; a script's own (``__main__``) function comes from the capture,
whose code cloudpickle stripped of its file name, so it is pointed back at the script's file.
When no stored winner gets installed, the benchmark is not run: the process prints one line
with the reason and exits with ``NOTHING_INSTALLED``.
"""

from __future__ import annotations

import importlib
import logging
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

NAMES = ("original", "hotpath")
#: Exit status when the function has no stored winner that installs here (the reason is printed).
NOTHING_INSTALLED = 3
_PICKLED_FILE = "<dynamic-code>"  # what cloudpickle writes as the file of code pickled by value


def load(path: Path) -> dict[str, Any]:
    """The capture record written by ``hotpath optimize`` (function, arguments, signature ...)."""
    import cloudpickle

    record = cloudpickle.loads(path.read_bytes())
    if not isinstance(record, dict) or record.get("schema") != "hotpath.capture/1":
        raise ValueError(f"{path} is not a hotpath capture file")
    return record


def defined_function(record: dict[str, Any]) -> Callable[..., Any]:
    """The captured function as the program defines it, with a source hotpath can read."""
    script = Path(record["script"]).resolve()
    if str(script.parent) not in sys.path:
        sys.path.insert(0, str(script.parent))  # the script's imports resolve as under `python script.py`
    module, qualname = record["module"], record["qualname"]
    if module != "__main__":
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        return found
    fn = record["function"]
    file = record.get("file") or str(script)  # captures before the file was recorded: the script's
    namespace = fn.__globals__
    for value in [fn, *namespace.values()]:
        if (isinstance(value, types.FunctionType) and value.__globals__ is namespace
                and value.__code__.co_filename == _PICKLED_FILE):
            value.__code__ = value.__code__.replace(co_filename=file)  # the script's helpers too
    return fn


class _Reasons(logging.Handler):
    """Keeps hotpath's warnings during the installing call: the reason a stored winner was refused."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0])


def install(fn: Callable[..., Any], call_args: tuple[Any, ...], name: str) -> tuple[Any, str | None]:
    """``fn`` wrapped as ``hotpath run`` wraps it, after the call that installs the stored winner;
    and ``None``, or why nothing is installed."""
    import hotpath
    from hotpath import persist

    logger = logging.getLogger("hotpath")
    reasons = _Reasons()
    propagate = logger.propagate
    logger.addHandler(reasons)
    logger.propagate = False  # the reason goes into the one line below, not a traceback before it
    try:
        wrapped = hotpath.optimize(fn, background=False)
        wrapped(*call_args)  # the first call installs the stored winner, if there is one
    finally:
        logger.removeHandler(reasons)
        logger.propagate = propagate
    if wrapped.installed:
        return wrapped, None
    if reasons.messages:
        return wrapped, f"the stored winner for {name} was not installed: {reasons.messages[-1]}"
    if persist.identify(fn) is None:
        return wrapped, f"{name} cannot be identified in the store (its source cannot be read or rewritten)"
    return wrapped, (f"nothing is installed for {name} with this source and these arguments: "
                     "run `hotpath optimize` first")


def _add_args(cmd: list[str], args: Any) -> None:
    cmd.append(args.capture)


def main() -> int:
    import pyperf  # here: the capture helpers above serve `hotpath run`'s cost measurement without it

    runner = pyperf.Runner(program_args=("-m", "hotpath.profiles.benchrun"), add_cmdline_args=_add_args)
    runner.argparser.add_argument("capture", help="a capture file from hotpath optimize")
    args = runner.parse_args()
    record = load(Path(args.capture))
    name = f"{record['module']}:{record['qualname']}"
    fn, call_args = defined_function(record), tuple(record["args"])
    wrapped, missing = install(fn, call_args, name)
    if missing is not None:
        print(f"hotpath bench: {missing}", file=sys.stderr)
        return NOTHING_INSTALLED
    runner.metadata["hotpath_function"] = name
    runner.metadata["hotpath_signature"] = record["signature"]
    runner.metadata["hotpath_installed"] = ", ".join(c.name for c in wrapped.installed.values())
    runner.bench_func(f"{name} original", fn, *call_args)
    runner.bench_func(f"{name} hotpath", wrapped, *call_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
