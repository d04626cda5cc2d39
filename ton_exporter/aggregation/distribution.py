"""A cumulative distribution of observations: classic histogram buckets, sum and count."""

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from functools import reduce
from operator import add
from typing import Any

from ton_exporter.aggregation.buckets import LATENCY_BUCKETS


class Distribution:
    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # buckets are "less than or equal"
        self.sum += value
        self.count += 1

    def observe_many(self, values: list[float]) -> None:
        """`observe` each value; sorts once instead of searching the buckets per value."""
        values.sort()
        below = 0
        counts = self.counts
        for i, bound in enumerate(self.bounds):
            at_or_below = bisect_right(values, bound)
            counts[i] += at_or_below - below
            below = at_or_below
        counts[-1] += len(values) - below
        self.sum += sum(values)
        self.count += len(values)

    def observe_all(self, values: Sequence[float], names: Sequence[object]) -> list[tuple[int, int]]:
        """`observe` each value in order (the sum adds them in that order, as `observe` would); return, per
        bucket that got a value with a name (not None), (bucket, index of its largest such value, the first
        of equal ones): the exemplar candidates. One sort, then two bisections per bucket that gets a value."""
        everything_named = None not in names
        if everything_named:
            ordered = sorted(values)
            order: list[int] = []
        else:
            order = sorted(range(len(values)), key=values.__getitem__)  # stable: equal values keep their order
            ordered = [values[i] for i in order]
        bounds, counts, n = self.bounds, self.counts, len(ordered)
        slowest: list[tuple[int, int]] = []
        below = 0
        while below < n:
            k = bisect_left(bounds, ordered[below])  # the bucket of the smallest value not counted yet
            upto = bisect_right(ordered, bounds[k], below) if k < len(bounds) else n  # buckets are "<="
            counts[k] += upto - below
            if everything_named:
                slowest.append((k, values.index(ordered[upto - 1])))  # the first of the largest in the bucket
            else:
                named = _largest_named(ordered, order, names, below, upto)
                if named is not None:
                    slowest.append((k, named))
            below = upto
        self.sum = reduce(add, values, self.sum)
        self.count += n
        return slowest

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "sum": self.sum, "count": self.count}

    def restore(self, data: dict[str, Any]) -> None:
        counts = [int(n) for n in data["counts"]]
        if len(counts) == len(self.counts):
            self.counts = counts
            self.sum = float(data["sum"])
            self.count = int(data["count"])


def _largest_named(ordered: list[float], order: list[int], names: Sequence[object], lo: int, hi: int) -> int | None:
    """Index (into the unsorted values) of the largest of `ordered[lo:hi]` whose name is not None, the first of
    equal ones: the one keeping the largest observation by observation (only a larger one replaces) keeps."""
    j = hi - 1
    while j >= lo and names[order[j]] is None:
        j -= 1
    if j < lo:
        return None
    found, value = j, ordered[j]
    j -= 1
    while j >= lo and ordered[j] == value:
        if names[order[j]] is not None:
            found = j
        j -= 1
    return order[found]
