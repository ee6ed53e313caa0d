"""One tuning run: from a function and real arguments to an installed variant, or a reason.

extract source -> derive inputs -> reference outcomes (sandboxed) -> propose candidates ->
speculate (verify, then time, each sandboxed; Cython and Pythran binaries are built in the
background meanwhile, ``runner.ahead``) -> confirm the winner here and load it.
This module produces; it installs nothing: ``TuneResult.loaded`` holds the loaded winner, and
``Optimized`` (``hotpath.dispatch``) installs it, as a compiler returns a result and the
dispatcher installs it. Every way this can stop early is a ``TuneResult`` with ``reason`` set, never an exception: the
function keeps running as the original.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from hotpath import persist
from hotpath.config import Config, disabled_by_env
from hotpath.errors import NotRewritable
from hotpath.frozen_globals import FrozenGlobals, freeze
from hotpath.kernels import Candidate, Skipped
from hotpath.model import helper as model_helper
from hotpath.model.guide import Guidance, remember
from hotpath.reasons import headline
from hotpath.rewriter.proposers import propose_all
from hotpath.rewriter.integers import holds_python_int, shift_counts, unbounded_growth
from hotpath.rewriter.source import FunctionSource, extract
from hotpath.runner import adapters, ahead, executors, payload, placement, sandbox
from hotpath.runner.explore import LineCoverage
from hotpath.runner.confirm import confirm_winner
from hotpath.runner.inputs import CAPTURED, rule_counts
from hotpath.runner.probes import derive_cases
from hotpath.runner.tasks import ReferenceReport, ReferenceTask
from hotpath.runner.trials import FAILED, NOT_FINISHED, NOT_TRIED, WON, Budget, Observer, StopCheck, Trial, speculate
from hotpath.signature import Signature, signature_of
from hotpath.store.verification import Verification

if TYPE_CHECKING:
    from hotpath.dispatch import Optimized

log = logging.getLogger(__name__)

#: How long the original may take on one generated edge case before that case is dropped.
EDGE_CASE_LIMIT_S = 2.0
#: How long the original may take on all inputs together in the reference run.
REFERENCE_TIMEOUT_S = 600.0
#: How long the reference run searches for inputs that execute more of the original's lines
#: (never more than 10 timing budgets).
COVERAGE_SEARCH_S = 2.0


@dataclass(frozen=True)
class Loaded:
    """The confirmed winner, loaded in this process and ready to install for its signature."""

    signature: Signature
    candidate: Candidate
    speedup: float
    variant: Callable[..., Any]
    invocation_errors: tuple[type[BaseException], ...]
    mutates: bool  # the function writes to its arguments: installs guard against a partial write
    frozen: FrozenGlobals | None  # the globals it was built with, checked before its calls


#: ``TuneResult.to_json``'s schema: a reader refuses another major version.
TUNE_RESULT_SCHEMA = "hotpath.tune-result/1"


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
    guidance: Guidance | None = field(default=None, repr=False)  # features, model, ranking (explain)
    coverage: LineCoverage | None = None  # lines of the original the verification inputs executed
    inputs: tuple[tuple[str, int], ...] = ()  # verification inputs by the rule that made them
    loaded: Loaded | None = field(default=None, repr=False, compare=False)  # the winner, to install

    @property
    def speedup(self) -> float | None:
        """The winner's median speedup over the original, if there is a winner."""
        for trial in self.trials:
            if trial.status == WON:
                return trial.speedup
        return None

    def to_json(self) -> dict[str, Any]:
        """The run as plain JSON, under ``TUNE_RESULT_SCHEMA``: the winner as its candidate record,
        every trial (``Trial.to_json`` without the candidates' sources), the baseline, the inputs
        and coverage. What only lives in this process (``optimized``, the loaded winner, the cost
        model's guidance) is not in it."""
        return {"schema": TUNE_RESULT_SCHEMA, "function": self.function,
                "signature": None if self.signature is None else str(self.signature),
                "winner": None if self.winner is None else self.winner.to_json(),
                "speedup": self.speedup, "reason": self.reason,
                "trials": [t.to_json(candidate=False) for t in self.trials],
                "baseline_s": self.baseline_s, "duration_s": self.duration_s, "notes": list(self.notes),
                "coverage": None if self.coverage is None else {"run": self.coverage.run, "total": self.coverage.total,
                                                                 "found": self.coverage.found,
                                                                 "search_s": self.coverage.search_s},
                "inputs": [[rule, count] for rule, count in self.inputs]}

    def summary(self) -> str:
        """A plain-text table of the trials, for logs and terminals without rich."""
        lines = [f"{self.function} {self.signature or ''}".rstrip()]
        if self.baseline_s is not None:
            lines.append(f"  original: {self.baseline_s * 1e3:.3f} ms per call")
        if self.inputs:
            lines.append(f"  {_inputs_line(self.inputs, self.coverage)}")
        for t in self.trials:
            speed = f"{t.timing}" if t.timing else "-"
            lines.append(f"  {t.name:<28} {t.status:<9} {speed:<24} {headline(t.reason)}")
        lines.append(f"  -> {'installed ' + self.winner.name if self.winner else 'nothing installed: ' + str(self.reason)}")
        if self.winner is not None and self.winner.adapters:
            lines.append(f"     {_verification(self.inputs, self.coverage, self.winner).guards_line()}")
        return "\n".join(lines)


