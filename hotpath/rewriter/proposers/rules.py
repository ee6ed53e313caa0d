"""The rule-based proposer: every configured backend's own rewrites (``hotpath.rewriter.propose``)."""

from __future__ import annotations

from pathlib import Path

from hotpath.config import Config
from hotpath.kernels import Candidate, Skipped
from hotpath.rewriter.propose import propose
from hotpath.rewriter.source import FunctionSource
from hotpath.signature import Signature


class RuleBasedProposer:
    """Numba, Cython, torch, CuPy... variants from the AST, in ``config.backends`` order."""

    name = "rules"

    def propose(self, fs: FunctionSource, signature: Signature, config: Config,
                kernels_dir: Path) -> list[Candidate | Skipped]:
        return propose(fs, signature, config, kernels_dir)


RULES = RuleBasedProposer()
