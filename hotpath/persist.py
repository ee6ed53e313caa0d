"""The glue between a running function and the store: identity, warm start, recording, rollback.

Every store operation here is best effort: a store that cannot be opened or written is logged
and the function goes on running (the original, or the variant already in memory). Persistence
must never be the reason a user's call fails.
"""

from __future__ import annotations

import logging
import sys
import warnings
from dataclasses import dataclass, replace
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotpath.config import Config
from hotpath.errors import NotRewritable
from hotpath.frozen_globals import FrozenGlobals, watch
from hotpath.kernels import Backend, Candidate, get_backend
from hotpath.kernels.artifacts import pickle_namespace
from hotpath.rewriter.source import extract, injected_values
from hotpath.runner import adapters
from hotpath.integrity import ArtifactRefused, check_artifact, environment, function_key
from hotpath.store import FunctionId, Store, StoreUnavailable, StoreWarning, StoredWinner, audit, names
from hotpath.store.verification import Verification

if TYPE_CHECKING:
    from hotpath.runner.trials import Trial
    from hotpath.signature import Signature
    from hotpath.watch import Install

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """A function as it is now: its key in the store and the globals its variants are built with.

    Both come from one extraction, so a winner is stored and found under the global values it
    was built with; ``current`` says whether those values still hold.
    """

    function_id: FunctionId
    frozen: FrozenGlobals | None

    @property
    def current(self) -> bool:
        return self.frozen is None or self.frozen.changed() is None


def identify(fn: Callable[..., Any]) -> Identity | None:
    """``fn``'s identity now: module (a script's own functions: the script's path, so that two
    scripts' ``smooth`` are two functions), qualified name, a hash of its source, its helpers'
    sources and the values of the globals they read, and those globals. ``None`` for functions that are
    not stored (not rewritable, a global that cannot be pickled or is too large to watch)."""
    try:
        fs = extract(fn)
        frozen = watch(fn, fs)  # whatever the error state: this is the store key, not a build
        key = function_key(fs.source_hash, pickle_namespace(injected_values(fs)))
        return Identity(FunctionId(names.stored_module(fs.module, fs.filename), fs.qualname, key), frozen)
    except NotRewritable:
        return None
    except Exception:  # a global that cannot be pickled, say: such a function is not stored
        log.debug("%s cannot be keyed for the store", getattr(fn, "__qualname__", fn), exc_info=True)
        return None


def open_store(config: Config) -> Store | None:
    if not config.persist:
        return None
    try:
        return Store.at(config.resolved_state_dir())
    except StoreUnavailable:
        return None  # Store.at warned once for this folder (StoreWarning)
    except Exception as exc:
        _trouble(f"the hotpath store in {config.resolved_state_dir()} cannot be opened; nothing will persist", exc)
        return None


def record(config: Config, fn: FunctionId | None, signature: Signature, trials: tuple[Trial, ...],
           winner: Trial | None, mutates: bool, verification: Verification | None = None,
           duration_s: float | None = None, baseline_s: float | None = None) -> None:
    store = open_store(config)
    if store is None or fn is None:
        return
    binaries: tuple[Path, ...] = ()
    if winner is not None and winner.candidate is not None:
        binaries = get_backend(winner.candidate.backend).binaries(winner.candidate)
        missing = [str(path) for path in binaries if not path.is_file()]
        if missing:
            # Built on another machine and not brought back, say: nothing verified to store.
            log.warning("%s %s: %s is installed in this process only; its built file %s is not here to checksum",
                        fn.name, signature, winner.candidate.name, ", ".join(missing))
            winner, binaries = None, ()
    try:
        store.record_tuning(fn, str(signature), trials, winner, mutates, binaries, verification, duration_s, baseline_s)
    except Exception as exc:
        _trouble(f"recording the tuning of {fn.name} in {store.state_dir} failed; the install holds for this process only",
                 exc)


def barred(config: Config, fn: FunctionId | None, signature: Signature) -> set[str]:
    store = open_store(config)
    if store is None or fn is None:
        return set()
    try:
        return store.barred(fn, str(signature))
    except Exception as exc:
        _trouble(f"reading barred variants of {fn.name} from {store.state_dir} failed", exc)
        return set()


@dataclass(frozen=True)
class Loaded:
    """A stored winner read, checked and loaded for one signature, not yet installed."""

    winner: StoredWinner
    candidate: Candidate
    backend: Backend
    variant: Callable[..., Any]


def load_winner(store: Store, identity: Identity, signature: Signature, args: tuple[Any, ...]) -> Loaded | None:
    """The stored winner for ``signature``, its artifacts checked, loaded and compiled for
    ``args``' types; ``None`` when there is none. Raises ``ArtifactRefused`` for a changed file.

    Nothing here calls the function or writes its arguments (``prepare`` reads their types, or
    runs on copies), so a loader thread may do it while the caller goes on with the original."""
    winner = store.find_winner(identity.function_id, str(signature))
    if winner is None:
        return None
    check_artifact(winner.candidate.path, winner.source_sha256)
    # The source as verified just now: backends that build from it (Cython) need the text.
    candidate = replace(winner.candidate, source=winner.candidate.path.read_text())
    backend = get_backend(candidate.backend)
    _check_binaries(backend.binaries(candidate), winner.binaries)
    variant = backend.load(candidate)  # generated modules are cached: a second load is a lookup
    backend.prepare(variant, args)
    return Loaded(winner, candidate, backend, variant)


