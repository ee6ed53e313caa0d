"""Python ints that grow past 64 bits: left as the original, with the reason."""

import numpy as np
import pytest

import hotpath
from hotpath.rewriter.integers import holds_python_int, shift_counts, unbounded_growth
from hotpath.rewriter.source import extract


def binomial(n, k):
    r = 1
    for i in range(k):
        r = r * (n - i) // (i + 1)
    return r


def collatz_steps(n):
    steps = 0
    while n != 1:
        if n % 2:
            n = 3 * n + 1
        else:
            n //= 2
        steps += 1
    return steps


def squares_of_list(xs):
    s = 0
    for v in xs:
        s += v * v
    return s


def count_above(x, limit):
    count = 0
    for i in range(x.shape[0]):
        if x[i] * 2.0 > limit:
            count += 1
    return count


def relax(u, sweeps):
    for _ in range(sweeps):
        u[1:-1] = 0.5 * (u[2:] + u[:-2])
    return u


@pytest.mark.parametrize("fn, args, grows", [
    (binomial, (100, 50), "r * (n - i)"),
    (collatz_steps, (27,), "3 * n"),  # steps counts a loop that n, which grows, controls
    (squares_of_list, ([1, 2, 3],), "v * v"),
    (count_above, (np.ones(3), 1.0), None),  # a float product in a test, an int count
    (relax, (np.ones(5), 3), None),  # an int sweep count, float products
])
def test_growth_that_reaches_the_result_is_found(fn, args, grows):
    found = unbounded_growth(extract(fn), args)
    assert (found is None) if grows is None else (f"'{grows}'" in found)


def test_python_ints_are_told_from_numpy_ints_and_bools():
    assert holds_python_int((1.0, [2]))
    assert not holds_python_int((np.int64(3), True, 2.0))


def test_binomial_gets_no_int64_candidate_and_no_range_guard(fast):
    result = hotpath.tune(binomial, 30, 10, config=fast.replace(backends=("numba", "cython")))
    numba = [t for t in result.trials if t.backend == "numba"]
    assert numba and all(t.status == "skipped" for t in numba)
    assert "grow past 64 bits" in numba[0].reason and "r * (n - i)" in numba[0].reason
    assert not any("range-guard" in t.name for t in result.trials), result.summary()
    assert result.optimized(100, 50) == 100891344545564193334812497256
    assert result.optimized(67, 33) == binomial(67, 33)


def shifted_xor(words, s):
    acc = 0
    for w in words:
        acc ^= w << s
    return acc


def test_shift_counts_are_found_and_guarded_to_what_compiled_code_defines(fast):
    words = np.arange(1, 2001, dtype=np.int64)
    assert shift_counts(extract(shifted_xor), (words, 3)) == (1,)
    result = hotpath.tune(shifted_xor, words, 3, config=fast)
    odd = np.arange(1, 198, 2, dtype=np.int64)  # 99 odd words: their XOR at bit 63 is set
    for s in (-1, 63, 64, 70, 5):  # x86 masks the count: w << -1 would be w << 63 compiled
        got, want = result.optimized(odd, s), shifted_xor(odd, s)
        assert got == want and type(got) is type(want), (s, got, want)
    # Nothing was caught by the watch (which would have rolled the variant back): the guard did it.
    assert result.winner is None or result.optimized.installed


def relax_steps(x, steps):
    """A time loop whose count is a Python int: range(-2**64) is empty in Python, an
    OverflowError in compiled code."""
    for _ in range(steps):
        x = 0.5 * x + 0.25
    return x


def test_a_range_guard_one_candidate_needed_is_given_to_the_rest_up_front(fast):
    fast = fast.replace(backends=("numba", "cython"))
    result = hotpath.tune(relax_steps, np.linspace(0.0, 1.0, 4000), 20, config=fast)
    first = result.trials[0]
    assert first.status == "incorrect" and "range/" in first.reason, result.summary()
    later = [t for t in result.trials[1:] if t.status != "skipped" and t.name.split("+")[0] != first.name]
    assert later, result.summary()
    for trial in later:  # none of them spent a trial on the values the first one failed on
        assert "+range-guard" in trial.name and trial.status != "incorrect", result.summary()
    assert result.optimized(np.ones(3), -(2**64)).tolist() == [1.0, 1.0, 1.0]
