"""Building the ahead-of-time candidates in the background while the trials before them run.

A Cython candidate builds a shared object (about 10 s on two cores) and a Pythran one too
(10-80 s) before its trial can start. Trials run one at a time on one core, so without this a
build would wait its turn and then hold the tuning run, and its budget, for its whole length.
``building`` starts one low-priority process that builds them, in the order the trials will
want them, as soon as the candidates are known. A trial's own ``load`` then finds the binary
there, or waits for the build in flight (``native_build.build_once`` holds a file lock per
binary) rather than starting it again; a binary nobody has started yet the trial builds itself.

Nothing built here is imported or run in that process: the trial still loads and verifies the
candidate in its sandbox, and a build that fails there fails the trial with the compiler's
message as before. A background build that failed or was stopped only cost the core it ran on.
When the tuning run ends, whatever is still building is stopped, compiler included.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from hotpath.kernels import Candidate, Skipped, get_backend

log = logging.getLogger(__name__)

#: The builder yields to everything else: the trials' timing above all.
NICENESS = 10


def needs_building(candidate: Candidate) -> bool:
    """Does ``candidate``'s backend build files ahead of loading it, not all of them there yet?"""
    try:
        backend = get_backend(candidate.backend)
        binaries = backend.binaries(candidate)
    except Exception:  # a plug-in that cannot say: its trial builds it, as before
        return False
    return bool(binaries) and hasattr(backend, "build") and not all(path.exists() for path in binaries)


@contextmanager
def building(proposals: Sequence[Candidate | Skipped], memory_limit_mb: int | None) -> Iterator[int]:
    """Build the candidates among ``proposals`` that need it, in the background, for the length
    of the ``with`` block; yields how many were handed to the builder."""
    wanted = [p for p in proposals if isinstance(p, Candidate) and needs_building(p)]
    if not wanted:
        yield 0
        return
    try:
        # Its own session: stopping it stops the compilers it started as well.
        process = subprocess.Popen([sys.executable, "-m", "hotpath.runner.ahead", str(memory_limit_mb or 0)],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True)
    except OSError as exc:
        log.warning("cannot start the background builder (%s); each trial builds its own candidate", exc)
        yield 0
        return
    try:
        assert process.stdin is not None
        process.stdin.write(pickle.dumps(wanted))
        process.stdin.close()
    except OSError:
        pass  # it died at start: the trials build their own, and its stderr says why below
    try:
        yield len(wanted)
    finally:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert process.stderr is not None
        with process.stderr:
            errors = process.stderr.read().decode(errors="replace").strip()
        process.wait()
        if errors:
            log.info("background builds that failed (their trials say why): %s", errors[-500:])


def main() -> None:
    """The builder process: candidates (pickled) on stdin, the memory limit in MB as argument."""
    os.nice(NICENESS)
    memory_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if memory_mb:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024,) * 2)
    candidates: list[Candidate] = pickle.load(sys.stdin.buffer)
    for candidate in candidates:
        try:
            get_backend(candidate.backend).build(candidate)
        except Exception as exc:  # the trial builds it again and reports the failure
            print(f"{candidate.name}: {type(exc).__name__}: {str(exc)[:300]}", file=sys.stderr)


if __name__ == "__main__":
    main()


__all__ = ["NICENESS", "building", "needs_building"]
