"""Exceptions hotpath raises to its callers. Anything a candidate does is never one of these."""

from __future__ import annotations


class HotpathError(Exception):
    """Base class of hotpath's own errors."""


class ConfigError(HotpathError, ValueError):
    """An option has a value hotpath cannot use; the message says which and what to pass."""


class NotRewritable(HotpathError):
    """The function cannot be rewritten; it keeps running as the original.

    ``reason`` is a sentence for the user, recorded in ``TuneResult.reason`` and the log.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotOptimizedWarning(UserWarning):
    """``hotpath.optimize`` was given a function it will never rewrite (a method, a generator, a
    lambda, ``**kwargs`` ...): it runs as the original. Filter it like any warning category."""