def _inputs_line(inputs: tuple[tuple[str, int], ...], coverage: LineCoverage | None) -> str:
    """One line: how many inputs, from which rules, and the line coverage they reached."""
    return _verification(inputs, coverage).inputs_line()


def _verification(inputs: tuple[tuple[str, int], ...], coverage: LineCoverage | None,
                  winner: Candidate | None = None) -> Verification:
    """What the run verified on and, with ``winner``, the guards its install carries, in words."""
    guards = tuple(adapters.describe(a) for a in winner.adapters) if winner is not None else None
    return Verification(inputs, coverage.run if coverage else None, coverage.total if coverage else None, guards)


def _result(opt: Optimized, signature: Signature | None, reason: str, started: float,
            trials: tuple[Trial, ...] = (), baseline_s: float | None = None,
            notes: tuple[str, ...] = (), guidance: Guidance | None = None,
            coverage: LineCoverage | None = None, inputs: tuple[tuple[str, int], ...] = ()) -> TuneResult:
    log.info("%s: nothing installed: %s", opt.__qualname__, reason)
    return TuneResult(opt.__qualname__, signature, None, reason, trials, opt, baseline_s,
                      time.perf_counter() - started, notes, guidance, coverage, inputs)


def user_modules(fs: FunctionSource) -> tuple[str, ...]:
    """Modules whose functions travel to the worker by value (the user's, never a library's)."""
    return tuple(sorted({part.module for part in fs.walk() if part.is_user_code}))


