"""A process hammering one store: python -m tests.store_worker STATE_DIR WORKER_ID OPERATIONS ARTIFACT.

Each operation is one install (record_tuning with a winner) and, every other time, a rollback;
both write audit entries in the same transaction as the change.
"""

import sys
from pathlib import Path

from hotpath.kernels.base import Candidate
from hotpath.runner.timing import Timing
from hotpath.runner.trials import Trial
from hotpath.store import FunctionId, Store


def main(state_dir: str, worker: str, operations: str, artifact: str) -> None:
    store = Store.at(Path(state_dir))
    fn = FunctionId("stress", f"kernel_{worker}", "k" * 64)
    candidate = Candidate("numba", "numba", (), "", "kernel", Path(artifact), b"ns")
    timing = Timing(1.0, 0.1, 10.0, 9.0, 11.0, 0.95, 6, 1)
    trial = Trial("numba", "numba", "won", "fastest", (), candidate, timing, 0.1, 5)
    for op in range(int(operations)):
        store.record_tuning(fn, "(array(float64, 1d, C))", (trial,), trial)
        if op % 2:
            store.rollback(fn, "(array(float64, 1d, C))", "numba", "stress rollback", {"op": op})
        print(op, flush=True)  # committed


if __name__ == "__main__":
    main(*sys.argv[1:])
