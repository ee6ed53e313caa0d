"""The cost model in a helper process, so that the caller's process never imports or fits it.

A background tune runs on a thread of the user's process. Importing scikit-learn (and SciPy
behind it), fitting the forests and predicting is seconds of Python bytecode there, and each
of those seconds is shared with every thread the program keeps busy: with 8 threads calling a
pure-Python function without pause, ranking the candidates of one tune took over two minutes.
Here a helper process does all of it: the caller computes the function's features (a walk of its
syntax tree, milliseconds), sends them with the proposals, and gets back the order and the
predictions; the stop rule, which predicts refinements as they appear mid-run, stays in the
helper and is asked before each next candidate. ``settled`` ends the helper once the trials are
done and leaves a plain ``StopRule`` with every prediction made, for ``remember`` and ``explain``.

The decisions are the in-process ones (``guide.load_model``, ``search.order``,
``search.StopRule``); a helper that cannot be started falls back to ``guide.guide`` here.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import time
import weakref
from collections.abc import Sequence
from dataclasses import replace
from typing import IO, Any

from hotpath.config import Config
from hotpath.kernels import Candidate, Skipped
from hotpath.model import search
from hotpath.model.costmodel import Prediction
from hotpath.model.features import FunctionFeatures, features_of
from hotpath.model.guide import Guidance, guide, load_model, rank_with
from hotpath.rewriter.source import FunctionSource
from hotpath.signature import Signature

log = logging.getLogger(__name__)

#: How long the helper may take to load and fit the model and rank, or to answer one stop check.
ANSWER_TIMEOUT_S = 120.0
_LENGTH = struct.Struct("<Q")


def _write(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks, left = [], size
    while left:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise TimeoutError(f"the cost model helper did not answer within {ANSWER_TIMEOUT_S:.0f} s")
        chunk = os.read(fd, left)
        if not chunk:
            raise EOFError("the cost model helper ended")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read(fd: int, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    (size,) = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size, deadline))
    return pickle.loads(_read_exactly(fd, size, deadline))  # our own helper: trusted


class RemoteStop:
    """``speculate``'s stop check, answered by the helper that holds the model."""

    def __init__(self, process: subprocess.Popen[bytes], features: FunctionFeatures,
                 predictions: dict[str, Prediction], config: Config) -> None:
        self._process = process
        self.features = features
        self.predictions = dict(predictions)  # refreshed from the helper by ``settle``
        self.guided = False  # it ranked this tune's candidates, and so holds its predictions
        self._budget_s, self._min_speedup = config.budget_s, config.min_speedup
        # A tune that ends without settling (an exception) must not leave the helper behind.
        self._finalizer = weakref.finalize(self, _end, process)

    @property
    def running(self) -> bool:
        """Whether the helper process is still there (until ``settle`` or the object is dropped)."""
        return self._finalizer.alive

    def _ask(self, message: Any) -> Any:
        assert self._process.stdin is not None and self._process.stdout is not None
        _write(self._process.stdin, message)
        return _read(self._process.stdout.fileno(), ANSWER_TIMEOUT_S)

    def __call__(self, trials: Sequence[object], remaining: Sequence[Candidate | Skipped]) -> str | None:
        return self._ask(("stop", list(trials), list(remaining)))

    def settle(self) -> search.StopRule:
        """End the helper; a model-less rule with every prediction it made (for the records)."""
        if self._finalizer.alive and self.guided:
            try:
                self.predictions = self._ask(("predictions",))
            except Exception as exc:  # the ranking and the trials stand; only late predictions are lost
                log.warning("the cost model helper gave no final predictions: %s", exc)
            self._finalizer()
        return search.StopRule(None, self.features, self.predictions, self._budget_s, self._min_speedup)


def _end(process: subprocess.Popen[bytes]) -> None:
    # Its state is this tune's alone: nothing to save, so no reason to wait for it.
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


