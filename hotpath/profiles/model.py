"""What a whole-program profile says, as small frozen records with a versioned JSON form.

``hotpath.profile/1`` (``Profile.to_json``)::

    {"schema": "hotpath.profile/1", "script": str, "args": [str], "profiler": "scalene X.Y",
     "elapsed_s": float, "functions": [
        {"file": str, "function": str, "line": int,
         "share": float,          # fraction of the program's CPU time (0..1): python + native + system
         "python_share": float,   # time in Python bytecode: what compiling removes
         "native_share": float,   # time in native code (NumPy, C extensions)
         "system_share": float,   # time in the kernel (I/O, page faults)
         "rewritable": bool, "reason": str | null}]}   # reason: why hotpath cannot rewrite it

Functions are sorted by ``share``, largest first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

SCHEMA = "hotpath.profile/1"


@dataclass(frozen=True)
class FunctionProfile:
    """One function's part of the program's time, and whether hotpath can rewrite it."""

    file: str
    function: str
    line: int
    python_share: float
    native_share: float
    system_share: float
    rewritable: bool | None = None  # None: not checked yet
    reason: str | None = None

    @property
    def share(self) -> float:
        return self.python_share + self.native_share + self.system_share

    def with_verdict(self, rewritable: bool, reason: str | None) -> FunctionProfile:
        return replace(self, rewritable=rewritable, reason=reason)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["share"] = self.share
        return data


@dataclass(frozen=True)
class Profile:
    """A ranked profile of one run of a script."""

    script: str
    args: tuple[str, ...]
    profiler: str
    elapsed_s: float
    functions: tuple[FunctionProfile, ...]

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "script": self.script, "args": list(self.args), "profiler": self.profiler,
                "elapsed_s": self.elapsed_s, "functions": [f.to_json() for f in self.functions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} document (schema {data.get('schema')!r})")
        functions = tuple(FunctionProfile(f["file"], f["function"], int(f["line"]), f["python_share"],
                                          f["native_share"], f["system_share"], f.get("rewritable"),
                                          f.get("reason")) for f in data["functions"])
        return cls(data["script"], tuple(data["args"]), data["profiler"], float(data["elapsed_s"]), functions)
