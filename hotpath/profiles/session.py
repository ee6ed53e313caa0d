"""``python -m hotpath.profiles.session PLAN.json EVENTS_FD``: capture, then tune, in one child.

The child runs the user's script (or module, as ``python -m`` does) as ``__main__`` with the
plan's target functions wrapped by a ``capture.Recorder``; the program's standard output and
error are its own, untouched. When the program has finished (status 0), the wrappers are taken
out again and every captured signature is tuned with hotpath's tuning loop, in this same
process, on the very functions the program defined: so the store keys them exactly as
``hotpath run`` will see them. Progress goes
to the parent as JSON lines on ``EVENTS_FD`` (see ``events``). Ctrl-C during tuning stops after
telling the parent; every tuning run that finished is already in the store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from hotpath.profiles import bootstrap, events, hooks
from hotpath.profiles.capture import CAPTURED_ATTR, Recorder
from hotpath.profiles.entry import Program

log = logging.getLogger(__name__)

CAPTURE_SCHEMA = "hotpath.capture/1"
ALREADY_STORED = "already stored"  # how a skip for a stored winner begins (``hotpath optimize --json``)


@dataclass(frozen=True)
class Target:
    """A function to capture: its file (resolved) and qualified name."""

    file: str
    qualname: str


@dataclass(frozen=True)
class Plan:
    """Everything the child needs; written by ``hotpath optimize`` as JSON."""

    script: str
    args: tuple[str, ...]
    targets: tuple[Target, ...]
    capture_dir: str
    samples: int = 1
    max_bytes: int = 64 << 20
    max_signatures: int = 4
    tune: bool = True
    backends: tuple[str, ...] = ("numba",)
    timing_budget_s: float = 2.0
    cluster: str | None = None  # a Dask scheduler's address: trials run on its workers
    module: bool = False  # ``script`` is a module name, run as ``python -m`` runs it
    force: bool = False  # tune signatures that already have a stored winner for the function's current source

    @property
    def program(self) -> Program:
        """The program the plan runs."""
        return Program(self.script, self.args, self.module)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        data["targets"] = tuple(Target(**t) for t in data["targets"])
        data["args"], data["backends"] = tuple(data["args"]), tuple(data["backends"])
        return cls(**data)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)[:80]


def _restore(recorder: Recorder) -> None:
    """Put the original functions back wherever a capturing wrapper was bound at module level."""
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            original = getattr(value, CAPTURED_ATTR, None) if callable(value) else None
            if original is not None:
                namespace[name] = original


def _save(plan: Plan, name: str, fn: Any, signature: str, data: bytes) -> Path:
    import cloudpickle

    from hotpath.runner import payload

    folder = Path(plan.capture_dir)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(signature.encode()).hexdigest()[:10]
    path = folder / f"{_slug(name)}-{digest}.pkl"
    record = {"schema": CAPTURE_SCHEMA, "module": fn.__module__, "qualname": fn.__qualname__, "signature": signature,
              "script": plan.script, "argv": list(plan.args), "function": fn, "args": cloudpickle.loads(data),
              # cloudpickle blanks the file of code it pickles by value; `hotpath bench` needs it to
              # find the function's source, hence its store identity and stored winner
              "file": fn.__code__.co_filename}
    path.write_bytes(payload.dumps(record, [fn.__module__]))
    return path


def _tune_all(plan: Plan, recorder: Recorder, stream: IO[str] | None, total_s: float = 0.0) -> None:
    import cloudpickle

    from hotpath.profiles import programs

    from hotpath import persist, tuning
    from hotpath.config import Config
    from hotpath.dispatch import Optimized
    from hotpath.errors import NotRewritable
    from hotpath.kernels import Candidate
    from hotpath.rewriter.propose import propose
    from hotpath.rewriter.source import extract
    from hotpath.runner.trials import WON
    from hotpath.signature import signature_of

    config = Config(backends=plan.backends, timing_budget_s=plan.timing_budget_s, background=False)
    store = None if plan.force else persist.open_store(config)
    stored_names: set[str] = set()
    jobs: list[tuple[str, Any, str, tuple[Any, ...], int, Path]] = []
    for name, per_signature in recorder.functions.items():
        fn = recorder.originals[name]
        if not per_signature:
            events.emit(stream, events.CaptureSkipped(name, "", "never called during the capture run"))
            continue
        try:
            extract(fn)
        except NotRewritable as exc:
            events.emit(stream, events.CaptureSkipped(name, "", exc.reason))
            continue
        for entry in sorted(per_signature.values(), key=lambda e: -e.calls):
            if entry.skipped or not entry.samples:
                reason = entry.skipped or (f"all {entry.too_large} sampled calls had arguments over the "
                                           f"{plan.max_bytes >> 20} MiB capture limit")
                events.emit(stream, events.CaptureSkipped(name, entry.signature, reason))
                continue
            stored = _stored_winner(store, fn, entry.signature)
            if stored is not None:
                stored_names.add(name)
                events.emit(stream, events.CaptureSkipped(name, entry.signature, stored))
                continue
            data = entry.samples[0]
            path = _save(plan, name, fn, entry.signature, data)
            events.emit(stream, events.Captured(name, entry.signature, entry.calls, len(data), str(path)))
            jobs.append((name, fn, entry.signature, cloudpickle.loads(data), entry.calls, path))
    if not plan.tune:
        return
    kernels_dir = config.state.kernels
    executor = _open_executor(plan.cluster)
    runs: dict[str, dict[str, programs.SignatureRun]] = {}
    backends: dict[str, str] = {}
    captures: dict[str, Path] = {}
    for index, (name, fn, signature, args, calls, path) in enumerate(jobs, 1):
        _raise_if_interrupted()
        try:
            expected = sum(isinstance(p, Candidate) for p in propose(extract(fn), signature_of(args), config, kernels_dir))
        except Exception:
            expected = 0
        events.emit(stream, events.TuneStarted(name, signature, expected, index, len(jobs)))

        def observe(kind: str, item: Any, name: str = name) -> None:
            if kind == "start":
                events.emit(stream, events.CandidateStarted(name, item.name))
            elif kind == "done":
                events.emit(stream, events.CandidateDone(name, item.name, item.status, item.speedup))

        result = tuning.run(Optimized(fn, config), args, config, observe, executor=executor)
        runs.setdefault(name, {})[signature] = programs.SignatureRun(
            calls, result.baseline_s, result.speedup if result.winner is not None else None)
        if result.winner is not None:
            backends[name] = result.winner.backend
            captures.setdefault(name, path)
        won = next((t for t in result.trials if t.status == WON), None)
        timing = won.timing if won is not None else None
        events.emit(stream, events.Tuned(name, signature, result.winner.name if result.winner else None,
                                         result.speedup, timing.ci_low if timing else None,
                                         timing.ci_high if timing else None, result.reason, result.baseline_s,
                                         result.duration_s, len(result.trials)))
    if hasattr(executor, "close"):
        executor.close()
    _raise_if_interrupted()
    # What `hotpath run` weighs each backend's load cost against (see programs).
    load = programs.measure_load(captures)
    functions = {name: programs.FunctionRun(sigs, backends.get(name), load.get(name)) for name, sigs in runs.items()}
    previous = programs.read(config.resolved_state_dir(), str(plan.program.main_file())) if stored_names else None
    if previous is not None:  # what was learnt about the functions skipped as stored still holds
        functions = {**{n: previous.functions[n] for n in stored_names if n in previous.functions}, **functions}
    programs.write(config.resolved_state_dir(), programs.ProgramRun(str(plan.program.main_file()), total_s,
                                                                    functions, tuple(plan.args)))


class _Interrupt:
    """Ctrl-C during tuning, remembered as well as raised.

    The KeyboardInterrupt that Python raises on SIGINT is lost when it lands in Python code that
    native code called back (llvmlite's object-cache callback while Numba compiles a winner here:
    ctypes prints "Exception ignored" and carries on), and the run would then finish as if
    nothing had happened. The flag lets the tuning loop honour it between functions.
    """

    requested = False

    @classmethod
    def handle(cls, signum: int, frame: Any) -> None:
        cls.requested = True
        raise KeyboardInterrupt


def _raise_if_interrupted() -> None:
    if _Interrupt.requested:
        raise KeyboardInterrupt


def _stored_winner(store: Any, fn: Any, signature: str) -> str | None:
    """Why ``fn`` is not tuned again for ``signature``: its stored winner for the function's current
    source (and globals) in this environment; ``None`` when there is none (or no store to ask)."""
    from hotpath import persist

    if store is None:
        return None
    identity = persist.identify(fn)
    if identity is None:
        return None
    try:
        winner = store.find_winner(identity.function_id, signature)
    except Exception:  # an unreadable or tampered row: tune again rather than trust it
        log.debug("looking up the stored winner of %s failed", fn.__qualname__, exc_info=True)
        return None
    if winner is None:
        return None
    return (f"{ALREADY_STORED}: {winner.candidate.name} {winner.speedup:.1f}x for this source "
            "(--force tunes it again)")


def _open_executor(address: str | None) -> Any:
    """One cluster connection for all the tuning runs; if there is none to be had, the address
    itself, so that each run records why its trials could not start."""
    if address is None:
        return None
    from hotpath.runner.dask_executor import DaskExecutor
    from hotpath.runner.executors import ExecutorUnavailable

    try:
        return DaskExecutor.connect(address)
    except ExecutorUnavailable as exc:
        log.error("%s", exc.reason)
        return address


def run(plan: Plan, stream: IO[str] | None) -> int:
    """Capture, then tune; the exit status is the script's (or 130 after Ctrl-C)."""
    recorder = Recorder(plan.samples, plan.max_bytes, plan.max_signatures)
    wanted = {(t.file, t.qualname) for t in plan.targets}
    files = {t.file for t in plan.targets}

    def wrapper(module: str, filename: str, fn: Any) -> Any:
        if (filename, fn.__qualname__) not in wanted:
            return fn
        return recorder.wrap(f"{module}:{fn.__qualname__}", fn)

    started = time.perf_counter()
    try:
        if plan.module:
            status = hooks.run_module(plan.script, plan.args, wrapper, lambda name, file: file in files)
        else:
            status = hooks.run_script(plan.script, plan.args, wrapper, lambda name, file: file in files)
    except KeyboardInterrupt:
        events.emit(stream, events.Interrupted("capture"))
        return 130
    finally:
        _restore(recorder)
    total_s = time.perf_counter() - started
    sys.stdout.flush()
    events.emit(stream, events.ScriptExited(status))
    if status != 0:
        return status
    signal.signal(signal.SIGINT, _Interrupt.handle)
    try:
        _tune_all(plan, recorder, stream, total_s)
    except KeyboardInterrupt:
        events.emit(stream, events.Interrupted("tuning"))
        return 130
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m hotpath.profiles.session PLAN.json EVENTS_FD", file=sys.stderr)
        return 2
    # The parent ignores Ctrl-C while this runs, and an ignored signal is inherited: take it back,
    # so Ctrl-C reaches the program (and the tuning loop) as KeyboardInterrupt, as usual.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    bootstrap.setup_logging()
    plan = Plan.from_json(Path(argv[0]).read_text())
    fd = int(argv[1])
    stream = os.fdopen(fd, "w", buffering=1) if fd >= 0 else None
    try:
        return run(plan, stream)
    finally:
        if stream is not None:
            stream.close()


if __name__ == "__main__":
    sys.exit(main())
