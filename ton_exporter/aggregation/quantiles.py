"""Exact quantiles of a window's values, for the `p50`, `p95` and `p99` window gauges.

The definition is the one of numpy's default, R's type 7 and spreadsheets' PERCENTILE.INC: the value at rank
q * (n - 1) of the sorted values, interpolated linearly between the two values around it. So p50 of an even
count is the mean of the middle two, p0 is the minimum and p100 the maximum; a window of one value shows it for
every quantile. With few values (a 60 s window holds 25-150 slots or blocks on a busy network) p99 lies between
the two largest.
"""

from collections.abc import Sequence

QUANTILES = (0.5, 0.95, 0.99)


def quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0 <= q <= 1) of `ordered`, a non-empty ascending sequence."""
    rank = q * (len(ordered) - 1)
    below = int(rank)
    if below + 1 >= len(ordered):
        return ordered[-1]
    return ordered[below] + (rank - below) * (ordered[below + 1] - ordered[below])
