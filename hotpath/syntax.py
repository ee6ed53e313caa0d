"""Parsing Python source (the one place hotpath calls ``ast.parse``) and the names a node reads.

``ast.parse`` from two threads at once can fail in CPython 3.11 with "SystemError: AST
constructor recursion depth mismatch": the constructor keeps its depth counter per interpreter,
not per thread (gh-106905). Functions tuned concurrently (one executor, several threads) parse
sources many times each, so every parse in hotpath goes through here and takes its turn.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse_module(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """Parse ``source`` as a module, holding the process-wide parse lock."""
    with _LOCK:
        return ast.parse(source, filename=filename)


def parse_statements(source: str) -> list[ast.stmt]:
    """The statements of ``source``, parsed as a module."""
    return parse_module(source).body


def parse_expression(source: str) -> ast.expr:
    """Parse ``source`` as a single expression, holding the process-wide parse lock."""
    with _LOCK:
        return ast.parse(source, mode="eval").body


def names_in(node: ast.AST | None) -> set[str]:
    """Every name ``node`` mentions (read, written or deleted), anywhere inside it; none for ``None``."""
    return set() if node is None else {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
