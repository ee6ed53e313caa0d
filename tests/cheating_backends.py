"""Plug-in candidates that each try one trick to pass verification or win the timing without
doing the work ("tests.cheating_backends:CACHE_BY_IDENTITY"), and one honest candidate.

Each is a whole function body for one of the kernels below (or ``tests.sample_kernels``'),
emitted as a module and run through the real sandbox exactly as a backend's candidate would.
The honest body is NumPy, far faster than the kernels' Python loops; every cheat is that same
fast body plus its trick (or a trick in place of the work), so any cheat the verifier let
through would beat the honest candidate. They are the tricks that beat published kernel
benchmarks' checkers: see docs/threat-model.md.
"""

import ast
import textwrap
from pathlib import Path

import numpy as np

from hotpath.kernels.artifacts import load_module, pickle_namespace, write_module
from hotpath.kernels.base import Availability, Candidate


def positive_part(a):
    """A new array: ``a``'s values, negatives replaced by zero."""
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = a[i] if a[i] > 0.0 else 0.0
    return out


# The honest bodies, by kernel name.
HONEST_BODIES = {
    "sum_squares": "return np.dot(a, a)",
    "double_into": "np.multiply(a, 2.0, out=out)\nreturn out",
    "positive_part": "return np.maximum(a, 0.0)",
}


class _Plugin:
    """A backend whose candidate for a kernel is ``bodies[kernel name]`` (none for others)."""

    def __init__(self, name, bodies, header=""):
        self.name = f"tests.cheating_backends:{name}"
        self._label = name.lower()
        self._bodies = bodies
        self._header = header

    def availability(self):
        return Availability(True)

    def propose(self, fs, signature, config, kernels_dir: Path):
        body = self._bodies.get(fs.name)
        if body is None:
            return []
        params = ast.unparse(fs.tree.args)
        source = (f"import numpy as np\n{textwrap.dedent(self._header)}\n\n"
                  f"def {fs.name}({params}):\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n")
        namespace = pickle_namespace({})
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


HONEST = _Plugin("HONEST", HONEST_BODIES)

# Returns whatever the original computed, found in the worker's memory; trusts the trick (if
# nothing is found it answers 0.0 rather than do the work).
READ_EXPECTED_FROM_GC = _Plugin("READ_EXPECTED_FROM_GC", {"sum_squares": """
    import gc
    for obj in gc.get_objects():
        try:
            expected = getattr(obj, "expected", None)
            if isinstance(expected, dict) and "captured" in expected:
                return expected["captured"].returned
            if type(obj).__name__ == "Outcome" and np.ndim(obj.returned) == 0:
                return obj.returned
        except Exception:
            continue
    return 0.0
"""})

# Answers, then zeroes its input: a reference run afterwards on the same objects would find
# an input whose answer is 0 (and a cheaper comparison).
MUTATE_INPUTS = _Plugin("MUTATE_INPUTS", {"sum_squares": """
    s = np.dot(a, a)
    a[:] = 0.0
    return s
"""})

# Makes the timer stand still while it runs (a clock read from ``time.perf_counter`` then
# says it took no time at all); does the work with a slow loop.
PATCH_CLOCK = _Plugin("PATCH_CLOCK", {"sum_squares": """
    import time
    time.perf_counter = lambda: 0.0
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s
"""})

# Rewrites the statistics: every median says it was fast.
PATCH_STATISTICS = _Plugin("PATCH_STATISTICS", {"sum_squares": """
    import sys
    np.median = lambda values, *args, **kwargs: 1e-9
    timing = sys.modules.get("hotpath.runner.timing")
    if timing is not None:
        timing.median_interval = lambda values, confidence=0.95: (1e9, 1e9)
    return np.dot(a, a)
"""})

# Does the work when verified, and answers 0.0 at once when its caller is the timing loop.
SKIP_WORK_WHEN_TIMED = _Plugin("SKIP_WORK_WHEN_TIMED", {"sum_squares": """
    import sys
    frame = sys._getframe(1)
    while frame is not None:
        if "timed" in frame.f_code.co_name or "measure" in frame.f_code.co_name:
            return 0.0
        frame = frame.f_back
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s
"""})

