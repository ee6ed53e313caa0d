"""Outlining: runs of a large function's top-level statements move into helper functions.

The rewritten function must do exactly what it did: the tests run it as plain Python and, for
devectorized kernels, compiled by Numba, and compare every output and every argument with the
original's. Thresholds are passed small (``loops``, ``nodes``) so that small functions exercise
what only module-sized kernels get by default.
"""

from __future__ import annotations

import ast
import textwrap

import numpy as np
import pytest

from hotpath.rewriter.devectorize.outline import LOOPS, outline
from hotpath.rewriter.devectorize.transform import devectorize
from hotpath.signature import signature_of


def parse(source: str) -> ast.FunctionDef:
    tree = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(tree, ast.FunctionDef)
    return tree


def module(helpers, main: ast.FunctionDef, decorator: str = "") -> str:
    """The source of a module holding ``helpers`` and ``main``, each under ``decorator``."""
    lines = ["import numpy as np", "import numba", "from numba import prange"]
    for fn in (*helpers, main):
        lines += ["", decorator, ast.unparse(fn)] if decorator else ["", ast.unparse(fn)]
    return "\n".join(lines) + "\n"


def load(source: str, name: str):
    namespace: dict = {"np": np}
    exec(compile(source, "<source>", "exec"), namespace)
    return namespace[name]


def copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def same(want_args, want, got_args, got) -> None:
    for w, g in zip((want, *want_args), (got, *got_args)):
        if isinstance(w, tuple):
            assert type(g) is tuple and len(g) == len(w)
            for a, b in zip(w, g):
                assert np.array_equal(a, b)
        else:
            assert np.array_equal(w, g), (w, g)


ACCUMULATE = """
def accumulate(x, y, scale):
    n = x.shape[0]
    total = 0.0
    for i in range(n):
        total += x[i]
    scale = scale * 2.0
    for i in range(n):
        y[i] = x[i] * total * scale
    k = 0
    while True:
        k += 1
        if k >= n:
            break
    return total, n, k, scale
"""


def test_a_small_function_is_left_as_it_is():
    tree = parse(ACCUMULATE)
    result = outline(tree)  # two loops: far below the default threshold
    assert result.helpers == () and result.main is tree
    assert LOOPS > 2


def test_locals_read_later_are_returned_and_bound_again():
    tree = parse(ACCUMULATE)
    before = ast.unparse(tree)
    result = outline(tree, loops=1, nodes=1)
    assert ast.unparse(tree) == before  # the argument is not modified
    assert [h.name for h in result.helpers] == ["_accumulate_nest0", "_accumulate_nest1", "_accumulate_nest2"]
    main = ast.unparse(result.main)
    # n and total are read by later statements; i is assigned again before any later read.
    assert "n, total = _accumulate_nest0(x)" in main
    # scale is an argument the run assigns and the return reads.
    assert "scale = _accumulate_nest1(n, scale, total, x, y)" in main
    assert "k = _accumulate_nest2(n)" in main
    assert main.rstrip().endswith("return (total, n, k, scale)")
    x, y = np.arange(5.0), np.zeros(5)
    want_args, got_args = [x, y, 3.0], copies([x, y, 3.0])
    want = load(ACCUMULATE, "accumulate")(*want_args)
    got = load(module(result.helpers, result.main), "accumulate")(*got_args)
    same(want_args, want, got_args, got)


def test_generated_names_avoid_the_modules_names():
    result = outline(parse(ACCUMULATE), taken={"_accumulate_nest0"}, loops=1, nodes=1)
    assert [h.name for h in result.helpers][0] == "_accumulate_nest1"


@pytest.mark.parametrize("source", [
    # returns from inside a loop
    """
    def f(x):
        for i in range(x.shape[0]):
            if x[i] < 0:
                return i
        return -1
    """,
    # scale may be unassigned: the run that reads it, and the one that would return it, stay
    """
    def f(x, y, flag):
        if flag:
            scale = 2.0
        for i in range(x.shape[0]):
            y[i] = x[i]
        for i in range(x.shape[0]):
            y[i] = y[i] * scale
    """,
    # the loop variable is read after a loop that may not run
    """
    def f(x, y):
        for i in range(x.shape[0]):
            y[i] = x[i]
        y[0] = i
    """,
    # names that are not the function's own
    """
    def f(x):
        global seen
        for i in range(x.shape[0]):
            seen = x[i]
    """,
])
def test_runs_that_could_change_behaviour_stay_in_main(source):
    tree = parse(source)
    result = outline(tree, loops=1, nodes=1)
    assert result.helpers == () and result.main is tree


def test_a_refused_statement_stays_and_its_neighbours_move():
    source = """
    def f(x, y):
        tmp = x * 2.0
        for i in range(x.shape[0]):
            y[i] = tmp[i]
        del tmp
        for i in range(x.shape[0]):
            y[i] += 1.0
        squares = [v * v for v in y]
        for i in range(x.shape[0]):
            y[i] += squares[i]
    """
    result = outline(parse(source), loops=1, nodes=1)
    main = ast.unparse(result.main)
    assert len(result.helpers) == 3
    assert "del tmp" in main and "squares = [v * v for v in y]" in main
    x = np.arange(4.0)
    want_y, got_y = np.zeros(4), np.zeros(4)
    load(textwrap.dedent(source), "f")(x, want_y)
    load(module(result.helpers, result.main), "f")(x, got_y)
    assert np.array_equal(want_y, got_y)


