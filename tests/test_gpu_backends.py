"""The torch and CuPy backends.

On any machine: the emitted CuPy modules and kernels (they parse, bind NumPy to CuPy, the
ElementwiseKernel body is the expected C++ and compiles against a stand-in of CuPy's CArray),
the host/device wrapper's semantics with a fake device, CuPy skipped with its reason where it
cannot run, and real ``torch.compile`` variants on the CPU. Tests marked ``gpu`` need a CUDA
device and skip cleanly without one.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import time
import subprocess

import numpy as np
import pytest

import hotpath
from hotpath.kernels import array_style, cupy_backend, cupy_kernel, device
from hotpath.kernels.torch_backend import BACKEND as TORCH
from hotpath.rewriter.source import extract
from hotpath.runner.trials import WON
from hotpath.signature import signature_of

# ---- kernels (module level: hotpath reads their source) -------------------------------------


def expression_chain(x, y):
    return np.sqrt(x * x + y * y) * np.exp(-0.5 * x) + np.sin(y) * 2.0


def stencil(u, out):
    n, m = u.shape
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return out


def clipped_halves(a, lo, out):
    for i in range(a.shape[0]):
        x = a[i]
        if x < lo:
            x = lo
        out[i] = x // 2 + min(x, 3.0) % 1.5 / 2


def sum_squares(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s


def relax_in_place(u):
    u[1:-1] = 0.5 * (u[:-2] + u[2:])


def total_energy(x):
    return np.sum(np.exp(-x**2) + 0.5 * np.cos(x) ** 2)


def through_a_list(a):
    return np.asarray(a.tolist()) * 2.0


WEIGHTS = np.linspace(0.0, 1.0, 5)


def weighted(a):
    return np.sqrt(a) * WEIGHTS


# ---- shared, expensive: one real tune of an expression chain with the default backends -------


@pytest.fixture(scope="module")
def chain_result(fast):
    rng = np.random.default_rng(0)
    x, y = rng.random(2_000_000), rng.random(2_000_000)
    return hotpath.tune(expression_chain, x, y, config=fast.replace(backends=("numba", "torch", "cupy")))


def _trial(result, name):
    return next(t for t in result.trials if t.name == name)


# ---- CuPy: skipped with a reason where it cannot run -----------------------------------------


def test_cupy_is_a_default_backend_and_skipped_with_its_reason(chain_result):
    if cupy_backend.device_status().ok:
        pytest.skip("this machine can run CuPy")
    assert "cupy" in hotpath.Config().backends
    trial = _trial(chain_result, "cupy")
    assert trial.status == "skipped"
    assert trial.reason == cupy_backend.device_status().reason
    assert any(word in trial.reason for word in ("not installed", "no CUDA device", "driver", "cannot be imported",
                                                "cannot run a kernel"))


# ---- torch on the CPU --------------------------------------------------------------------------


def test_torch_candidate_for_an_expression_chain_is_correct_and_timed(chain_result):
    pytest.importorskip("torch")
    trial = _trial(chain_result, "torch")
    assert trial.status in ("won", "correct"), trial.reason
    assert trial.correct is True
    assert trial.timing is not None and trial.timing.pairs >= 6
    assert trial.compile_s is not None and trial.compile_s > 0


def test_the_install_rule_holds_for_torch(chain_result, fast):
    pytest.importorskip("torch")
    trial = _trial(chain_result, "torch")
    timed = [t for t in chain_result.trials if t.timing is not None and t.correct]
    best = max((t for t in timed if t.timing.ci_low > fast.min_speedup),
               key=lambda t: t.timing.speedup, default=None)
    # torch is installed exactly when its interval clears the bar and no correct rival is faster.
    assert (trial.status == WON) == (best is not None and best.name == trial.name)
    if chain_result.winner is not None:
        assert _trial(chain_result, chain_result.winner.name).timing.ci_low > fast.min_speedup


def test_torch_is_not_proposed_for_element_loops(tmp_path):
    fs = extract(sum_squares)
    proposals = TORCH.propose(fs, signature_of((np.ones(3),)), hotpath.Config(), tmp_path)
    assert len(proposals) == 1 and proposals[0].name == "torch"
    assert "not array-style" in proposals[0].reason and "for i in range" in proposals[0].reason


def test_torch_graph_break_is_a_compile_failure_with_the_reason(tmp_path):
    pytest.importorskip("torch")
    (candidate, *_) = TORCH.propose(extract(through_a_list), signature_of((np.ones(4),)), hotpath.Config(), tmp_path)
    with pytest.raises(RuntimeError, match="graph break"):
        TORCH.prepare(TORCH.load(candidate), (np.ones(4),))


def test_torch_variant_keeps_in_place_writes_and_numpy_scalars(tmp_path):
    pytest.importorskip("torch")
    config = hotpath.Config()
    relax = TORCH.load(TORCH.propose(extract(relax_in_place), signature_of((np.ones(8),)), config, tmp_path)[0])
    u, expected = np.arange(8.0) ** 2, np.arange(8.0) ** 2
    relax(u)
    relax_in_place(expected)
    np.testing.assert_array_equal(u, expected)
    energy = TORCH.load(TORCH.propose(extract(total_energy), signature_of((np.ones(8),)), config, tmp_path)[0])
    value = energy(np.linspace(0, 1, 100))
    assert type(value) is np.float64  # torch gives a 0-d array; NumPy's reduction gives a scalar
    assert value == pytest.approx(total_energy(np.linspace(0, 1, 100)), rel=1e-12)


def test_torch_variant_compiles_one_graph_for_every_length(tmp_path):
    """Verification calls a variant on inputs of other lengths than the captured ones: each new
    length must not cost a compile (a static graph recompiles on the second length seen)."""
    torch = pytest.importorskip("torch")
    from torch._dynamo.utils import counters

    torch._dynamo.reset()  # an earlier test's tuning may have compiled this very variant already
    signature = signature_of((np.ones(50), np.ones(50)))
    chain = TORCH.load(TORCH.propose(extract(expression_chain), signature, hotpath.Config(), tmp_path)[0])
    before = counters["stats"]["unique_graphs"]
    rng = np.random.default_rng(0)
    for n in (50, 2, 3, 1000):  # 0 and 1 are specialized by torch whatever it is told
        x, y = rng.random(n), rng.random(n)
        np.testing.assert_allclose(chain(x, y), expression_chain(x, y), rtol=1e-12)
    assert counters["stats"]["unique_graphs"] - before == 1


# ---- CuPy sources, emitted without a device ---------------------------------------------------


def test_array_module_binds_numpy_to_cupy(tmp_path):
    fs = extract(weighted)
    source = cupy_backend.emit_array_module(fs, {"WEIGHTS": WEIGHTS})
    tree = ast.parse(source)
    imports = {(a.name, a.asname) for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert ("cupy", "np") in imports and not any(name == "numpy" for name, _ in imports)
    assert "WEIGHTS = cupy.asarray(WEIGHTS)" in source  # a global array goes to the device once
    assert "hotpath_entry = _hotpath_device.DeviceCall(weighted, _hotpath_cupy_ops(), [])" in source


def test_elementwise_kernel_for_a_stencil():
    plan = cupy_kernel.plan(extract(stencil).tree, signature_of((np.ones((4, 4)), np.ones((4, 4)))))
    assert plan.mapped == ("i", "j")
    assert plan.out_params == "raw T0 p_out"
    assert plan.in_params.startswith("raw T1 p_u, int64 p__start0")
    assert plan.operation.splitlines() == [
        "ptrdiff_t _rest = i;",
        "const ptrdiff_t v_j = p__start1 + (_rest % p__count1) * p__step1;",
        "_rest /= p__count1;",
        "const ptrdiff_t v_i = p__start0 + _rest * p__step0;",
        "_hp_at(p_out, v_i, v_j) = (0.25 * (((_hp_at(p_u, (v_i - 1LL), v_j) + _hp_at(p_u, (v_i + 1LL), v_j))"
        " + _hp_at(p_u, v_i, (v_j - 1LL))) + _hp_at(p_u, v_i, (v_j + 1LL))));",
    ]
    launcher = ast.parse(plan.device_function).body[0]
    assert not any(isinstance(n, ast.For) for n in ast.walk(launcher))  # the nest became a launch
    assert "_hotpath_kernel(u, _hotpath_r0.start" in plan.device_function
    source = cupy_backend.emit_kernel_module(extract(stencil), {}, plan)
    ast.parse(source)
    assert "cupy.ElementwiseKernel(" in source and "[1]" in source  # `out` is copied back


def test_python_semantics_in_the_kernel_body():
    signature = signature_of((np.ones(3, np.float32), 1.0, np.ones(3, np.float32)))
    plan = cupy_kernel.plan(extract(clipped_halves).tree, signature)
    body = plan.operation
    assert "double v_x = 0;" in body  # float32 element, then a Python float: float64
    assert "_hp_floordiv(v_x, 2LL)" in body and "_hp_mod(_hp_min(v_x, 3.0), 1.5)" in body
    assert "_hp_truediv(" in body


_CARRAY_STANDIN = """
#include <cmath>
#include <cstddef>
#define __device__
#define __forceinline__ inline
using std::floor; using std::fmod; using std::fabs; using std::sqrt;
template <typename T, int N> struct CArray {  // the part of CuPy's CArray the kernels use
    T* d; ptrdiff_t s[N];
    const ptrdiff_t* shape() const { return s; }
    template <typename I> T& operator[](const I (&ix)[N]) { return d[ix[0]]; }
    template <typename I> const T& operator[](const I (&ix)[N]) const { return d[ix[0]]; }
};
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to check the C++")
@pytest.mark.parametrize("fn, args, declarations", [
    (stencil, (np.ones((4, 4)), np.ones((4, 4))),
     "const CArray<double, 2> p_u, CArray<double, 2> p_out"),
    (clipped_halves, (np.ones(3, np.float32), 1.0, np.ones(3, np.float32)),
     "const CArray<float, 1> p_a, double p_lo, CArray<float, 1> p_out"),
])
def test_kernel_body_compiles(fn, args, declarations, tmp_path):
    plan = cupy_kernel.plan(extract(fn).tree, signature_of(args))
    ranges = ", ".join(f"long long p__{k}{d}" for d in range(len(plan.mapped)) for k in ("start", "step", "count"))
    code = (_CARRAY_STANDIN + cupy_kernel.PREAMBLE
            + f"\nvoid kernel({declarations}, {ranges}, ptrdiff_t i) {{\n{plan.operation}\n}}\n")
    (tmp_path / "kernel.cpp").write_text(code)
    done = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-Wall", "-Werror", "kernel.cpp"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_gpu_candidates_say_they_run_on_the_device(tmp_path):
    # The sandbox runs these without an address-space limit, under which CUDA cannot start.
    signature = signature_of((np.ones(3), np.ones(3)))
    (on_gpu,) = cupy_backend.BACKEND.propose(extract(expression_chain), signature, hotpath.Config(), tmp_path)
    (loop_kernel,) = cupy_backend.BACKEND.propose(extract(stencil), signature_of((np.ones((3, 3)), np.ones((3, 3)))),
                                                  hotpath.Config(), tmp_path)
    assert on_gpu.on_device and loop_kernel.on_device
    if importlib.util.find_spec("torch") is not None:
        on_cpu = next(c for c in TORCH.propose(extract(expression_chain), signature, hotpath.Config(), tmp_path)
                      if c.name == "torch")
        assert not on_cpu.on_device