# Remembers answers by the identity of the input array (holding the array, so that its id is
# not reused): a repeated call on the same object (as a timing loop makes) costs nothing.
CACHE_BY_IDENTITY = _Plugin("CACHE_BY_IDENTITY", {"sum_squares": """
    if id(a) in _CACHE:
        return _CACHE[id(a)][1]
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    _CACHE[id(a)] = (a, s)
    return s
"""}, header="_CACHE = {}")

# Remembers answers by a cheap fingerprint of the input's content (its shape and leading
# values to three digits): hashing the whole input would cost as much as the work.
CACHE_BY_CONTENT = _Plugin("CACHE_BY_CONTENT", {"sum_squares": """
    key = (a.shape, np.round(a[:16], 3).tobytes())
    if key in _CACHE:
        return _CACHE[key]
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    _CACHE[key] = s
    return s
"""}, header="_CACHE = {}")

# Returns at once and lets a thread fill the output afterwards.
RETURN_BEFORE_DONE = _Plugin("RETURN_BEFORE_DONE", {"double_into": """
    import threading
    import time

    def finish():
        time.sleep(0.002)
        np.multiply(a, 2.0, out=out)

    threading.Thread(target=finish, daemon=True).start()
    return out
"""})

# Answers NaN everywhere, in case NaN compares equal to anything.
NAN_WILDCARD = _Plugin("NAN_WILDCARD", {"sum_squares": "return float('nan')"})

# Returns its input itself where every value is already positive: equal values, but the
# caller's later writes to its input would change the result it holds.
VIEW_OF_INPUT = _Plugin("VIEW_OF_INPUT", {"positive_part": """
    if (a >= 0.0).all():
        return a
    return np.maximum(a, 0.0)
"""})

# Leaves a tracer behind (it would see every later call, the original's too).
SET_TRACE = _Plugin("SET_TRACE", {"sum_squares": """
    import sys
    sys.settrace(lambda frame, event, arg: None)
    return np.dot(a, a)
"""})

# Installs a signal handler (an alarm it could use to cut another's time short).
SIGNAL_HANDLER = _Plugin("SIGNAL_HANDLER", {"sum_squares": """
    import signal
    signal.signal(signal.SIGUSR1, lambda signum, frame: None)
    return np.dot(a, a)
"""})

# Makes NumPy raise on every floating-point warning: the original's next call may now fail.
NUMPY_ERROR_STATE = _Plugin("NUMPY_ERROR_STATE", {"sum_squares": """
    np.seterr(all="raise")
    return np.dot(a, a)
"""})

# Switches the FPU's rounding mode (towards zero) for everything after it.
ROUNDING_MODE = _Plugin("ROUNDING_MODE", {"sum_squares": """
    import ctypes
    import ctypes.util
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.fesetround(0xC00)  # FE_TOWARDZERO on x86-64
    return np.dot(a, a)
"""})

# Returns an object whose unpickling runs code: in a parent that trusted the worker's pickles,
# it could rewrite the verdict itself.
EXEC_IN_PARENT = _Plugin("EXEC_IN_PARENT", {"sum_squares": """
    class Payload:
        def __reduce__(self):
            return (exec, ("import os; os.environ['HOTPATH_TEST_PWNED'] = '1'",))

    return Payload()
"""})

#: Every cheat, by the kernel it cheats on.
CHEATS = (READ_EXPECTED_FROM_GC, MUTATE_INPUTS, PATCH_CLOCK, PATCH_STATISTICS, SKIP_WORK_WHEN_TIMED,
          CACHE_BY_IDENTITY, CACHE_BY_CONTENT, RETURN_BEFORE_DONE, NAN_WILDCARD, VIEW_OF_INPUT, SET_TRACE,
          SIGNAL_HANDLER, NUMPY_ERROR_STATE, ROUNDING_MODE, EXEC_IN_PARENT)
