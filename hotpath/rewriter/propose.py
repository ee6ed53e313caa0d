"""The candidate list: every configured backend's proposals, or the reason it has none."""

from __future__ import annotations

import logging
from pathlib import Path

from hotpath.config import Config
from hotpath.errors import NotRewritable
from hotpath.kernels import Candidate, Skipped, get_backend
from hotpath.rewriter.source import FunctionSource
from hotpath.signature import Signature

log = logging.getLogger(__name__)


def propose(fs: FunctionSource, signature: Signature, config: Config,
            kernels_dir: Path) -> list[Candidate | Skipped]:
    """Candidates from each backend in ``config.backends``; missing backends become ``Skipped``."""
    proposals: list[Candidate | Skipped] = []
    for name in config.backends:
        backend = get_backend(name)
        availability = backend.availability()
        if not availability.ok:
            proposals.append(Skipped(name, name, availability.reason))
            continue
        try:
            proposals.extend(backend.propose(fs, signature, config, kernels_dir))
        except NotRewritable as exc:
            proposals.append(Skipped(name, name, exc.reason))
        except Exception as exc:  # a rewriter bug must not reach the user; it costs a candidate
            log.exception("backend %s could not emit a variant of %s", name, fs.qualname)
            proposals.append(Skipped(name, name, f"emitting the variant failed: {type(exc).__name__}: {exc}"))
    return proposals