def test_reductions_get_no_elementwise_kernel(tmp_path, monkeypatch):
    monkeypatch.setattr(cupy_backend, "device_status", lambda: hotpath.kernels.Availability(True))
    (skipped,) = cupy_backend.BACKEND.propose(extract(sum_squares), signature_of((np.ones(3),)),
                                              hotpath.Config(), tmp_path)
    assert skipped.name == "cupy-elementwise" and "reduction" in skipped.reason


def test_array_style_classification():
    assert array_style.classify(extract(expression_chain).tree).array
    assert array_style.classify(extract(relax_in_place).tree).array
    verdict = array_style.classify(extract(stencil).tree)
    assert not verdict.array and "for i in range(1, n - 1)" in verdict.reason
    assert array_style.written_params(extract(stencil).tree) == {"out"}
    assert array_style.written_params(extract(relax_in_place).tree) == {"u"}


# ---- the host/device wrapper, with a fake device ----------------------------------------------


class FakeDeviceArray:
    def __init__(self, data: np.ndarray) -> None:
        self.data = np.array(data, copy=True)


def _fake_ops(log: list[str]) -> device.DeviceOps:
    return device.DeviceOps(
        is_device_array=lambda v: isinstance(v, FakeDeviceArray),
        to_device=lambda a: (log.append("to"), FakeDeviceArray(a))[1],
        to_host=lambda d: (log.append("back"), d.data.copy())[1],
        synchronize=lambda: log.append("sync"),
    )


