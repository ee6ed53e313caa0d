"""Where candidates come from: proposers behind one small interface.

A proposer turns a function (``FunctionSource``) and its argument signature into candidates
(or ``Skipped`` entries saying why it has none). The rule-based rewriter (every configured
backend's rewrites) is one; a language model behind an OpenAI-compatible endpoint is another,
present only when ``Config.llm_url`` or ``$HOTPATH_LLM_URL`` names one; more can be plugged in
as ``Config.proposers=("package.module:OBJECT",)``. Nothing a proposer returns is trusted:
every candidate is sandboxed, verified against the original and timed like every other.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from hotpath.config import Config
from hotpath.errors import ConfigError
from hotpath.kernels import Candidate, Skipped
from hotpath.rewriter.source import FunctionSource
from hotpath.signature import Signature

log = logging.getLogger(__name__)


class Proposer(Protocol):
    """Anything that proposes candidates for a function."""

    @property
    def name(self) -> str:
        """The proposer's name, as trials and reports show it."""

    def propose(self, fs: FunctionSource, signature: Signature, config: Config,
                kernels_dir: Path) -> list[Candidate | Skipped]:
        """Candidates for ``fs`` at ``signature``, their modules written under ``kernels_dir``."""


def load_plugin(spec: str) -> Proposer:
    """The proposer object named ``"package.module:OBJECT"``; ``ConfigError`` if there is none."""
    module_name, _, attribute = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load proposer plug-in {spec!r}: {exc}") from None


def configured(config: Config) -> list[Proposer]:
    """The proposers this configuration asks for: rules, plug-ins, then the LLM if one is configured."""
    from hotpath.rewriter.proposers.llm import LLMProposer
    from hotpath.rewriter.proposers.rules import RULES

    proposers: list[Proposer] = [RULES]
    proposers += [load_plugin(spec) for spec in config.proposers]
    llm = LLMProposer.from_config(config)
    if llm is not None:
        proposers.append(llm)
    return proposers


def propose_all(fs: FunctionSource, signature: Signature, config: Config,
                kernels_dir: Path) -> list[Candidate | Skipped]:
    """Every proposer's candidates, names made unique; a proposer that fails is a ``Skipped``."""
    out: list[Candidate | Skipped] = []
    try:
        proposers = configured(config)
    except ConfigError as exc:
        from hotpath.rewriter.proposers.rules import RULES

        proposers = [RULES]
        out.append(Skipped("proposers", "proposers", str(exc)))
    for proposer in proposers:
        name = getattr(proposer, "name", type(proposer).__name__)
        try:
            proposed = list(proposer.propose(fs, signature, config, kernels_dir))
        except Exception as exc:  # a proposer bug costs its candidates, never the tuning run
            log.exception("proposer %s failed on %s", name, fs.qualname)
            proposed = [Skipped(name, name, f"the proposer failed: {type(exc).__name__}: {exc}")]
        out.extend(proposed)
    return _unique(out)


def _unique(proposals: list[Candidate | Skipped]) -> list[Candidate | Skipped]:
    # Trial names key the store and the refinement chain, so two proposers' "fast" cannot share one.
    seen: dict[str, int] = {}
    out: list[Candidate | Skipped] = []
    for p in proposals:
        count = seen.get(p.name, 0)
        seen[p.name] = count + 1
        out.append(p if count == 0 else replace(p, name=f"{p.name}#{count + 1}"))
    return out


__all__ = ["Proposer", "configured", "propose_all", "load_plugin"]
