"""torch variants: ``torch.compile`` of the NumPy function itself, on the CPU and on CUDA.

torch traces NumPy code (its NumPy interop maps ``np.*`` calls on arrays to tensor operations)
and Inductor fuses a chain of elementwise operations into one loop without temporaries. The
function is emitted unchanged; the generated module compiles it with ``fullgraph=True``, so a
construct torch cannot trace (a graph break) fails the candidate with torch's reason instead of
running half compiled. Compiling takes seconds, so ``prepare`` does it before timing starts.

One graph for every size: compiled with ``dynamic=True``, the graph built on the captured
arguments also serves the verification inputs of other lengths (and a user's later calls), where
the default compiles a static graph first and recompiles on the next new size, each compile
seconds to minutes for a large function (a candidate once spent 104 s on a length-2 input).
Measured on this machine's CPU, the dynamic graph runs as fast as the static one (0.80x vs 0.81x
and 0.20x vs 0.21x NumPy at 200k and 2k elements on an elementwise chain, 15 paired medians).
torch still specializes lengths 0 and 1, so those inputs get their own small graph, within the
trial's deadline like everything else (``hotpath.runner.trials.Budget``); none is skipped.

Semantics kept: results come back as NumPy values (torch returns 0-d arrays where NumPy
returns scalars; they are turned back into NumPy scalars), arrays the function writes are
written in the caller's memory on the CPU (torch works on the NumPy buffers directly), and on
CUDA they are copied back (see ``hotpath.kernels.device``), and operands that do not broadcast
raise NumPy's ValueError (``numpy_errors``; torch raises a RuntimeError). Dtypes, exceptions and
values are verified against the original like every other candidate.

Only array-style functions get a candidate: torch unrolls a Python loop over elements into one
graph node per element, which cannot win and takes minutes to compile.
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib.metadata
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hotpath.kernels import array_style, device
from hotpath.kernels.artifacts import load_module, pickle_namespace, write_module
from hotpath.kernels.base import Availability, Candidate, Failure, Skipped
from hotpath.rewriter.source import import_lines, injected_values, module_imports

if TYPE_CHECKING:
    from hotpath.config import Config
    from hotpath.rewriter.source import FunctionSource
    from hotpath.signature import Signature

ENTRY = "hotpath_entry"


def numpy_result(value: Any) -> Any:
    """``value`` with 0-d arrays turned into NumPy scalars, as NumPy's own reductions return."""
    if type(value) is np.ndarray and value.ndim == 0:
        return value[()]
    if isinstance(value, tuple):
        return tuple(numpy_result(v) for v in value)
    if isinstance(value, list):
        return [numpy_result(v) for v in value]
    return value


def numpy_errors(compiled: Callable[..., Any]) -> Callable[..., Any]:
    """``compiled``, raising NumPy's exception where torch's differs: operands whose shapes do not
    broadcast are a ValueError in NumPy; torch, tracing the new shapes, raises a RuntimeError that
    says the sizes of two tensors must match."""

    @functools.wraps(compiled)
    def call(*args: Any) -> Any:
        try:
            return compiled(*args)
        except RuntimeError as exc:
            if "must match the size of tensor" not in str(exc):
                raise
            raise ValueError(f"operands could not be broadcast together (torch: {str(exc).splitlines()[0]})") from None

    return call


def cuda_ops() -> device.DeviceOps:
    """Moving NumPy arrays to a CUDA device as tensors and back."""
    import torch

    def to_device(a: np.ndarray) -> Any:
        # torch refuses negative strides; a contiguous copy is what goes to the device anyway.
        return torch.as_tensor(np.ascontiguousarray(a), device="cuda")

    def to_host(t: Any) -> np.ndarray:
        return t.detach().cpu().numpy()

    return device.DeviceOps(
        is_device_array=lambda v: isinstance(v, torch.Tensor) and v.is_cuda,
        to_device=to_device,
        to_host=to_host,
        synchronize=torch.cuda.synchronize,
    )


@functools.lru_cache(maxsize=1)
def _cuda_status() -> Availability:
    try:
        build = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return Availability(False, "torch is not installed")
    if "+cpu" in build:
        return Availability(False, f"this torch ({build}) is a CPU-only build")
    try:
        import torch
    except Exception as exc:  # a broken install is a reason, not an error
        return Availability(False, f"torch cannot be imported: {type(exc).__name__}: {exc}")
    if not torch.cuda.is_available():
        return Availability(False, "torch sees no CUDA device (torch.cuda.is_available() is False)")
    return Availability(True)