def run(opt: Optimized, args: tuple[Any, ...], config: Config, observer: Observer | None = None,
        executor: object = None) -> TuneResult:
    """Tune ``opt`` for positional ``args`` now and record the trials in the store; the winner,
    if any, comes back loaded in ``TuneResult.loaded`` for ``Optimized.install_result`` to install.

    ``executor`` says where the candidates' trials run (see ``hotpath.runner.placement.opened``):
    ``None`` here, one at a time; a ``distributed.Client`` or a scheduler address on a cluster.
    """
    started = time.perf_counter()
    if disabled_by_env():
        return _result(opt, None, "HOTPATH_DISABLE is set: optimization is turned off", started)
    try:
        signature = signature_of(args)
        fs = extract(opt.original)
        # Taken now, with the values the candidates are about to be built with.
        frozen = freeze(opt.original, fs)
    except NotRewritable as exc:
        return _result(opt, None, exc.reason, started)
    modules = user_modules(fs)
    try:
        payload.dumps((opt.original, args), modules)
    except Exception as exc:
        return _result(opt, signature, f"the arguments or the function cannot be sent to the sandbox "
                                       f"(pickling failed: {type(exc).__name__}: {exc})", started)

    cases = derive_cases(args, config.edge_cases, fs)
    helper = model_helper.start(config)  # loads the cost model while the reference runs
    search_s = min(COVERAGE_SEARCH_S, 10 * config.timing_budget_s) if config.edge_cases else 0.0
    reference = sandbox.run(ReferenceTask(opt.original, tuple(cases), EDGE_CASE_LIMIT_S,
                                          tuple(part.qualname for part in fs.walk()), fs.params, search_s),
                            REFERENCE_TIMEOUT_S + search_s, config.memory_limit_mb, modules)
    if isinstance(reference, sandbox.SandboxFailure):
        return _result(opt, signature, f"the original itself failed in the sandbox ({reference.kind}): "
                                       f"{reference.message}", started)
    assert isinstance(reference, ReferenceReport)
    cases += reference.found  # every candidate is verified on what the coverage search found too
    inputs, coverage = rule_counts([c.name for c in cases if c.name in reference.outcomes]), reference.coverage
    captured = reference.outcomes[CAPTURED]
    if captured.raised:
        return _result(opt, signature, f"the original raises {captured.raised_name} on these arguments "
                                       f"({captured.message}); there is no result to speed up", started,
                       baseline_s=reference.captured_s, coverage=coverage, inputs=inputs)
    growth = unbounded_growth(fs, args) if holds_python_int(args) or holds_python_int(captured.returned) else None
    if not reference.deterministic:
        return _result(opt, signature, "the original gave different results on identical inputs (random "
                                       "numbers, time, global state?), so no variant can be verified "
                                       "against it", started, baseline_s=reference.captured_s,
                       coverage=coverage, inputs=inputs)

    kernels_dir = config.state.kernels
    function_id = opt.function_id if config.persist else None
    barred = opt.barred(args) | persist.barred(config, function_id, signature)
    proposals = propose_all(fs, signature, config, kernels_dir)
    if growth is not None:
        # Only a backend that keeps Python ints can be exact; none may lean on a range guard.
        proposals = [Skipped(p.backend, p.name, _grows(growth))
                     if isinstance(p, Candidate) and p.backend not in PYTHON_INT_BACKENDS else p for p in proposals]
    counts = shift_counts(fs, args)
    if counts:  # compiled shifts by a count outside 0..63 are undefined: the original answers those
        guard = adapters.shift_count_guard(counts)
        proposals = [replace(p, adapters=(*p.adapters, guard)) if isinstance(p, Candidate) else p for p in proposals]
    groups = adapters.equal_length_groups(args)
    if groups:  # these backends do not check that arrays broadcast: equally long arrays stay so
        lengths = adapters.SAME_LENGTHS + adapters.lengths_spec(groups)
        proposals = [adapters.with_learned(p, (lengths,)) if isinstance(p, Candidate)
                     and p.backend in UNCHECKED_BROADCAST_BACKENDS else p for p in proposals]
    # The cost model orders the candidates and decides, before each next one, whether it is worth it;
    # it lives in a helper process, where importing and fitting it takes no turns from the caller's threads.
    guidance = model_helper.guide_elsewhere(helper, fs, signature, args, reference.captured_s, proposals, config)
    walls: dict[str, float] = {}
    try:
        with placement.opened(executor) as runner, ahead.building(
                guidance.proposals if executor is None else (), config.memory_limit_mb):
            trials = tuple(speculate(opt.original, fs, guidance.proposals, cases, reference, config, kernels_dir,
                                     modules, _timed(observer, walls), executor=runner,
                                     stop=_never_raises(guidance.stop), barred=frozenset(barred),
                                     range_guards=growth is None, budget=Budget.of(config, started)))
    except executors.ExecutorUnavailable as exc:
        return _result(opt, signature, f"the trials could not be started: {exc.reason}", started,
                       baseline_s=reference.captured_s, notes=reference.dropped, guidance=model_helper.settled(guidance),
                       coverage=coverage, inputs=inputs)
    guidance = model_helper.settled(guidance)
    notes = reference.dropped
    sandbox_winner = next((t for t in trials if t.status == WON), None)
    # The sandbox is not the caller's process: the winner must hold here too before it is
    # installed, or stored for other processes to install.
    trials, loaded = confirm_winner(opt.original, trials, args, reference.mutates, config)
    won = loaded.trial if loaded is not None else None
    persist.record(config, function_id, signature, trials, won, reference.mutates,
                   _verification(inputs, coverage, won.candidate if won is not None else None),
                   time.perf_counter() - started, reference.captured_s)
    named = function_id or opt.function_id  # the store's name (a script's by its path) even when not persisting
    remember(config, named.name if named is not None else f"{fs.module}:{fs.qualname}", signature,
             guidance, trials, walls, time.perf_counter() - started)
    if loaded is None:
        tried = [t for t in trials if t.status != "skipped"]
        out_of_budget = [t for t in trials if t.reason.startswith((NOT_FINISHED, NOT_TRIED + " the tuning budget"))]
        if not tried and out_of_budget:
            reason = (f"the tuning budget of {config.budget_s:g} s ran out before any candidate finished: "
                      + "; ".join(f"{t.name}: {t.reason}" for t in out_of_budget[:2]))
        elif not tried:
            reason = "no candidate could be built: " + "; ".join(f"{t.name}: {t.reason}" for t in trials)
        elif all(t.status == FAILED for t in tried):  # none was ever compared: say why, not "disagreed"
            reason = "every candidate failed: " + "; ".join(f"{t.name}: {headline(t.reason)}" for t in tried)
        elif not any(t.correct for t in trials):
            reason = "no candidate agreed with the original on every input"
        elif sandbox_winner is not None:
            reason = (f"the sandbox's winner {sandbox_winner.name} was not faster in this process: "
                      + next(t.reason for t in trials if t.name == sandbox_winner.name))
        else:
            reason = "no correct candidate was significantly faster than the original"
        if tried and out_of_budget:
            reason += (f" (the tuning budget of {config.budget_s:g} s ran out before {len(out_of_budget)} "
                       f"more candidate{'s' if len(out_of_budget) > 1 else ''} finished)")
        return _result(opt, signature, reason, started, trials, reference.captured_s, notes, guidance,
                       coverage=coverage, inputs=inputs)

    assert won is not None and won.candidate is not None and won.timing is not None
    winner = Loaded(signature, won.candidate, won.timing.speedup, loaded.variant, loaded.invocation_errors,
                    reference.mutates, frozen)
    log.info("%s %s: %s won (%s)", opt.__qualname__, signature, won.name, won.timing)
    return TuneResult(opt.__qualname__, signature, won.candidate, None, trials, opt, reference.captured_s,
                      time.perf_counter() - started, notes, guidance, coverage=coverage, inputs=inputs,
                      loaded=winner)


