"""CuPy variants: the NumPy code on the GPU, or a loop nest as an ``ElementwiseKernel``.

* ``cupy`` (array-style functions): the function exactly as written, emitted in a module where
  its NumPy alias is bound to CuPy, so every ``np.*`` call runs on the device.
* ``cupy-elementwise`` (loop nests): the parallel loop nest becomes one CUDA kernel with a
  thread per element (``hotpath.kernels.cupy_kernel``); the rest of the function runs as Python
  on CuPy arrays.

Both take the caller's NumPy arrays to the device and bring results and written arguments
back (``hotpath.kernels.device``); a caller passing CuPy arrays gets CuPy results and nothing
moves. Timing synchronizes the device, and ``measure_parts`` reports transfer and compute time
apart; the install decision is end to end, for the arguments the caller actually passes.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hotpath.errors import NotRewritable
from hotpath.kernels import array_style, cupy_kernel, device
from hotpath.kernels.artifacts import load_module, pickle_namespace, write_module
from hotpath.kernels.base import Availability, Candidate, Failure, Skipped
from hotpath.rewriter.source import import_line, injected_values, module_imports

if TYPE_CHECKING:
    from hotpath.config import Config
    from hotpath.rewriter.source import FunctionSource
    from hotpath.signature import Signature

ENTRY = "hotpath_entry"
INSTALL_HINT = "pip install 'hotpath[gpu]'"


def driver_gap(driver: int, runtime: int) -> str | None:
    """Why a CUDA driver cannot run a runtime (versions as CUDA encodes them, 13020 = 13.2), or
    ``None`` where it can. A driver runs every runtime of its major version (CUDA's minor-version
    compatibility: a 13.0 driver runs CuPy's 13.2 runtime), never a newer major one."""
    if driver // 1000 >= runtime // 1000:
        return None
    return (f"the NVIDIA driver supports CUDA {driver // 1000}.{driver % 1000 // 10}, older than the "
            f"CUDA {runtime // 1000}.x this CuPy was built for")


@functools.lru_cache(maxsize=1)
def device_status() -> Availability:
    """Whether CuPy can run kernels here; the reason names what is missing. Cached: cheap after
    the first call, and never raises. Where a device is found, a small kernel runs on it (this
    creates the CUDA context in this process): versions alone do not show that the driver can
    load what CuPy compiles."""
    if importlib.util.find_spec("cupy") is None:
        return Availability(False, f"cupy is not installed ({INSTALL_HINT})")
    try:
        import cupy
    except Exception as exc:  # a wheel for another CUDA version fails here, with its reason
        return Availability(False, f"cupy cannot be imported: {type(exc).__name__}: {exc}")
    runtime = cupy.cuda.runtime
    try:
        count = runtime.getDeviceCount()
    except Exception as exc:
        text = str(exc)
        if "InsufficientDriver" in text or "insufficient" in text.lower():
            return Availability(False, f"the NVIDIA driver is too old for this CuPy ({text})")
        return Availability(False, f"no CUDA device: {text}")
    if count == 0:
        return Availability(False, "no CUDA device")
    try:
        gap = driver_gap(runtime.driverGetVersion(), runtime.runtimeGetVersion())
    except Exception:  # only a better message: the kernel below decides
        gap = None
    if gap is not None:
        return Availability(False, gap)
    try:
        float((cupy.arange(4.0) * 2.0).sum())
    except Exception as exc:
        return Availability(False, f"CuPy cannot run a kernel on this device: {type(exc).__name__}: {exc}")
    return Availability(True)


def cupy_ops() -> device.DeviceOps:
    """Moving NumPy arrays to the current CUDA device with CuPy and back."""
    import cupy

    return device.DeviceOps(
        is_device_array=lambda v: isinstance(v, cupy.ndarray),
        to_device=cupy.asarray,
        to_host=cupy.asnumpy,
        synchronize=lambda: cupy.cuda.Device().synchronize(),
    )


class CupyBackend:
    """Emits and loads CuPy variants."""

    name = "cupy"

    def availability(self) -> Availability:
        return device_status()

    def propose(self, fs: FunctionSource, signature: Signature, config: Config,
                kernels_dir: Path) -> list[Candidate | Skipped]:
        if not signature.arrays:
            return [Skipped(self.name, "cupy", "no array arguments: there is nothing to move to the GPU")]
        values = injected_values(fs)
        namespace = pickle_namespace(values)
        style = array_style.classify(fs.tree)
        if style.array:
            source = emit_array_module(fs, values)
            return [self._candidate(fs, "cupy", {"kind": "array", "device": "cuda"}, source, namespace, kernels_dir,
                                    ("the NumPy code as written, with NumPy bound to CuPy",))]
        try:
            plan = cupy_kernel.plan(fs.tree, signature)
        except NotRewritable as exc:
            return [Skipped(self.name, "cupy-elementwise", f"{style.reason}, and no elementwise kernel: "
                                                           f"{exc.reason}")]
        source = emit_kernel_module(fs, values, plan)
        return [self._candidate(fs, "cupy-elementwise", {"kind": "elementwise", "device": "cuda"}, source, namespace,
                                kernels_dir, plan.notes)]

    def _candidate(self, fs: FunctionSource, name: str, options: dict[str, Any], source: str,
                   namespace: bytes, kernels_dir: Path, notes: tuple[str, ...]) -> Candidate:
        path = write_module(kernels_dir, f"{fs.module}.{fs.qualname}", name, source, namespace)
        return Candidate(self.name, name, tuple(sorted(options.items())), source, ENTRY, path, namespace, notes)

    def refine(self, fs: FunctionSource, candidate: Candidate, failure: Failure,
               kernels_dir: Path) -> Candidate | None:
        return None

    def load(self, candidate: Candidate) -> Callable[..., Any]:
        module = load_module(candidate.path, candidate.namespace)
        return getattr(module, candidate.entry)

    def prepare(self, variant: Callable[..., Any], args: Sequence[object]) -> None:
        """Run once on copies: NVRTC compiles kernels on first launch, and pools warm up."""
        import copy

        variant(*copy.deepcopy(tuple(args)))
        self.synchronize()

    def binaries(self, candidate: Candidate) -> tuple[Path, ...]:
        return ()  # compiled in the process that loads it

    def build(self, candidate: Candidate) -> bool:
        return False  # nothing is built ahead: it compiles in the process that loads it

    def invocation_errors(self) -> tuple[type[BaseException], ...]:
        return ()

    def measure_parts(self, variant: Callable[..., Any], args: Sequence[object]) -> dict[str, float]:
        return device.measure_parts(variant, args)

    def synchronize(self) -> None:
        import cupy

        cupy.cuda.Device().synchronize()


def _header(fs: FunctionSource, name: str, values: dict[str, Any]) -> list[str]:
    lines = [
        f"# hotpath candidate {name!r} for {fs.module}.{fs.qualname} (from {fs.filename})",
        "# Generated from the function's source; the original is never modified.",
    ]
    if values:
        lines.append(f"# Bound by hotpath before import (values, not importable): {', '.join(sorted(values))}")
    lines.append("import cupy")
    for alias, module in sorted(module_imports(fs).items()):
        if module == "numpy":
            lines.append(f"import cupy as {alias}  # the function's NumPy, bound to CuPy: it runs on the GPU")
        else:
            lines.append(import_line(alias, module))
    arrays = sorted(k for k, v in values.items() if isinstance(v, np.ndarray))
    if arrays:
        lines.append("# Global arrays the function reads, copied to the device once, at import.")
        lines += [f"{k} = cupy.asarray({k})" for k in arrays]
    for helper in list(fs.walk())[1:]:
        lines += ["", "", helper.source]
    return lines


def _entry(fs: FunctionSource, device_fn: str) -> list[str]:
    written = array_style.written_params(fs.tree)
    positions = sorted(i for i, p in enumerate(fs.params) if p in written)
    return [
        "",
        "",
        "from hotpath.kernels import device as _hotpath_device",
        "from hotpath.kernels.cupy_backend import cupy_ops as _hotpath_cupy_ops",
        "",
        f"# Arguments the function may write (copied back to the caller's arrays): {positions}",
        f"{ENTRY} = _hotpath_device.DeviceCall({device_fn}, _hotpath_cupy_ops(), {positions!r})",
        "",
    ]


def emit_array_module(fs: FunctionSource, values: dict[str, Any]) -> str:
    """The module for an array-style function: its source unchanged, NumPy bound to CuPy."""
    lines = _header(fs, "cupy", values) + ["", "", ast.unparse(fs.tree)]
    return "\n".join(lines + _entry(fs, fs.name))


def emit_kernel_module(fs: FunctionSource, values: dict[str, Any], plan: cupy_kernel.ElementwisePlan) -> str:
    """The module for a loop kernel: the ElementwiseKernel and the function that launches it."""
    lines = _header(fs, "cupy-elementwise", values)
    lines += [
        "from hotpath.kernels.cupy_kernel import PREAMBLE as _HOTPATH_PREAMBLE",
        "",
        "# One thread per element of the loop nest over " + ", ".join(plan.mapped) + ".",
        "_hotpath_kernel = cupy.ElementwiseKernel(",
        f"    {plan.in_params!r},",
        f"    {plan.out_params!r},",
        "    r'''",
        plan.operation,
        "''',",
        f"    {plan.kernel_name!r},",
        "    preamble=_HOTPATH_PREAMBLE,",
        ")",
        "",
        "",
        plan.device_function,
    ]
    return "\n".join(lines + _entry(fs, f"{fs.name}__device"))


BACKEND = CupyBackend()
