"""A cumulative distribution of observations: classic histogram buckets, sum and count."""

from bisect import bisect_left, bisect_right
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

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "sum": self.sum, "count": self.count}

    def restore(self, data: dict[str, Any]) -> None:
        counts = [int(n) for n in data["counts"]]
        if len(counts) == len(self.counts):
            self.counts = counts
            self.sum = float(data["sum"])
            self.count = int(data["count"])