def _scale_and_sum(a, out):
    out.data[...] = a.data * 2
    return FakeDeviceArray(np.array(a.data.sum())), out


def test_device_call_moves_arrays_and_copies_written_ones_back():
    log: list[str] = []
    call = device.DeviceCall(_scale_and_sum, _fake_ops(log), written=[1])
    a, out = np.arange(4.0), np.zeros(4)
    total, returned = call(a, out)
    np.testing.assert_array_equal(out, a * 2)  # written in place, as the original would
    assert returned is out  # a returned argument is the caller's own array
    assert type(total) is np.float64 and total == 6.0  # 0-d device result -> NumPy scalar
    assert log.count("to") == 2


def test_device_call_keeps_aliasing_and_leaves_device_arguments_alone():
    log: list[str] = []
    call = device.DeviceCall(lambda a, b: FakeDeviceArray(np.array(a is b)), _fake_ops(log), written=[])
    x = np.ones(3)
    assert call(x, x) == True  # noqa: E712 — one device copy for one host array
    on_device = FakeDeviceArray(np.ones(3))
    result = call(on_device, on_device)
    assert isinstance(result, FakeDeviceArray)  # device in, device out; nothing moved
    assert log.count("to") == 1


def test_parts_split_transfer_from_compute():
    log: list[str] = []
    call = device.DeviceCall(_scale_and_sum, _fake_ops(log), written=[1])
    parts = device.measure_parts(call, (np.arange(4.0), np.zeros(4)), repeats=3)
    assert set(parts) == {device.TRANSFER_S, device.COMPUTE_S}
    assert all(v >= 0 for v in parts.values()) and "sync" in log
    assert device.measure_parts(sum_squares, (np.ones(3),)) == {}  # a host variant has no parts


