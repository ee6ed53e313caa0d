"""The tests' notion of "returns what the original returns": hotpath's own comparison at its
default tolerance (exact for integers, booleans, dtypes and shapes; 1e-9 relative for float64,
which a parallel sum that reassociates needs)."""

from hotpath.runner.compare import Tolerance, difference

DEFAULT = Tolerance(None, 0.0)


def agrees(got, want) -> bool:
    found = difference(want, got, DEFAULT)
    assert found is None, found
    return True
