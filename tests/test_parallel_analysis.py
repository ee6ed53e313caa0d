"""Which loops may become prange: races must be ruled out by analysis, not hoped away."""

import ast
import textwrap

import pytest

from hotpath.rewriter.parallel import analyse


def verdicts(source: str):
    fn = ast.parse(textwrap.dedent(source)).body[0]
    return [(v.loop, v.parallel, v.reason) for _, v in analyse(fn)]


PARALLEL = {
    "sum reduction": """
        def f(a):
            s = 0.0
            for i in range(a.shape[0]):
                s += a[i] * a[i]
            return s""",
    "max reduction": """
        def f(a):
            m = -1e300
            for i in range(a.shape[0]):
                m = max(m, a[i])
            return m""",
    "row-wise writes": """
        def f(u, out):
            for i in range(1, u.shape[0] - 1):
                for j in range(1, u.shape[1] - 1):
                    t = u[i - 1, j] + u[i + 1, j]
                    out[i, j] = 0.5 * t
            return out""",
    "private scratch array": """
        def f(a, out):
            for i in range(a.shape[0]):
                tmp = np.zeros(3)
                tmp[0] = a[i]
                out[i] = tmp.sum()""",
    "helper on scalars": """
        def f(x, out):
            for i in range(x.shape[0]):
                out[i] = helper(x[i], 2.0)""",
}

SERIAL = {
    "prefix sum": ("""
        def f(a):
            for i in range(1, a.shape[0]):
                a[i] += a[i - 1]""", "reads a[i - 1]"),
    "histogram scatter": ("""
        def f(x, counts):
            for i in range(x.shape[0]):
                counts[int(x[i])] += 1""", "not indexed by 'i' first"),
    "carried scalar": ("""
        def f(a, out):
            x = 0.0
            for i in range(a.shape[0]):
                x = 0.5 * x + a[i]
                out[i] = x""", "'x' carries a value"),
    "conditionally assigned": ("""
        def f(a):
            t = 0.0
            for i in range(a.shape[0]):
                if a[i] > 0:
                    t = a[i]
                a[i] = t""", "'t' carries a value"),
    "read after loop": ("""
        def f(a):
            for i in range(a.shape[0]):
                last = a[i]
            return last""", "read after it"),
    "early exit": ("""
        def f(a):
            for i in range(a.shape[0]):
                if a[i] < 0:
                    break""", "break"),
    "reduction also read": ("""
        def f(a, out):
            s = 0.0
            for i in range(a.shape[0]):
                s += a[i]
                out[i] = s""", "also used otherwise"),
    "alias write": ("""
        def f(a):
            b = a
            for i in range(a.shape[0]):
                b[i] = a[i] * 2""", "aliases"),
    "whole array reduced": ("""
        def f(a, out):
            for i in range(a.shape[0]):
                out[i] = out.sum()""", "as a whole"),
    "shared array to a call": ("""
        def f(a, out):
            for i in range(a.shape[0]):
                update(out, i)""", "might write to it"),
    "mutating method": ("""
        def f(a, acc):
            for i in range(a.shape[0]):
                acc.append(a[i])""", ".append()"),
    "view written": ("""
        def f(a):
            for i in range(1, a.shape[0]):
                row = a[i - 1]
                row[0] = 1.0""", "view of shared memory"),
}


@pytest.mark.parametrize("name", PARALLEL)
def test_independent_iterations_are_parallel(name):
    assert verdicts(PARALLEL[name])[0][1], verdicts(PARALLEL[name])


@pytest.mark.parametrize("name", SERIAL)
def test_dependences_keep_the_loop_serial(name):
    source, why = SERIAL[name]
    loop, parallel, reason = verdicts(source)[0]
    assert not parallel and why in reason, reason


def test_inner_loop_of_a_time_stepping_loop_is_found():
    found = verdicts("""
        def f(u, steps):
            new = np.empty_like(u)
            for t in range(steps):
                for i in range(1, u.shape[0] - 1):
                    new[i] = u[i] + 0.1 * (u[i - 1] - 2 * u[i] + u[i + 1])
                u[1:-1] = new[1:-1]
            return u""")
    assert [p for _, p, _ in found] == [False, True]


def test_a_loop_variable_rebound_by_a_later_loop_is_not_live():
    found = verdicts("""
        def f(x, out, w):
            s = 0.0
            for i in range(w):
                s += x[i]
            for i in range(w, x.shape[0]):
                out[i] = x[i] * 2
            return s""")
    assert found[0][1], found
    # ...unless the later loop might not run, leaving the old value to be read.
    found = verdicts("""
        def f(x, w):
            for i in range(w):
                x[i] = 0.0
            for i in range(w, x.shape[0]):
                pass
            return i""")
    assert not found[0][1] and "read after" in found[0][2]
