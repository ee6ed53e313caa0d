"""NumPy as its own type oracle: evaluate expressions on tiny stand-in values.

The devectorizer must give every intermediate exactly the dtype NumPy would (NumPy 2's
promotion rules: Python scalars are "weak", ``float32_array * 2.0`` stays float32, ``int32``
sums widen to ``int64``, ``mean`` of integers is float64 ...). Rather than re-implementing those
rules, it evaluates each sub-expression on stand-ins (small arrays of the observed dtype and
ndim, Python scalars of the observed type) with NumPy itself and reads off the result's dtype
and ndim.

Only expressions made of names, constants, operators, attribute reads and calls into NumPy,
``math`` and a few pure builtins are evaluated; anything else (a user function, a method that
is not in the allow-list) is "unknown", never executed.
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from hotpath.vocabulary import ARRAY_METHODS

#: Side length of stand-in arrays: long enough that stencil slices such as ``u[2:]`` stay
#: non-empty (reductions over them then have a defined dtype), short enough to be free.
STANDIN_LENGTH = 6

#: The builtins the oracle evaluates, by name (a subset of ``hotpath.vocabulary.PURE_BUILTINS``).
BUILTIN_FUNCTIONS = {"abs": abs, "min": min, "max": max, "len": len, "float": float, "int": int,
                  "bool": bool, "range": range, "round": round, "complex": complex}
_ARRAY_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "T", "real", "imag"}
#: Pure array methods the devectorizer lowers beyond the shared vocabulary (none writes memory).
_LOWERED_METHODS = {"argmax", "argmin", "conj", "conjugate", "cumprod", "nonzero"}


class Unknown(Exception):
    """The oracle cannot (or will not) evaluate this expression."""


def standin(spec: Any) -> Any:
    """A stand-in value for one ``hotpath.signature.ArgSpec``, or raises ``Unknown``."""
    if spec.kind == "array":
        return np.ones((STANDIN_LENGTH,) * int(spec.ndim), dtype=np.dtype(spec.dtype))
    if spec.kind == "object":
        simple = {"float": 0.5, "int": 3, "bool": True, "complex": 0.5 + 0.5j}
        if spec.type_name in simple:
            return simple[spec.type_name]
        if spec.type_name.startswith("numpy."):
            kind = getattr(np, spec.type_name.split(".", 1)[1], None)
            if isinstance(kind, type) and issubclass(kind, np.generic):
                return kind(1)
    if spec.kind == "tuple":
        return tuple(standin(item) for item in spec.items)
    raise Unknown(f"no stand-in for {spec}")


class Oracle:
    """Evaluates expressions over stand-ins bound to names; ``modules`` maps alias -> module."""

    def __init__(self, values: Mapping[str, Any], modules: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.modules = dict(modules)

    def copy(self) -> Oracle:
        return Oracle(self.values, self.modules)

    def is_numpy(self, name: str) -> bool:
        return self.modules.get(name) == "numpy"

    def evaluate(self, node: ast.expr) -> Any:
        """The stand-in value of ``node``; raises ``Unknown`` when it is not safe or fails."""
        self._check(node)
        # Names are vetted by _check; NumPy itself needs the real builtins (it imports lazily).
        namespace: dict[str, Any] = {}
        for alias, module in self.modules.items():
            if module == "numpy":
                namespace[alias] = np
            elif module == "math":
                namespace[alias] = math
        namespace.update(self.values)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                code = compile(ast.fix_missing_locations(ast.Expression(body=node)), "<oracle>", "eval")
                return eval(code, namespace)  # noqa: S307 - vetted by _check
        except Exception as exc:  # the stand-ins do not fit: leave the expression alone
            raise Unknown(f"{type(exc).__name__}: {exc}") from None

    def _check(self, node: ast.expr) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom,
                                ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                raise Unknown(f"{type(sub).__name__} is not evaluated")
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                if sub.id not in self.values and sub.id not in self.modules and sub.id not in BUILTIN_FUNCTIONS:
                    raise Unknown(f"{sub.id!r} is unknown")
            if isinstance(sub, ast.Attribute):
                base = sub.value
                if isinstance(base, ast.Name) and base.id in self.modules:
                    if self.modules[base.id] not in ("numpy", "math"):
                        raise Unknown(f"module {self.modules[base.id]} is not evaluated")
                elif sub.attr not in ARRAY_METHODS | _ARRAY_ATTRIBUTES | _LOWERED_METHODS and not (
                        isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name)
                        and self.is_numpy(base.value.id)):
                    raise Unknown(f"attribute .{sub.attr} is not evaluated")
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in self.values:
                raise Unknown(f"call of {sub.func.id!r} is not evaluated")


def is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.ndim > 0


def dtype_of(value: Any) -> np.dtype:
    """The dtype a stand-in value computes in (Python scalars by their NumPy default)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype
    if isinstance(value, bool):
        return np.dtype(bool)
    if isinstance(value, int):
        return np.dtype(np.int64)
    if isinstance(value, float):
        return np.dtype(np.float64)
    if isinstance(value, complex):
        return np.dtype(np.complex128)
    raise Unknown(f"{type(value).__name__} is not a numeric value")


def is_weak(value: Any) -> bool:
    """A Python scalar, which NumPy 2 does not let widen an array operand's dtype."""
    return isinstance(value, (bool, int, float, complex)) and not isinstance(value, np.generic)