def kernel_source(statements: int) -> str:
    """A vectorized kernel of ``statements`` NumPy statements, each a loop nest once devectorized."""
    lines = ["def big(a, b, out):", "    t0 = a * 2.0 + b"]
    for k in range(1, statements):
        op = ("np.sqrt(np.abs(t{p})) + a", "t{p} * b - a", "np.where(t{p} > 0.5, t{p}, b)")[k % 3]
        lines.append(f"    t{k} = " + op.format(p=k - 1))
    lines += [f"    out[...] = t{statements - 1} + 1.0", "    n = out.shape[0]", "    return n"]
    return "\n".join(lines) + "\n"


def devectorized(source: str, args) -> ast.FunctionDef:
    tree = parse(source)
    return devectorize(tree, signature_of(args).args, {"np": "numpy"}).tree


@pytest.mark.parametrize("parallel", [False, True])
def test_a_devectorized_kernel_outlined_compiles_with_numba_and_agrees(parallel):
    pytest.importorskip("numba")
    from hotpath.rewriter.parallel import to_prange

    rng = np.random.default_rng(3)
    args = (rng.random((7, 5)), rng.random((7, 5)), np.zeros((7, 5)))
    source = kernel_source(6)
    tree = devectorized(source, args)
    if parallel:
        tree, _ = to_prange(tree, frozenset(), False)
        assert "prange(" in ast.unparse(tree)
    loops = sum(isinstance(n, ast.For) for n in ast.walk(tree))
    result = outline(tree, loops=loops, nodes=150)  # just at the threshold
    assert len(result.helpers) >= 2
    decorator = "@numba.njit(parallel=True)" if parallel else "@numba.njit"
    fn = load(module(result.helpers, result.main, decorator), "big")
    want_args, got_args = copies(args), copies(args)
    want = load(source, "big")(*want_args)
    got = fn(*got_args)
    same(want_args, want, got_args, got)
    # An exception raised in a nest reaches the caller as the original's does.
    mismatched = (args[0], np.ones((7, 4)), np.zeros((7, 5)))
    with pytest.raises(ValueError):
        load(source, "big")(*copies(mismatched))
    with pytest.raises(ValueError):
        fn(*copies(mismatched))
    # one loop fewer than the threshold: nothing moves
    assert outline(tree, loops=loops + 1).helpers == ()


def chain(a, b, out):
    """Five NumPy statements: ten loop nests once devectorized (a fast and a broadcasting one each)."""
    t0 = a * 2.0 + b
    t1 = np.sqrt(np.abs(t0)) + a
    t2 = t1 * b - a
    t3 = np.where(t2 > 0.5, t2, b)
    out[...] = t3 + 1.0
    return out.shape[0]


def undecorated(source: str) -> list[str]:
    """The functions of ``source``, without their decorators."""
    functions = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    for fn in functions:
        fn.decorator_list = []
    return [ast.unparse(fn) for fn in functions]


def chain_args():
    rng = np.random.default_rng(5)
    return rng.random((6, 4)), rng.random((6, 4)), np.zeros((6, 4))


def fused_candidates(tmp_path):
    import hotpath
    from hotpath.kernels.numba_backend import BACKEND
    from hotpath.rewriter.source import extract

    fs = extract(chain)
    proposed = BACKEND.propose(fs, signature_of(chain_args()), hotpath.Config(), tmp_path)
    return fs, {c.name: c for c in proposed if hasattr(c, "source")}


def test_the_fused_numba_candidates_of_a_small_kernel_are_not_outlined(tmp_path):
    from hotpath.kernels.numba_backend import OPT_LEVEL_GLOBAL

    _, candidates = fused_candidates(tmp_path)
    assert "numba-fused" in candidates
    assert all("_chain_nest" not in c.source for c in candidates.values())
    assert all(OPT_LEVEL_GLOBAL not in c.source for c in candidates.values())  # Numba's own level


def test_the_fused_numba_candidates_of_a_large_kernel_are_outlined_compiled_and_refined(tmp_path, monkeypatch):
    pytest.importorskip("numba")
    import hotpath.rewriter.devectorize.outline as outline_module
    from hotpath.kernels.base import Failure
    from hotpath.kernels.numba_backend import BACKEND, OUTLINED_OPT_LEVEL, declared_level

    monkeypatch.setattr(outline_module, "LOOPS", 4)  # "large" from four loops on
    monkeypatch.setattr(outline_module, "NODES", 100)
    fs, candidates = fused_candidates(tmp_path)
    fused, parallel = candidates["numba-fused"], candidates["numba-fused-parallel"]
    assert "_chain_nest" not in candidates["numba"].source  # only the fused variants are outlined
    for candidate in (fused, parallel):
        tree = ast.parse(candidate.source)
        nests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("_chain_nest")]
        assert len(nests) >= 2
        main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "chain")
        for fn in (*nests, main):  # the nests take main's decorator: parallel=True in the parallel one
            assert ast.unparse(fn.decorator_list[0]) == ast.unparse(main.decorator_list[0])
    assert "parallel=True" in ast.unparse(ast.parse(parallel.source).body[-1].decorator_list[0])

    want_args, got_args = copies(chain_args()), copies(chain_args())
    want = chain(*want_args)
    variant = BACKEND.load(fused)
    assert declared_level(variant) == OUTLINED_OPT_LEVEL  # compiled at O2 by prepare
    BACKEND.prepare(variant, got_args)
    got = variant(*got_args)
    same(want_args, want, got_args, got)

    # A refinement keeps the nests, outlined again the same way, under its own decorator.
    refined = BACKEND.refine(fs, fused, Failure("mismatch", "", original_raised="IndexError"), tmp_path)
    assert refined is not None and refined.name == "numba-fused+boundscheck"
    assert undecorated(refined.source) == undecorated(fused.source)
    assert refined.source.count("boundscheck=True") == len(undecorated(fused.source))
    got_args = copies(chain_args())
    same(want_args, want, got_args, BACKEND.load(refined)(*got_args))