#: Backends whose variants may keep Python's unbounded ints (Cython leaves an int it cannot
#: prove small as a Python object); the others compute in int64.
PYTHON_INT_BACKENDS = frozenset({"cython"})


#: Backends whose variants do not check that the arrays of an element-wise operation broadcast
#: (Pythran reads past the shorter one: it returned, or raised MemoryError, where NumPy raises
#: ValueError, and at a small size the probes need not show it): their candidates start with a
#: length guard.
UNCHECKED_BROADCAST_BACKENDS = frozenset({"pythran"})


def _grows(growth: str) -> str:
    return (f"it computes with Python ints that grow past 64 bits ({growth}), which this backend wraps at "
            "2**63; whether a call overflows depends on its values together, so no guard can tell")


def _timed(observer: Observer | None, walls: dict[str, float]) -> Observer:
    """``observer`` plus the wall seconds each candidate's trial took (the cost model learns them)."""
    started: dict[str, float] = {}

    def observe(event: str, item: Trial | Candidate) -> None:
        if event == "start":
            started[item.name] = time.perf_counter()
        elif item.name in started:
            walls[item.name] = time.perf_counter() - started.pop(item.name)
        if observer is not None:
            observer(event, item)

    return observe


def _never_raises(stop: StopCheck) -> StopCheck:
    """A stop check whose own failure means "go on": a model bug must not end the run."""

    def check(trials: Sequence[Trial], remaining: Sequence[Candidate | Skipped]) -> str | None:
        try:
            return stop(trials, remaining)
        except Exception:
            log.exception("the search's stop check failed; trying the remaining candidates")
            return None

    return check


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