def test_availability_without_cupy_names_the_extra():
    if cupy_backend.device_status().ok:
        pytest.skip("CuPy runs here")
    reason = cupy_backend.BACKEND.availability().reason
    assert reason and any(word in reason for word in ("hotpath[gpu]", "CUDA", "driver", "cannot run a kernel"))


def test_a_driver_runs_newer_runtimes_of_its_major_version():
    # Seen on an H200: driver 13.0 (580.x) with CuPy's CUDA 13.2 runtime runs; an earlier check
    # compared minor versions and skipped CuPy there.
    assert cupy_backend.driver_gap(13000, 13020) is None
    assert cupy_backend.driver_gap(13000, 12080) is None
    reason = cupy_backend.driver_gap(12080, 13000)
    assert reason is not None and "12.8" in reason and "13" in reason


# ---- on a GPU ------------------------------------------------------------------------------------

def assert_verified_with_parts(trial) -> None:
    """A device variant that verified, and whose time is split into transfer and compute."""
    assert trial.correct is True, trial.reason
    parts = dict(trial.timing.parts)
    assert parts[device.TRANSFER_S] > 0 and parts[device.COMPUTE_S] > 0


needs_gpu = pytest.mark.skipif(not cupy_backend.device_status().ok,
                               reason=f"needs CuPy and a CUDA device: {cupy_backend.device_status().reason}")


