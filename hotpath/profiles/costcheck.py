"""Whether ``hotpath run SCRIPT ARGS`` has anything to load, decided with the standard library alone.

``hotpath run`` asks this before anything else: where the program record (``programs``) of this
very script with these arguments says that no stored winner pays for its loading, the script runs
as ``python`` would run it, and whatever this check imported is start-up time the plain program
does not pay. So it reads the record as JSON and the store with one read-only ``sqlite3`` query,
with ``os``, ``json`` and ``hashlib`` (which NumPy's random module imports anyway), and nothing
of hotpath's: no dataclasses, no ``pathlib``, no logging. ``programs`` builds its dataclasses on
the same arithmetic (``signature_saving``, ``shadowed_calls``), so the two never disagree.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

#: The record's schema tag (``programs.ProgramRun.to_json`` writes it).
SCHEMA = "hotpath.program/1"
#: ``hotpath.watch.PROBATION_CALLS`` (a test keeps them equal): not imported, since that module
#: brings NumPy and the runner into ``hotpath run``'s start-up.
PROBATION_CALLS = 16
#: ``StateDir.profiles`` and ``StateDir.store_db`` relative to the state folder (a test keeps them
#: equal): ``hotpath.statedir`` is a dataclass over ``pathlib``.
PROFILES = "profiles"
STORE_DB = "store.db"
_URI_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-._~")


def shadowed_calls(calls: int, probation: int = PROBATION_CALLS) -> int:
    """How many of ``calls`` calls to a fresh install also run the original: every call of the
    probation, then one sample per period, the period doubling from 2 (``hotpath.watch``; its
    ceiling and the jitter are left out, which counts fewer samples, never more than the watch
    will take, so the saving is not understated by this)."""
    checked = min(calls, probation)
    at, period = probation, 2
    while at + period <= calls:
        at += period
        checked += 1
        period *= 2
    return checked


def signature_saving(calls: int, original_s: float | None, speedup: float | None) -> float:
    """Expected time one signature's install saves over a run like the recorded one: the calls it
    serves alone save the original's time, and every call pays the variant's
    (``(calls - shadowed) x original - calls x original / speedup``; negative for a function called
    little more than its probation; 0 without a timing or a winner)."""
    if original_s is None or not speedup:
        return 0.0
    return (calls - shadowed_calls(calls)) * original_s - calls * original_s / speedup


def record_path(state_dir: str | os.PathLike[str], script: str) -> str:
    """Where the record of ``script`` (by its resolved path) lives."""
    digest = hashlib.sha256(os.path.realpath(script).encode()).hexdigest()[:12]
    return os.path.join(state_dir, PROFILES, f"program-{digest}.json")


def script_digest(script: str | os.PathLike[str]) -> str | None:
    """SHA-256 of the script's text, ``None`` when it cannot be read."""
    try:
        with open(script, "rb") as file:
            return hashlib.sha256(file.read()).hexdigest()
    except OSError:
        return None


def store_rows(state_dir: str | os.PathLike[str], query: str) -> list[tuple[Any, ...]] | None:
    """The rows ``query`` reads from the store in ``state_dir``, opened read-only with ``sqlite3``
    alone (``hotpath.store`` and its imports cost ``hotpath run``'s start more than this whole
    check): empty where there is no store, ``None`` where it cannot be read."""
    db = os.path.join(state_dir, STORE_DB)
    if not os.path.isfile(db):
        return []
    import sqlite3

    path = os.fsencode(os.path.realpath(db))
    uri = "file:" + "".join(chr(byte) if byte in _URI_SAFE else f"%{byte:02X}" for byte in path)
    try:
        connection = sqlite3.connect(f"{uri}?mode=ro", uri=True)
        try:
            return connection.execute(query).fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        return None


def active_names(state_dir: str | os.PathLike[str]) -> set[str] | None:
    """``module:qualname`` of every active install in the store, for any environment (a superset
    of what ``hotpath run`` installs here); ``None`` when it cannot be read."""
    rows = store_rows(state_dir, "SELECT f.module, f.qualname FROM installs i JOIN functions f"
                                 " ON f.id = i.function_id WHERE i.active = 1")
    return None if rows is None else {f"{module}:{qualname}" for module, qualname in rows}


def nothing_to_load(state_dir: str | os.PathLike[str], script: str, args: Sequence[str]) -> str | None:
    """Why ``hotpath run SCRIPT ARGS`` would load no stored winner at all, or ``None``.

    True of a run of the script as it was recorded (same text, same arguments) where every active
    winner in the store has a recorded cost, and every backend's winners save less over that run
    than loading them costs. Such a run is the plain program, and ``hotpath run`` runs it as
    ``python`` would, without its own start-up. Even where the recorded run spent more time in the
    originals than the load costs: ``loading``'s rule for a run of unknown length (load once that
    much time has been spent in them) would then load mid-run and pay the whole cost for what is
    left of a run the record says it does not repay (measured: 2.5x ``python``'s time). A record that cannot be read, or
    not as a record, gives ``None``: the full path reads it again and says why.
    """
    try:
        with open(record_path(state_dir, script), encoding="utf-8") as file:
            record = json.load(file)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        return None
    recorded_args = record.get("args")
    if recorded_args is None or tuple(recorded_args) != tuple(args):
        return None
    digest = record.get("script_sha256")
    if digest is None or digest != script_digest(script):
        return None  # the program changed since: its calls may not be the recorded ones
    # The record names a script's functions __main__:name; the store, by the script's path (older
    # stores by __main__:name too): each recorded function answers to both.
    script_module = os.path.realpath(script)
    groups: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for name, function in sorted(record["functions"].items()):
        if function.get("backend") is None or function.get("load_s") is None:
            continue
        aliases = (name, script_module + name[len("__main__"):]) if name.startswith("__main__:") else (name,)
        groups.setdefault(function["backend"], []).extend((alias, function) for alias in aliases)
    weighed = {name for members in groups.values() for name, _ in members}
    active = active_names(state_dir)
    if active is None or not active <= weighed:
        return None  # a winner the record has no cost for would be installed at once
    if not active:
        return f"no active stored winner in {state_dir}"
    reasons = []
    for backend, members in groups.items():
        members = [(name, f) for name, f in members if name in active]
        if not members:
            continue
        saving = sum(_saving(f) for _, f in members)
        cost = sum(f["load_s"] for _, f in members)
        if saving > cost:
            return None
        reasons.append(f"not installing the {backend} winners of {', '.join(n for n, _ in members)}: expected saving "
                       f"{saving:.3f} s over a {record['total_s']:.2f} s run <= {cost:.3f} s to load them")
    return "; ".join(reasons) if reasons else None


def _saving(function: Mapping[str, Any]) -> float:
    return sum(signature_saving(s["calls"], s.get("original_s"), s.get("speedup"))
               for s in function["signatures"].values())

