"""Backends that misbehave on purpose, loaded as plug-ins ("tests.fake_backends:CRASH").

Each emits the original function with one line prepended to its body that segfaults, hangs,
allocates without bound or returns a wrong value. They are real candidates run through the
real sandbox, so the tests show what the user's process sees when a variant goes bad.
"""

import ast
from pathlib import Path

from hotpath.kernels.artifacts import load_module, pickle_namespace, write_module
from hotpath.kernels.base import Availability, Candidate
from hotpath.rewriter.source import injected_values, module_imports


class _Misbehaving:
    def __init__(self, name, prologue):
        self.name = f"tests.fake_backends:{name}"
        self._label = name.lower()
        self._prologue = prologue

    def availability(self):
        return Availability(True)

    def propose(self, fs, signature, config, kernels_dir: Path):
        tree = fs.tree
        tree.body[:0] = ast.parse(self._prologue).body
        imports = "\n".join(f"import {m} as {a}" for a, m in module_imports(fs).items())
        source = f"import ctypes\n{imports}\n\n{ast.unparse(tree)}\n"
        namespace = pickle_namespace(injected_values(fs))
        path = write_module(kernels_dir, fs.qualname, self._label, source, namespace)
        return [Candidate(self.name, self._label, (), source, fs.name, path, namespace)]

    def refine(self, fs, candidate, failure, kernels_dir):
        return None

    def load(self, candidate):
        return getattr(load_module(candidate.path, candidate.namespace), candidate.entry)

    def prepare(self, variant, args):
        pass

    def binaries(self, candidate):
        return ()

    def invocation_errors(self):
        return ()


CRASH = _Misbehaving("CRASH", "ctypes.string_at(0)")
HANG = _Misbehaving("HANG", "while True:\n    pass")
HOG = _Misbehaving("HOG", "hog = [bytearray(10**8) for _ in range(10**4)]")
WRONG_SOMETIMES = _Misbehaving("WRONG_SOMETIMES", "if a.shape[0] == 1:\n    return -1.0")


# Fast in the sandbox worker (NumPy instead of the loop), slow anywhere else: the variant that
# wins where it is measured and loses where it would run. For ``double_into(a, out)``.
FAST_ONLY_IN_SANDBOX = _Misbehaving("FAST_ONLY_IN_SANDBOX", """
import sys
import time
if getattr(sys.modules["__main__"].__spec__, "name", None) == "hotpath.runner.worker":
    out[:] = a * 2.0
    return out
time.sleep(0.01)
""")
# Rebinds the tuple argument ``pair`` to one holding a copy of its second array: the writes into
# ``dst`` of ``f((src, dst))`` are lost, as Numba's parallel loops lose them (issue 25).
DROPS_WRITES = _Misbehaving("DROPS_WRITES", "pair = (pair[0], pair[1].copy())")

# Right on the captured call, endless on the size-2 input: the per-input limit ends it in
# seconds, not at the trial's deadline.
HANG_ON_SIZE_2 = _Misbehaving("HANG_ON_SIZE_2", "while a.shape[0] == 2:\n    pass")
