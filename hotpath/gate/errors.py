"""The one error the gate raises on its own: input it cannot judge.

Every message names the file or benchmark at fault and says what to do about it, because the
person reading it is usually looking at a CI log, not at this code.
"""

from __future__ import annotations


class GateInputError(Exception):
    """Benchmark results, a policy or a command line the gate cannot use (exit status 2)."""