def preload(config: Config, fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    """Do the costly part of a warm start for ``args``' signature ahead of the call that will
    install it: import the backend, load the stored winner, compile it for these types (from the
    backend's on-disk cache). The later warm start then finds all of it done (the generated module
    is cached, its compiled signature too) and only checks and installs. Whether a winner was
    loaded; failures are logged and left for that warm start to meet and record."""
    from hotpath.signature import signature_of

    store = open_store(config)
    identity = identify(fn)
    if store is None or identity is None:
        return False
    try:
        return load_winner(store, identity, signature_of(args), args) is not None
    except Exception:
        log.debug("preloading the stored winner of %s failed; the warm start will say why",
                  identity.function_id.name, exc_info=True)
        return False


def warm_start(config: Config, identity: Identity | None, original: Callable[..., Any], signature: Signature,
               args: tuple[Any, ...], make_install: Callable[..., Install]) -> Install | None:
    """The stored winner for this signature, checked and loaded, or ``None`` (then tier 0 goes on)."""
    store = open_store(config)
    if store is None or identity is None:
        return None
    fn = identity.function_id
    try:
        loaded = load_winner(store, identity, signature, args)
        if loaded is None:
            return None
        winner, candidate = loaded.winner, loaded.candidate
        variant = adapters.apply(candidate.adapters, loaded.variant, original)
        install = make_install(candidate, winner.speedup, variant, loaded.backend.invocation_errors(),
                               winner.mutates, "warm", identity.frozen)
        audit_warm_install(store, fn, signature, winner)
        log.info("%s %s: warm start with stored %s", fn.name, signature, winner.candidate.name)
        return install
    except ArtifactRefused as exc:
        log.warning("%s %s: stored winner refused: %s; running the original", fn.name, signature, exc)
        _log_quietly(store, "refusal", fn, signature, {"reason": str(exc)})
    except Exception as exc:
        log.exception("%s %s: loading the stored winner failed; running the original", fn.name, signature)
        _log_quietly(store, "refusal", fn, signature, {"reason": f"{type(exc).__name__}: {exc}"})
    return None


def running_program() -> str:
    """The program this process runs, as the audit names it: its main script's resolved path
    (``python -m mod``: the module's file), else ``sys.argv[0]``, else ``<interactive>``."""
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else None)
    if not file:
        return "<interactive>"
    path = Path(file)
    return str(path.resolve()) if path.is_file() else str(file)


def audit_warm_install(store: Store, fn: FunctionId, signature: Signature, winner: StoredWinner) -> None:
    """Audit a stored winner loaded into a running program: once per install and program.

    Loading it changes the code that program runs, so the first load is logged (and is undone by
    rolling the install back). Every later run of the same program loading the same install
    changes nothing more: logging each one grew the log by a line per function per run and buried
    the entries that matter. A new install (retuned, re-enabled after a rollback) is a new
    install id, so it is logged again; so is another program, or another environment (installs
    are kept per environment)."""
    key = {"install_id": winner.install_id, "program": running_program()}
    if audit.logged(store.db, "warm-install", fn.name, str(signature), key):
        return  # the common case, read without taking the write lock
    detail = {"variant": winner.candidate.name, "speedup": winner.speedup, "environment": environment(), **key}
    with store.db.write() as tx:
        audit.append_once(tx, store.anchor, "warm-install", fn.name, str(signature), detail, key)


def _check_binaries(expected: tuple[Path, ...], recorded: tuple[tuple[Path, str], ...]) -> None:
    """Refuse unless ``load`` would import exactly the built files recorded with the winner,
    unchanged: a binary is what runs, so it is checked like the source it came from."""
    if tuple(expected) != tuple(path for path, _ in recorded):
        raise ArtifactRefused(
            f"the winner would load {', '.join(map(str, expected)) or 'no built file'} but was verified with "
            f"{', '.join(str(path) for path, _ in recorded) or 'none recorded'} (built by another compiler "
            "or recorded by an older hotpath)")
    for path, sha256 in recorded:
        check_artifact(path, sha256)


def rolled_back(config: Config, fn: FunctionId | None, signature: Signature, variant: str, reason: str,
                evidence: dict[str, Any]) -> None:
    store = open_store(config)
    if store is None or fn is None:
        return
    try:
        store.rollback(fn, str(signature), variant, reason, evidence)
    except Exception as exc:
        _trouble(f"recording the rollback of {fn.name} failed", exc)


def invalidated(config: Config, fn: FunctionId | None, signature: Signature, variant: str, reason: str) -> None:
    """Audit an install taken out because a global it was built with changed (not barred)."""
    store = open_store(config)
    if store is None or fn is None:
        return
    _log_quietly(store, "invalidate", fn, signature, {"variant": variant, "reason": reason})


def manual_rollback(config: Config, fn: FunctionId | None) -> None:
    store = open_store(config)
    if store is None or fn is None:
        return
    try:
        store.manual_rollback(fn.name)
    except Exception as exc:
        _trouble(f"recording the manual rollback of {fn.name} failed", exc)


def _log_quietly(store: Store, action: str, fn: FunctionId, signature: Signature, detail: dict[str, Any]) -> None:
    try:
        store.log(action, fn, str(signature), detail)
    except Exception as exc:
        _trouble("writing the audit entry failed", exc)


_reported: set[str] = set()


def _trouble(what: str, exc: BaseException) -> None:
    """A store failure in a running program: its results are unaffected, so one ``StoreWarning``
    per kind of failure and process, naming the cause (``No space left on device``, ...) and
    what to do; the traceback goes to the debug log."""
    log.debug("%s", what, exc_info=exc)
    cause = f"{type(exc).__name__}: {exc}"
    key = what.split(" of ", 1)[0] + cause
    if key in _reported:
        return
    _reported.add(key)
    warnings.warn(f"{what} ({cause}); the program's results are unaffected. Free space or fix the folder's "
                  f"permissions, or move the state elsewhere with HOTPATH_HOME", StoreWarning, stacklevel=3)
