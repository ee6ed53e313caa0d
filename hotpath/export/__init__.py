"""``hotpath export``: the stored winners as source a team can review, commit and run without hotpath.

``export_patch`` reads the live winners of a state folder, checks each function is still the one
that was tuned (``locate``), writes each as its original, its verified Numba variant and a
wrapper that keeps the variant inside the conditions it was verified on (``emit``), and joins
them into one unified diff (``patch``). ``docs/export.md`` describes the patch and its guards.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hotpath.export.patch import Export, Skipped, UnknownFunction, build, select
from hotpath.export.winners import Winner, live
from hotpath.store.queries import open_existing


class NothingToExport(Exception):
    """No store in the state folder, or no live winner in it (the message says which)."""


def export_patch(state_dir: Path, functions: Sequence[str] = (), root: Path | None = None) -> Export:
    """The patch writing the live winners of ``state_dir`` (those of ``functions`` when given)
    into their files under ``root`` (default: the current folder). Raises ``NothingToExport``,
    ``UnknownFunction``, or ``StoreUnavailable`` for a store that cannot be read."""
    store = open_existing(state_dir)
    if store is None:
        raise NothingToExport(f"no store in {state_dir}: nothing has been tuned there")
    winners = live(store)
    if not winners:
        raise NothingToExport(f"no live winner in {state_dir}: nothing is installed to export")
    return build(select(winners, functions), (root or Path.cwd()).resolve())


__all__ = ["Export", "NothingToExport", "Skipped", "UnknownFunction", "Winner", "export_patch"]
