"""``python -m hotpath.profiles.benchrun CAPTURE [pyperf options]``: pyperf's runner on one capture.

Run by ``hotpath bench``; pyperf starts this module again in its worker processes (with
``--worker``), each of which loads the captured function and arguments and times, with
calibrated loops: the original, and the function as ``hotpath run`` calls it (wrapped by
``hotpath.optimize``, the stored winner installed from the store on its first call; guards and
sampled shadow checks included). The JSON pyperf writes (``-o``) is pyperf's own format.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pyperf

NAMES = ("original", "hotpath")


def load(path: Path) -> dict[str, Any]:
    """The capture record written by ``hotpath optimize`` (function, arguments, signature ...)."""
    import cloudpickle

    record = cloudpickle.loads(path.read_bytes())
    if not isinstance(record, dict) or record.get("schema") != "hotpath.capture/1":
        raise ValueError(f"{path} is not a hotpath capture file")
    return record


def _add_args(cmd: list[str], args: Any) -> None:
    cmd.append(args.capture)


def main() -> None:
    runner = pyperf.Runner(program_args=("-m", "hotpath.profiles.benchrun"), add_cmdline_args=_add_args)
    runner.argparser.add_argument("capture", help="a capture file from hotpath optimize")
    args = runner.parse_args()
    record = load(Path(args.capture))
    import hotpath

    fn, call_args = record["function"], tuple(record["args"])
    wrapped = hotpath.optimize(fn, background=False)
    wrapped(*call_args)  # the first call installs the stored winner, if there is one
    name = f"{record['module']}:{record['qualname']}"
    runner.metadata["hotpath_function"] = name
    runner.metadata["hotpath_signature"] = record["signature"]
    runner.metadata["hotpath_installed"] = ", ".join(c.name for c in wrapped.installed.values()) or "none"
    runner.bench_func(f"{name} original", fn, *call_args)
    runner.bench_func(f"{name} hotpath", wrapped, *call_args)


if __name__ == "__main__":
    sys.exit(main())
