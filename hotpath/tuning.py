"""One tuning run: from a function and real arguments to an installed variant, or a reason.

extract source -> derive inputs -> reference outcomes (sandboxed) -> propose candidates ->
speculate (verify, then time, each sandboxed) -> install the winner for this signature.
Every way this can stop early is a ``TuneResult`` with ``reason`` set, never an exception: the
function keeps running as the original.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hotpath import persist
from hotpath.config import Config, disabled_by_env
from hotpath.errors import NotRewritable
from hotpath.kernels import Candidate, Skipped, get_backend
from hotpath.rewriter.propose import propose
from hotpath.rewriter.source import FunctionSource, extract
from hotpath.runner import adapters, payload, sandbox
from hotpath.runner.inputs import CAPTURED, derive_cases
from hotpath.runner.tasks import ReferenceReport, ReferenceTask
from hotpath.runner.trials import WON, Observer, Trial, speculate
from hotpath.signature import Signature, signature_of

if TYPE_CHECKING:
    from hotpath.dispatch import Optimized

log = logging.getLogger(__name__)

#: How long the original may take on one generated edge case before that case is dropped.
EDGE_CASE_LIMIT_S = 2.0
#: How long the original may take on all inputs together in the reference run.
REFERENCE_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class TuneResult:
    """What ``hotpath.tune`` did for one function and one argument signature."""

    function: str
    signature: Signature | None
    winner: Candidate | None
    reason: str | None  # why nothing was installed; None when a winner was
    trials: tuple[Trial, ...]
    optimized: Callable[..., Any] = field(repr=False)
    baseline_s: float | None = None  # the original's time on the captured arguments
    duration_s: float = 0.0  # wall time of the tuning run
    notes: tuple[str, ...] = ()  # dropped edge cases and the like

    @property
    def speedup(self) -> float | None:
        """The winner's median speedup over the original, if there is a winner."""
        for trial in self.trials:
            if trial.status == WON:
                return trial.speedup
        return None

    def summary(self) -> str:
        """A plain-text table of the trials, for logs and terminals without rich."""
        lines = [f"{self.function} {self.signature or ''}".rstrip()]
        if self.baseline_s is not None:
            lines.append(f"  original: {self.baseline_s * 1e3:.3f} ms per call")
        for t in self.trials:
            speed = f"{t.timing}" if t.timing else "-"
            lines.append(f"  {t.name:<28} {t.status:<9} {speed:<24} {t.reason.splitlines()[0]}")
        lines.append(f"  -> {'installed ' + self.winner.name if self.winner else 'nothing installed: ' + str(self.reason)}")
        return "\n".join(lines)


def _result(opt: Optimized, signature: Signature | None, reason: str, started: float,
            trials: tuple[Trial, ...] = (), baseline_s: float | None = None,
            notes: tuple[str, ...] = ()) -> TuneResult:
    log.info("%s: nothing installed: %s", opt.__qualname__, reason)
    return TuneResult(opt.__qualname__, signature, None, reason, trials, opt, baseline_s,
                      time.perf_counter() - started, notes)


def user_modules(fs: FunctionSource) -> tuple[str, ...]:
    """Modules whose functions travel to the worker by value (the user's, never a library's)."""
    return tuple(sorted({part.module for part in fs.walk() if part.is_user_code}))


def run(opt: Optimized, args: tuple[Any, ...], config: Config, observer: Observer | None = None) -> TuneResult:
    """Tune ``opt`` for positional ``args`` now; install the winner in ``opt``; record the result."""
    result = _run(opt, args, config, observer)
    opt._record_args(args, result)
    return result


