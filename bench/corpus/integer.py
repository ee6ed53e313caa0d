"""Integer kernels. Python ints never overflow; int64 in compiled code does."""

_HASH_BASE = 131
_HASH_MODULUS = (1 << 61) - 1
_UNREACHABLE = 10**12


def polynomial_hash_loops(tokens):
    """Polynomial rolling hash of a token-id sequence modulo the Mersenne prime 2**61 - 1.

    The intermediate ``h * 131`` exceeds 2**63, so this needs Python's unbounded ints.
    """
    h = 0
    for i in range(tokens.shape[0]):
        h = (h * _HASH_BASE + int(tokens[i])) % _HASH_MODULUS
    return h


def weighted_mean_timestamp_loops(counts, timestamps_ns):
    """Exact count-weighted mean of nanosecond timestamps, floored to an integer ns.

    The weighted sum is far beyond int64 (timestamps are ~1.7e18 ns), the result is not.
    """
    weighted = 0
    total = 0
    for i in range(counts.shape[0]):
        weighted += int(counts[i]) * int(timestamps_ns[i])
        total += int(counts[i])
    if total == 0:
        raise ZeroDivisionError("weighted_mean_timestamp_loops: all counts are zero")
    return weighted // total


def floyd_warshall_loops(weights):
    """All-pairs shortest path lengths on a dense int64 weight matrix.

    Missing edges carry a large sentinel weight (10**12); the input is not modified.
    """
    n = weights.shape[0]
    dist = weights.copy()
    for k in range(n):
        for i in range(n):
            d_ik = dist[i, k]
            if d_ik >= _UNREACHABLE:
                continue
            for j in range(n):
                candidate = d_ik + dist[k, j]
                if candidate < dist[i, j]:
                    dist[i, j] = candidate
    return dist