def start(config: Config) -> RemoteStop | None:
    """A helper that starts loading and fitting the model now, while the reference run goes on;
    ``None`` when there is no model to load (``cost_model=False``) or no process to be had.
    It ends with ``settle`` (``settled``), or when dropped."""
    # find_spec imports nothing; without scikit-learn, guide says so at no cost here.
    if not config.cost_model or importlib.util.find_spec("sklearn") is None:
        return None
    try:
        # Its own session, as the sandbox's workers: where the scheduler shares the CPU by session
        # (autogroup), it does not share the caller's share with the caller's busy threads.
        process = subprocess.Popen([sys.executable, "-m", "hotpath.model.helper"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, start_new_session=True)
        assert process.stdin is not None
        _write(process.stdin, ("load", config))
    except OSError as exc:
        log.warning("the cost model helper could not be started (%s); ranking in this process", exc)
        return None
    return RemoteStop(process, FunctionFeatures(), {}, config)


def guide_elsewhere(helper: RemoteStop | None, fs: FunctionSource, signature: Signature, args: Sequence[object],
                    baseline_s: float | None, proposals: Sequence[Candidate | Skipped], config: Config) -> Guidance:
    """``guide.guide``, with the model loaded, fitted and asked in ``helper`` (from ``start``);
    in this process when there is none or it failed. Never raises."""
    if helper is None:
        return guide(fs, signature, args, baseline_s, proposals, config)  # nothing heavy to move, or no helper
    try:
        features = features_of(fs, signature, args, baseline_s)
    except Exception:  # guide says why in Guidance.model, at no cost: nothing is imported for it
        helper.settle()
        return guide(fs, signature, args, baseline_s, proposals, config)
    try:
        why, predictions, order = helper._ask(("guide", features, list(proposals), config))
    except Exception as exc:
        helper.settle()
        log.warning("the cost model helper failed (%s); ranking in this process", exc)
        return guide(fs, signature, args, baseline_s, proposals, config)
    helper.features, helper.predictions, helper.guided = features, dict(predictions), True
    ordered = tuple(proposals[i] for i in order)  # the caller's own objects, in the helper's order
    ranking = tuple(predictions[p.name] for p in ordered if isinstance(p, Candidate) and p.name in predictions)
    return Guidance(features, why, ranking, ordered, helper)  # type: ignore[arg-type]


def settled(guidance: Guidance) -> Guidance:
    """``guidance`` with its helper ended (a no-op for one ranked in this process)."""
    if isinstance(guidance.stop, RemoteStop):
        return replace(guidance, stop=guidance.stop.settle())
    return guidance


def rank(features: FunctionFeatures, proposals: Sequence[Candidate | Skipped],
         config: Config) -> tuple[str, dict[str, Prediction], list[int], search.StopRule]:
    """What ``guide.guide`` decides, from features already computed (``guide.rank_with``, the
    same code): why, the predictions, the order as indices into ``proposals``, and the stop rule."""
    model, why = load_model(config)
    why, predictions, ordered, stop = rank_with(model, why, features, proposals, config)
    index = {id(p): i for i, p in enumerate(proposals)}
    return why, predictions, [index[id(p)] for p in ordered], stop


def main() -> int:
    """The helper: answer one ``guide`` request, then stop checks, until the caller closes its input."""
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints must not corrupt the answers
    stop: search.StopRule | None = None
    while True:
        header = requests.read(_LENGTH.size)
        if len(header) < _LENGTH.size:
            return 0
        message = pickle.loads(requests.read(_LENGTH.unpack(header)[0]))
        if message[0] == "load":  # warm load_model's cache while the caller runs the reference
            try:
                load_model(message[1])
            except Exception:  # asked again at "guide", where the failure is answered
                log.exception("loading the cost model failed")
        elif message[0] == "guide":
            why, predictions, order, stop = rank(*message[1:])
            _write(answers, (why, predictions, order))
        elif message[0] == "stop":
            assert stop is not None
            try:
                reason = stop(message[1], message[2])
            except Exception:  # as in the caller's process: a model bug means "go on"
                log.exception("the stop check failed; going on")
                reason = None
            _write(answers, reason)
        else:
            _write(answers, stop.predictions if stop is not None else {})


if __name__ == "__main__":
    sys.exit(main())
