"""Sending outcomes back from a sandbox worker: every picklable value arrives, large ones
without copies in the worker, and a result that cannot be sent says why (never an empty reason).

The regression: ``logistic_nll_vec`` at bench size ended with "the original itself failed in
the sandbox (error): the result could not be sent back: " — the reference report (the
original's arguments after each of ~70 inputs, gigabytes) was pickled in-band and then copied
into a frame, past the worker's address-space cap, and ``str(MemoryError())`` is empty.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from hotpath.runner import channel
from hotpath.runner.outcome import run_case
from hotpath.runner.worker import unsent_reason


def nll(X, w, y):
    """The shape of ``logistic_nll_vec``: three arrays in, a ``np.float64`` out."""
    margin = y * (X @ w)
    return np.sum(np.log1p(np.exp(-margin)))


def _inputs(n: int = 200, d: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, d)), rng.standard_normal(d), np.where(rng.standard_normal(n) > 0, 1.0, -1.0)


def _round_trip(message: object, trusted: bool = True) -> object:
    reading, writing = os.pipe()
    received = bytearray()

    def drain() -> None:  # a large frame does not fit in the pipe: it is read while it is written
        while chunk := os.read(reading, 1 << 16):
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        channel.send(writing, message)
    finally:
        os.close(writing)
        reader.join()
        os.close(reading)
    frames = channel.Frames()
    # In odd chunks, as a pipe may deliver them.
    payloads = [p for start in range(0, len(received), 7777) for p in frames.feed(bytes(received[start:start + 7777]))]
    assert len(payloads) == 1
    return channel.load(payloads[0]) if trusted else channel.load_untrusted(payloads[0])


@pytest.mark.parametrize("trusted", [True, False])
def test_outcomes_of_every_shape_arrive_as_sent(trusted: bool) -> None:
    args = _inputs()
    outcome = run_case(nll, args)
    assert type(outcome.returned) is np.float64
    frozen = np.arange(6.0)
    frozen.flags.writeable = False
    values = (outcome, np.float64(1.5), np.array(2.5), (np.float64(3.0), 4), np.arange(12.0).reshape(3, 4)[:, ::2],
              np.asfortranarray(np.ones((3, 2))), frozen, np.array([1, 2], dtype=np.int32), np.zeros(0))
    got = _round_trip(("result", "ok", values), trusted)
    assert got[:2] == ("result", "ok")
    for before, after in zip(values[1:], got[2][1:]):
        assert type(after) is type(before)
        np.testing.assert_array_equal(np.asarray(after), np.asarray(before))
        if isinstance(before, np.ndarray):
            assert after.dtype == before.dtype and after.flags.writeable == before.flags.writeable
    sent = got[2][0]
    assert type(sent.returned) is np.float64 and sent.returned == outcome.returned
    for before, after in zip(outcome.args_after, sent.args_after):
        np.testing.assert_array_equal(after, before)
        assert after.flags.writeable


def test_two_frames_in_one_chunk_are_both_read() -> None:
    reading, writing = os.pipe()
    channel.send(writing, ("case", "a", np.arange(3.0)))
    channel.send(writing, ("case", "b", np.arange(4.0)))
    os.close(writing)
    data = os.read(reading, 1 << 20)
    os.close(reading)
    first, second = channel.Frames().feed(data)
    assert channel.load_untrusted(first)[1] == "a"
    np.testing.assert_array_equal(channel.load_untrusted(second)[2], np.arange(4.0))


_SENDER = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from hotpath.runner import channel
    from hotpath.runner.outcome import run_case
    from tests.test_channel_transfer import nll, _inputs

    args = _inputs(20_000, 50)  # X: 8 MB
    outcomes = {f"case-{i}": run_case(nll, args) for i in range(4)}  # 4 copies of the arguments after the call
    sent = sum(a.nbytes for o in outcomes.values() for a in o.args_after)
    with open("/proc/self/status") as status:
        size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    # Room for far less than one more copy of what is sent: the worker must not copy it.
    limit = size_kb * 1024 + sent // 3
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        channel.send(1, ("result", "ok", outcomes))
    except MemoryError:
        sys.exit(3)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, caps the address space")
def test_a_large_result_is_sent_without_copying_it() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", _SENDER], capture_output=True, cwd=root, timeout=120,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": root})
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    (payload,) = channel.Frames().feed(done.stdout)
    outcomes = channel.load(payload)
    assert len(outcomes[2]) == 4
    X, w, y = _inputs(20_000, 50)
    for outcome in outcomes[2].values():
        assert type(outcome.returned) is np.float64
        assert outcome.returned == nll(X, w, y)
        np.testing.assert_array_equal(outcome.args_after[0], X)


def test_a_message_that_cannot_be_pickled_writes_nothing() -> None:
    reading, writing = os.pipe()
    with pytest.raises(Exception):
        channel.send(writing, ("result", "ok", threading.Lock()))
    channel.send(writing, ("result", "error", "instead"))
    os.close(writing)
    data = os.read(reading, 1 << 20)
    os.close(reading)
    (payload,) = channel.Frames().feed(data)
    assert channel.load(payload) == ("result", "error", "instead")


@pytest.mark.parametrize("exc", [MemoryError(), OverflowError(), ValueError(""), pickle.PicklingError("no")])
def test_a_reason_for_an_unsent_result_names_the_exception(exc: Exception) -> None:
    reason = unsent_reason(exc)
    assert type(exc).__name__ in reason
    if isinstance(exc, MemoryError):
        assert "memory limit" in reason
