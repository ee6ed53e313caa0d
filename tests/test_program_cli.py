"""The program commands (`hotpath profile / optimize / run`) on small real programs, in subprocesses:
the program's own arguments, module entry points (`-m`), standard input, exit statuses and
the one-line errors. Tuning is kept out where it is not the point (functions never called)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HOTPATH = [sys.executable, "-m", "hotpath.cli"]
needs_scalene = pytest.mark.skipif(importlib.util.find_spec("scalene") is None,
                                   reason="Scalene is not installed (pip install 'hotpath[profile]')")

# Prints what it was given; `unused` is there for `--functions`: never called, so nothing is tuned.
ECHO = """
import sys

def unused(n):
    return n + 1

def spin(n):
    total = 0
    for i in range(n):
        total += i % 7
    return total

spin(3_000_000)
print("argv", sys.argv[1:])
"""


def hotpath(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, HOTPATH_HOME=str(cwd / "state"), COLUMNS="200", **(env or {}))
    environment.pop("PYTHONPATH", None)
    return subprocess.run([*HOTPATH, *args], capture_output=True, text=True, cwd=cwd, env=environment,
                          input=stdin if stdin is not None else "", timeout=timeout)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.slow
@needs_scalene
def test_profile_passes_the_script_its_own_options(tmp_path: Path) -> None:
    write(tmp_path, "echo.py", ECHO)
    got = hotpath("profile", "echo.py", "--n", "200", "--no", cwd=tmp_path)  # Scalene took --n for its own
    assert got.returncode == 0, got.stderr
    assert "argv ['--n', '200', '--no']" in got.stdout
    assert "ambiguous option" not in got.stderr


def test_optimize_passes_the_script_its_own_options(tmp_path: Path) -> None:
    write(tmp_path, "echo.py", ECHO)
    got = hotpath("optimize", "--functions", "unused", "echo.py", "--", "--n", "200", "--no", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert got.stdout.count("argv ['--n', '200', '--no']") == 1
    assert "never called" in got.stdout


def package(folder: Path) -> None:
    """A package with a kernel module, a command-line module and a pytest suite."""
    write(folder, "mypkg/__init__.py", "")
    write(folder, "mypkg/kern.py", """
        def smooth(u):
            out = u.copy()
            for i in range(1, u.shape[0] - 1):
                out[i] = 0.25 * u[i - 1] + 0.5 * u[i] + 0.25 * u[i + 1]
            return out
    """)
    write(folder, "mypkg/cli.py", """
        import argparse
        import sys

        import numpy as np

        from .kern import smooth

        def main():
            parser = argparse.ArgumentParser()
            parser.add_argument("--n", type=int, default=1)
            parser.add_argument("--status", type=int, default=0)
            options = parser.parse_args()
            u = np.linspace(0.0, 1.0, 20_000)
            for _ in range(options.n):
                u = smooth(u)
            words = sys.stdin.read().split()
            print("argv", sys.argv[1:], "stdin", words, "sum", round(float(u.sum()), 6))
            return options.status

        if __name__ == "__main__":
            sys.exit(main())
    """)
    write(folder, "tests/test_kern.py", """
        import numpy as np

        from mypkg.kern import smooth

        def test_smooth_keeps_the_total():
            u = np.linspace(0.0, 1.0, 20_000)
            total = u.sum()
            for _ in range(40):
                u = smooth(u)
            assert abs(u.sum() - total) < 1.0
    """)


def test_run_a_module_as_python_m_does(tmp_path: Path) -> None:
    package(tmp_path)
    expected = subprocess.run([sys.executable, "-m", "mypkg.cli", "--n", "2", "--status", "3"], cwd=tmp_path,
                              input="a b\n", capture_output=True, text=True, timeout=60)
    got = hotpath("run", "-m", "mypkg.cli", "--n", "2", "--status", "3", cwd=tmp_path, stdin="a b\n")
    assert expected.returncode == got.returncode == 3
    assert got.stdout == expected.stdout == "argv ['--n', '2', '--status', '3'] stdin ['a', 'b'] sum 10000.0\n"
    missing = hotpath("run", "-m", "mypkg.nosuch", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip() == "hotpath run: No module named mypkg.nosuch"


@pytest.mark.slow
@needs_scalene
def test_optimize_a_pytest_suite_tunes_the_package_function(tmp_path: Path) -> None:
    package(tmp_path)
    got = hotpath("optimize", "--timing-budget", "0.2", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/",
                  cwd=tmp_path)
    assert got.returncode == 0, got.stdout + got.stderr
    assert got.stdout.count("1 passed") == 1  # the suite's own output, shown once for its two runs
    assert "mypkg.kern:smooth" in got.stdout and "1 winner(s) stored" in got.stdout
    assert "hotpath run -m pytest -q -p no:cacheprovider tests/" in got.stdout
    ran = hotpath("-v", "run", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/", cwd=tmp_path)
    assert ran.returncode == 0 and "1 passed" in ran.stdout
    assert "mypkg.kern:smooth" in ran.stderr  # the stored winner was found for the package's module


def test_a_syntax_error_shows_only_the_scripts_error(tmp_path: Path) -> None:
    script = write(tmp_path, "broken.py", "print('never')\ndef f(:\n    pass\n")
    expected = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert expected.returncode == 1 and expected.stderr.startswith(f'  File "{script}", line 2')
    for command in ("profile", "optimize", "run"):
        got = hotpath(command, str(script), cwd=tmp_path)
        assert (got.returncode, got.stdout, got.stderr) == (1, "", expected.stderr), command


@pytest.mark.slow
@needs_scalene
def test_a_script_that_raises_under_the_profiler_shows_its_own_traceback(tmp_path: Path) -> None:
    script = write(tmp_path, "fails.py", """
        import json

        def parse(text):
            return json.loads(text)

        print("before")
        parse("{")
    """)
    expected = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    got = hotpath("profile", "fails.py", cwd=tmp_path)
    assert got.returncode == expected.returncode == 1
    assert got.stdout == "before\n"
    program_part, _, ours = got.stderr.rpartition("hotpath profile: ")
    assert program_part == expected.stderr  # the frames from the script on, none of Scalene's or hotpath's
    assert ours.startswith("fails.py failed (exit status 1)") and "\n" not in ours.strip()
    write(tmp_path, "exits.py", "import sys\nprint('bye')\nsys.exit(3)\n")
    got = hotpath("profile", "exits.py", cwd=tmp_path)
    assert got.returncode == 3 and got.stdout == "bye\n"


@pytest.mark.slow
@needs_scalene
def test_ctrl_c_while_profiling_ends_in_one_line_and_status_130(tmp_path: Path) -> None:
    import signal

    write(tmp_path, "forever.py", """
        def spin():
            total = 0
            while True:
                total += 1

        print("started", flush=True)
        spin()
    """)
    env = dict(os.environ, HOTPATH_HOME=str(tmp_path / "state"), COLUMNS="200")
    process = subprocess.Popen([*HOTPATH, "optimize", "forever.py"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path, start_new_session=True)
    assert process.stdout is not None
    try:
        assert process.stdout.readline() == "started\n"  # the program runs under Scalene
        os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole process group
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    assert out == ""
    assert err.splitlines() == ["hotpath optimize: interrupted (Ctrl-C) while profiling; nothing was tuned"]


@pytest.mark.slow
@needs_scalene
def test_optimize_replays_stdin_prints_the_output_once_and_skips_what_is_stored(tmp_path: Path) -> None:
    write(tmp_path, "weigh.py", """
        import sys

        def weigh(xs):
            total = 0.0
            for x in xs:
                for k in range(3000):
                    total += x * k % 3
            return total

        numbers = [float(word) for word in sys.stdin.read().split()]
        print("stdin", len(numbers), file=sys.stderr)  # once per run
        print("weighed", weigh(numbers))
    """)
    numbers = "".join(f"{i}\n" for i in range(1, 301))
    expected = "weighed 600000.0\n"
    first = hotpath("optimize", "--json", "--timing-budget", "0.2", "weigh.py", cwd=tmp_path, stdin=numbers)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)  # standard output holds the summary alone
    assert summary["schema"] == "hotpath.optimize/1" and summary["status"] == 0
    assert [(f["function"], f["status"]) for f in summary["functions"]] == [("__main__:weigh", "installed")]
    assert summary["installed"] == 1 and summary["run"] == "hotpath run weigh.py"
    assert first.stderr.count("stdin 300") == 2  # the profiling run and the capture run both read it all
    assert first.stderr.count(expected) == 1  # the program's output, shown once (on stderr with --json)

    again = hotpath("optimize", "--timing-budget", "0.2", "weigh.py", cwd=tmp_path, stdin=numbers)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count(expected) == 1
    assert "already stored: numba" in again.stdout and "--force tunes it again" in again.stdout

    quiet = hotpath("optimize", "--quiet", "--functions", "weigh", "weigh.py", cwd=tmp_path, stdin=numbers)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, expected, "stdin 300\n")
