"""Standard input replayed to each of a program's runs (`hotpath optimize` runs it twice), with
real pipes and real child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from hotpath.profiles.replay import StdinReplay

READ_ALL = [sys.executable, "-c", "import sys; data = sys.stdin.read(); print(len(data), data[:12])"]
READ_LINE = [sys.executable, "-c", "import sys; print(repr(sys.stdin.readline()))"]
NO_READ = [sys.executable, "-c", "print('no input needed')"]


def run(replay: StdinReplay, cmd: list[str]) -> str:
    with replay.run() as stdin:
        return subprocess.run(cmd, stdin=stdin, capture_output=True, text=True, timeout=60).stdout


def test_every_run_reads_what_the_first_read(tmp_path: Path) -> None:
    data = "".join(f"{i}\n" for i in range(50_000)).encode()  # more than a pipe holds
    read_end, write_end = os.pipe()
    feeder = threading.Thread(target=lambda: (os.write(write_end, data), os.close(write_end)))
    feeder.start()
    try:
        with StdinReplay(tmp_path / "tmp", source=read_end) as replay:
            assert not replay.terminal
            first = run(replay, READ_ALL)
            assert first == f"{len(data)} 0\n1\n2\n3\n4\n5\n\n"
            assert run(replay, READ_ALL) == first
            assert run(replay, READ_LINE) == "'0\\n'\n"
            recording = replay.path
            assert recording.parent == tmp_path / "tmp" and recording.read_bytes() == data
        assert not recording.exists()  # removed with the replay
    finally:
        feeder.join()
        os.close(read_end)


def test_a_program_that_never_reads_is_not_kept_waiting_for_an_input_that_never_ends(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()  # open, silent: like `ssh host hotpath ...` at a terminal
    try:
        with StdinReplay(tmp_path, source=read_end) as replay:
            assert run(replay, NO_READ) == "no input needed\n"
            assert run(replay, READ_ALL) == "0 \n"  # later runs: what the first read, nothing
            os.write(write_end, b"late\n")  # typed after the first run: not recorded
            assert run(replay, READ_ALL) == "0 \n"
    finally:
        os.close(write_end)
        os.close(read_end)