def _run(opt: Optimized, args: tuple[Any, ...], config: Config, observer: Observer | None) -> TuneResult:
    started = time.perf_counter()
    if disabled_by_env():
        return _result(opt, None, "HOTPATH_DISABLE is set: optimization is turned off", started)
    try:
        signature = signature_of(args)
        fs = extract(opt.original)
    except NotRewritable as exc:
        return _result(opt, None, exc.reason, started)
    modules = user_modules(fs)
    try:
        payload.dumps((opt.original, args), modules)
    except Exception as exc:
        return _result(opt, signature, f"the arguments or the function cannot be sent to the sandbox "
                                       f"(pickling failed: {type(exc).__name__}: {exc})", started)

    cases = derive_cases(args, config.edge_cases)
    reference = sandbox.run(ReferenceTask(opt.original, tuple(cases), EDGE_CASE_LIMIT_S),
                            REFERENCE_TIMEOUT_S, config.memory_limit_mb, modules)
    if isinstance(reference, sandbox.SandboxFailure):
        return _result(opt, signature, f"the original itself failed in the sandbox ({reference.kind}): "
                                       f"{reference.message}", started)
    assert isinstance(reference, ReferenceReport)
    captured = reference.outcomes[CAPTURED]
    if captured.raised:
        return _result(opt, signature, f"the original raises {captured.raised_name} on these arguments "
                                       f"({captured.message}); there is no result to speed up", started,
                       baseline_s=reference.captured_s)
    if not reference.deterministic:
        return _result(opt, signature, "the original gave different results on identical inputs (random "
                                       "numbers, time, global state?), so no variant can be verified "
                                       "against it", started, baseline_s=reference.captured_s)

    kernels_dir = config.resolved_state_dir() / "kernels"
    function_id = opt.function_id if config.persist else None
    barred = opt.barred(args) | persist.barred(config, function_id, signature)
    proposals = [
        Skipped(p.backend, p.name, "barred for this signature: it was rolled back after misbehaving")
        if isinstance(p, Candidate) and p.name in barred else p
        for p in propose(fs, signature, config, kernels_dir)
    ]
    trials = tuple(speculate(opt.original, fs, proposals, cases, reference, config, kernels_dir,
                             modules, observer))
    notes = reference.dropped
    won = next((t for t in trials if t.status == WON), None)
    persist.record(config, function_id, signature, trials, won, reference.mutates)
    if won is None:
        tried = [t for t in trials if t.status != "skipped"]
        if not tried:
            reason = "no candidate could be built: " + "; ".join(f"{t.name}: {t.reason}" for t in trials)
        elif not any(t.correct for t in trials):
            reason = "no candidate agreed with the original on every input"
        else:
            reason = "no correct candidate was significantly faster than the original"
        return _result(opt, signature, reason, started, trials, reference.captured_s, notes)

    assert won.candidate is not None
    backend = get_backend(won.backend)
    try:
        variant = backend.load(won.candidate)
        backend.prepare(variant, args)
        variant = adapters.apply(won.candidate.adapters, variant, opt.original)
    except Exception as exc:  # it built in the sandbox; if it will not here, the original stays
        log.exception("loading the winner %s of %s failed", won.name, opt.__qualname__)
        return _result(opt, signature, f"the winner {won.name} could not be loaded here: {exc}", started,
                       trials, reference.captured_s, notes)
    assert won.timing is not None
    opt._install(args, opt._new_install(signature, won.candidate, won.timing.speedup, variant,
                                        backend.invocation_errors(), reference.mutates, "tuned"))
    log.info("%s %s: installed %s (%s)", opt.__qualname__, signature, won.name, won.timing)
    return TuneResult(opt.__qualname__, signature, won.candidate, None, trials, opt, reference.captured_s,
                      time.perf_counter() - started, notes)


def refused(opt: Optimized, signature: Signature | None, reason: str) -> TuneResult:
    """The result for a call that could not even be handed to tuning."""
    return _result(opt, signature, reason, time.perf_counter())


def unsupported(opt: Optimized) -> TuneResult:
    """The result for a function whose parameters cannot be bound positionally."""
    started = time.perf_counter()
    try:
        extract(opt.original)
    except NotRewritable as exc:
        return _result(opt, None, exc.reason, started)
    return _result(opt, None, "only functions whose parameters are all positional are rewritten", started)