@pytest.mark.gpu
@needs_gpu
def test_cupy_array_variant_is_verified_and_timed_with_parts(fast):
    rng = np.random.default_rng(1)
    x, y = rng.random(4_000_000), rng.random(4_000_000)
    result = hotpath.tune(expression_chain, x, y, config=fast.replace(backends=("cupy",)))
    trial = _trial(result, "cupy")
    assert_verified_with_parts(trial)


@pytest.mark.gpu
@needs_gpu
def test_cupy_elementwise_stencil_is_verified(fast):
    u = np.random.default_rng(2).random((1500, 1500))
    result = hotpath.tune(stencil, u, np.zeros_like(u), config=fast.replace(backends=("cupy",)))
    trial = _trial(result, "cupy-elementwise")
    assert trial.correct is True, trial.reason
    assert dict(trial.timing.parts)[device.COMPUTE_S] > 0


@pytest.mark.gpu
@needs_gpu
def test_cupy_arrays_in_cupy_arrays_out(tmp_path):
    import cupy

    (candidate,) = cupy_backend.BACKEND.propose(extract(expression_chain), signature_of((np.ones(3), np.ones(3))),
                                                hotpath.Config(), tmp_path)
    variant = cupy_backend.BACKEND.load(candidate)
    x = cupy.linspace(0, 1, 1000)
    assert isinstance(variant(x, x), cupy.ndarray)
    np.testing.assert_allclose(variant(x, x).get(), expression_chain(x.get(), x.get()), rtol=1e-12)



def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _torch_cuda(), reason="needs torch with a CUDA device")
def test_torch_cuda_variant_is_verified_and_timed_with_parts(chain_result):
    trial = _trial(chain_result, "torch-cuda")
    assert_verified_with_parts(trial)


@pytest.mark.gpu
@needs_gpu
def test_gpu_variant_is_not_installed_where_transfers_cost_more_than_it_saves(fast):
    # A thousand elements: NumPy takes microseconds; three copies over the bus and a launch per
    # operation take longer. The variant is correct and timed, and stays out.
    x, y = np.linspace(0.0, 1.0, 1000), np.linspace(1.0, 2.0, 1000)
    result = hotpath.tune(expression_chain, x, y, config=fast.replace(backends=("cupy",)))
    trial = _trial(result, "cupy")
    assert trial.correct is True, trial.reason
    assert trial.timing is not None and trial.timing.speedup < 1.0
    assert trial.status != WON and result.winner is None


@pytest.mark.gpu
@needs_gpu
def test_timing_waits_for_an_asynchronous_kernel():
    import cupy

    from hotpath.runner.timing import timed_run

    spin = cupy.RawKernel(r"""
    extern "C" __global__ void spin(long long cycles, double* out) {
        long long start = clock64();
        while (clock64() - start < cycles) { }
        out[0] = 1.0;
    }""", "spin")
    busy_s = 0.01
    cycles = int(cupy.cuda.Device().attributes["ClockRate"] * 1e3 * busy_s)  # ClockRate is in kHz
    scratch = cupy.zeros(1)

    def launch_and_return(x):  # the kernel is still running when this returns
        spin((1,), (1,), (cupy.int64(cycles), scratch))
        return x

    x = np.ones(10)
    launch_and_return(x)
    cupy.cuda.Device().synchronize()
    start = time.perf_counter()
    launch_and_return(x)
    unsynchronized_s = time.perf_counter() - start
    cupy.cuda.Device().synchronize()
    assert unsynchronized_s < busy_s / 2  # without a wait, the call would look (almost) free

    run = timed_run(lambda a: a, launch_and_return, (x,), mutates=False, budget_s=0.3,
                    sync=cupy_backend.BACKEND.synchronize)
    assert run.timing.candidate_s >= 0.8 * busy_s