class TorchBackend:
    """Emits and loads ``torch.compile`` variants of array-style NumPy functions."""

    name = "torch"
    #: A call on inputs of a length not seen yet (0 and 1 are specialized) compiles a graph, and
    #: may start Inductor's compile-worker threads then: the verifier takes those as the
    #: runtime's (``hotpath.runner.worker``). The traced code itself cannot start a thread:
    #: ``fullgraph=True`` fails on anything it cannot trace.
    compiles_on_call = True

    def availability(self) -> Availability:
        # find_spec only: importing torch costs seconds, and is paid in the sandbox instead.
        if importlib.util.find_spec("torch") is None:
            return Availability(False, "torch is not installed (pip install 'hotpath[torch]'; "
                                       "for a CPU-only build: pip install torch==2.13.0)")
        return Availability(True)

    def propose(self, fs: FunctionSource, signature: Signature, config: Config,
                kernels_dir: Path) -> list[Candidate | Skipped]:
        if not signature.arrays:
            return [Skipped(self.name, "torch", "no array arguments: torch.compile speeds up array "
                                                "operations, not scalar Python")]
        style = array_style.classify(fs.tree)
        if not style.array:
            return [Skipped(self.name, "torch", f"not array-style code: {style.reason}; torch.compile "
                                                "would unroll it into one graph node per element, which "
                                                "cannot beat the original (the Numba candidates cover loops)")]
        namespace = pickle_namespace(injected_values(fs))
        out: list[Candidate | Skipped] = [self._candidate(fs, "torch", {"device": "cpu"}, namespace, kernels_dir)]
        cuda = _cuda_status() if importlib.util.find_spec("torch") else Availability(False, "torch absent")
        if cuda.ok:
            out.append(self._candidate(fs, "torch-cuda", {"device": "cuda"}, namespace, kernels_dir))
        else:
            out.append(Skipped(self.name, "torch-cuda", f"no CUDA for torch: {cuda.reason}"))
        return out

    def _candidate(self, fs: FunctionSource, name: str, options: dict[str, Any], namespace: bytes,
                   kernels_dir: Path) -> Candidate:
        source = emit(fs, name, options)
        path = write_module(kernels_dir, f"{fs.module}.{fs.qualname}", name, source, namespace)
        notes: tuple[str, ...] = ("torch.compile(fullgraph=True, dynamic=True) of the unchanged NumPy code: one "
                                  "graph for every array length",)
        if options["device"] == "cuda":
            notes += ("arrays move to the GPU and back on every call; written arguments are copied back",)
        return Candidate(self.name, name, tuple(sorted(options.items())), source, ENTRY, path, namespace, notes)

    def refine(self, fs: FunctionSource, candidate: Candidate, failure: Failure,
               kernels_dir: Path) -> Candidate | None:
        return None  # no stricter torch variant would fix a disagreement

    def load(self, candidate: Candidate) -> Callable[..., Any]:
        module = load_module(candidate.path, candidate.namespace)
        return getattr(module, candidate.entry)

    def prepare(self, variant: Callable[..., Any], args: Sequence[object]) -> None:
        """Compile now (seconds), on copies: the call may write its arguments."""
        try:
            variant(*copy.deepcopy(tuple(args)))
        except Exception as exc:
            raise RuntimeError(describe_failure(exc)) from None

    def binaries(self, candidate: Candidate) -> tuple[Path, ...]:
        return ()  # compiled in the process that loads it

    def build(self, candidate: Candidate) -> bool:
        return False  # nothing is built ahead: it compiles in the process that loads it

    def invocation_errors(self) -> tuple[type[BaseException], ...]:
        return ()  # torch recompiles for new argument types instead of refusing them

    def measure_parts(self, variant: Callable[..., Any], args: Sequence[object]) -> dict[str, float]:
        return device.measure_parts(variant, args)

    def synchronize(self) -> None:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()


def describe_failure(exc: BaseException) -> str:
    """torch's error in a line or three: graph breaks and compiler failures named as such."""
    kind = type(exc).__name__
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    head = " ".join(lines[:3])[:600]
    if kind in ("Unsupported", "UserError") or "graph break" in head.lower():
        return f"graph break: torch.compile cannot trace this code into one graph ({kind}: {head})"
    if kind in ("BackendCompilerFailed", "InductorError"):
        return f"torch.compile failed in its compiler backend ({kind}: {head})"
    return f"{kind}: {head}"


def emit(fs: FunctionSource, name: str, options: dict[str, Any]) -> str:
    """The generated module: the function and its helpers as written, compiled by torch."""
    lines = [
        f"# hotpath candidate {name!r} for {fs.module}.{fs.qualname} (from {fs.filename})",
        "# Generated from the function's source; the original is never modified.",
        "# torch.compile traces the NumPy code below with torch's NumPy interop and fuses it.",
    ]
    injected = sorted(injected_values(fs))
    if injected:
        lines.append(f"# Bound by hotpath before import (values, not importable): {', '.join(injected)}")
    lines += ["import torch", "from hotpath.kernels.torch_backend import numpy_errors as _hotpath_numpy_errors",
              "from hotpath.kernels.torch_backend import numpy_result as _hotpath_numpy_result"]
    lines += import_lines(module_imports(fs))
    for helper in list(fs.walk())[1:]:
        lines += ["", "", helper.source]
    lines += ["", "", ast.unparse(fs.tree), "", ""]
    if options["device"] == "cuda":
        written = array_style.written_params(fs.tree)
        positions = sorted(i for i, p in enumerate(fs.params) if p in written)
        lines += [
            "from hotpath.kernels import device as _hotpath_device",
            "from hotpath.kernels.torch_backend import cuda_ops as _hotpath_cuda_ops",
            "",
            "# wrap_numpy: the compiled function takes and returns tensors, which live on the GPU.",
            f"_hotpath_compiled = _hotpath_numpy_errors(torch.compile(torch.compiler.wrap_numpy({fs.name}), "
            "fullgraph=True, dynamic=True))",
            f"# Arguments the function may write (copied back to the caller's arrays): {positions}",
            f"{ENTRY} = _hotpath_device.DeviceCall(_hotpath_compiled, _hotpath_cuda_ops(), {positions!r})",
            "",
        ]
    else:
        lines += [
            "# dynamic=True: one graph for every length (the verification inputs differ from the captured ones).",
            f"_hotpath_compiled = _hotpath_numpy_errors(torch.compile({fs.name}, fullgraph=True, dynamic=True))",
            "",
            "",
            f"def {ENTRY}(*args):",
            "    return _hotpath_numpy_result(_hotpath_compiled(*args))",
            "",
        ]
    return "\n".join(lines)


BACKEND = TorchBackend()
