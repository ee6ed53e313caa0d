"""A trial's reason in one line, for tables and summaries.

Reasons keep a failure's whole message (the store and ``hotpath explain`` show it), but a table
has room for one line, and the first line of a compiler's error is often only its wrapper:
Numba's "Failed in nopython mode pipeline (step: nopython frontend)" says where it failed, the
next line says why ("Untyped global name 'PARAMS': ...").
"""

from __future__ import annotations

import re

#: First lines that say only where a compiler failed, not why.
_WRAPPERS = re.compile(r"^(?:\w+(?:Error|Exception): )?(?:Failed in \w[\w ]* mode pipeline|"
                       r"Compilation is falling back|Internal error at)")
_EXCEPTION = re.compile(r"^(\w+(?:Error|Exception)): ")


def headline(reason: str) -> str:
    """The line of ``reason`` that says why: its first line, or, when that is only a compiler's
    wrapper, the first line after it (keeping the exception's name in front)."""
    lines = [line.strip() for line in reason.splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0]
    if len(lines) > 1 and _WRAPPERS.match(first):
        kind = _EXCEPTION.match(first)
        return (kind.group(1) + ": " if kind else "") + lines[1]
    return first
