"""The `hotpath` command as a newcomer meets it."""

import subprocess
import sys

import pytest


def hotpath(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hotpath.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_demo_shows_each_variant_with_its_verdict():
    done = hotpath("demo", "--quick", "jacobi_sweep", "checksum")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "original" in out and "numba" in out
    jacobi = out[:out.index("checksum")]
    assert "installed numba" in jacobi or "installed cython" in jacobi  # a verified winner
    # The checksum's Python ints grow past int64, which Numba wraps: not tried, and the reason
    # says why. (Cython keeps Python ints and may win.)
    checksum = out[out.index("checksum"):]
    assert "numba " in checksum and "skipped" in checksum and "64 bits" in checksum
    assert "Traceback" not in out + done.stderr


def test_demo_rejects_an_unknown_example():
    done = hotpath("demo", "nope")
    assert done.returncode == 2 and "unknown example" in done.stdout


def test_version_and_help():
    assert hotpath("--version").stdout.startswith("hotpath ")
    assert "demo" in hotpath("--help").stdout
