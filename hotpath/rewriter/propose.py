"""The candidate list: every configured backend's proposals, or the reason it has none."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from hotpath.config import Config
from hotpath.errors import NotRewritable
from hotpath.kernels import Candidate, Skipped, get_backend
from hotpath.kernels.base import DISTINCT_ARRAYS
from hotpath.rewriter.source import FunctionSource, conflicts
from hotpath.signature import ArgSpec, Signature

log = logging.getLogger(__name__)


def propose(fs: FunctionSource, signature: Signature, config: Config,
            kernels_dir: Path) -> list[Candidate | Skipped]:
    """Candidates from each backend in ``config.backends``; missing backends become ``Skipped``."""
    proposals: list[Candidate | Skipped] = []
    # Every backend emits one module holding the function and its helpers; a name bound to
    # different objects in different helpers cannot live in one module, whatever the compiler.
    clashes = sorted(set(conflicts(fs)))
    for name in config.backends:
        backend = get_backend(name)
        availability = backend.availability()
        if not availability.ok:
            proposals.append(Skipped(name, name, availability.reason))
            continue
        if clashes:
            proposals.append(Skipped(name, name, f"helpers bind {', '.join(clashes)} to different objects; "
                                                 "cannot emit one module"))
            continue
        try:
            proposals.extend(backend.propose(fs, signature, config, kernels_dir))
        except NotRewritable as exc:
            proposals.append(Skipped(name, name, exc.reason))
        except Exception as exc:  # a rewriter bug must not reach the user; it costs a candidate
            log.exception("backend %s could not emit a variant of %s", name, fs.qualname)
            proposals.append(Skipped(name, name, f"emitting the variant failed: {type(exc).__name__}: {exc}"))
    if _array_count(signature.args) >= 2:
        proposals = [_guard_aliasing(p) for p in proposals]
    return proposals


def _array_count(specs: Sequence[ArgSpec]) -> int:
    """Arrays among the arguments, those inside tuples included (``f((src, dst))`` has two)."""
    return sum(1 if spec.kind == "array" else _array_count(spec.items) for spec in specs)


#: Backends whose variants see arrays through their own tensors or device copies: a graph
#: compiler assumes its inputs do not overlap, so ``f(u, u)`` or overlapping views could give
#: another answer than NumPy's step-by-step evaluation.
_ALIAS_BLIND = frozenset({"torch", "cupy"})


def _guard_aliasing(proposal: Candidate | Skipped) -> Candidate | Skipped:
    if isinstance(proposal, Candidate) and (proposal.options_dict.get("parallel") or proposal.backend in _ALIAS_BLIND):
        return replace(proposal, adapters=(*proposal.adapters, DISTINCT_ARRAYS))
    return proposal
