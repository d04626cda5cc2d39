"""What a node's text logs add up to: lines by level and component, and `Broadcast_benchmark` distributions.

All of it is cumulative (counters and histograms, no windows). Labels are bounded: the level is one of td's names,
the component the source file that logged the line (a fixed set per build), and the benchmark labels are the
known op, `called_from` and compression values or `other` (parsers/broadcast_benchmark.py). Block ids, actors,
threads and tags never become labels.
"""

from collections import Counter
from typing import Any

from ton_exporter.aggregation.buckets import BROADCAST_SECONDS_BUCKETS, TIMING_BUCKETS
from ton_exporter.aggregation.distribution import Distribution
from ton_exporter.aggregation.series_bounds import OTHER, SeriesBounds

# Broadcasts range from a few KiB (an empty masterchain block) to a few MiB (a full shard block with proofs).
BYTES_BUCKETS: tuple[float, ...] = tuple(float(2**k) for k in range(10, 24))
# compressed_size / original_size: 1 without compression, about 0.3-0.7 with it.
RATIO_BUCKETS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25)


TimingKey = tuple[str, str, str, str]
"""(side, workchain, outcome, error) of a collation/validation timing line (parsers/timing_lines.py)."""

BenchmarkKey = tuple[str, str, str]
"""(op, called_from, compression) label values."""


class BenchmarkSeries:
    __slots__ = ("compressed", "original", "ratio", "seconds")

    def __init__(self) -> None:
        self.seconds = Distribution(BROADCAST_SECONDS_BUCKETS)
        self.compressed = Distribution(BYTES_BUCKETS)
        self.original = Distribution(BYTES_BUCKETS)  # only lines that log original_size (compressions)
        self.ratio = Distribution(RATIO_BUCKETS)  # only those with original_size > 0

    def observe(self, seconds: float, original: int | None, compressed: int) -> None:
        self.seconds.observe(seconds)
        self.compressed.observe(compressed)
        if original is not None:
            self.original.observe(original)
            if original > 0:
                self.ratio.observe(compressed / original)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name).to_json() for name in self.__slots__}

    def restore(self, data: dict[str, Any]) -> None:
        for name in self.__slots__:
            getattr(self, name).restore(data[name])


class TextLogState:
    def __init__(self, bounds: SeriesBounds | None = None) -> None:
        self.bounds = bounds  # caps the components (series_bounds.py); None: unbounded
        self.lines: Counter[tuple[str, str]] = Counter()  # (level, component)
        self.components: set[str] = set()
        self.continuations = 0
        self.benchmarks: dict[BenchmarkKey, BenchmarkSeries] = {}
        self.timings: dict[TimingKey, Distribution] = {}
        self.certificates: Counter[tuple[str, str]] = Counter()  # (workchain, vote) of certificate lines

    def line_key(self, level: str, component: str) -> tuple[str, str]:
        """The (level, component) a line is counted under: past the cap of distinct components, component="other"
        (each such line counted in the node's overflow, series_bounds.py)."""
        if component not in self.components:
            bounds = self.bounds
            if bounds is not None and len(self.components) >= bounds.limits.max_label_values:
                bounds.count_overflow("component", component)
                return (level, OTHER)
            self.components.add(component)
        return (level, component)

    def timing(self, key: TimingKey) -> Distribution:
        distribution = self.timings.get(key)
        if distribution is None:
            distribution = self.timings[key] = Distribution(TIMING_BUCKETS)
        return distribution

    def series(self, key: BenchmarkKey) -> BenchmarkSeries:
        series = self.benchmarks.get(key)
        if series is None:
            series = self.benchmarks[key] = BenchmarkSeries()
        return series

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": [[level, component, n] for (level, component), n in self.lines.items()],
            "continuations": self.continuations,
            "benchmarks": [[*key, series.to_json()] for key, series in self.benchmarks.items()],
            "timings": [[*key, distribution.to_json()] for key, distribution in self.timings.items()],
            "certificates": [[*key, n] for key, n in self.certificates.items()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        for level, component, n in data["lines"]:
            self.lines[(str(level), str(component))] += int(n)
            self.components.add(str(component))
        self.continuations += int(data["continuations"])
        for op, called_from, compression, series in data["benchmarks"]:
            self.series((str(op), str(called_from), str(compression))).restore(series)
        for side, workchain, outcome, error, distribution in data.get("timings", []):  # absent before issue 18
            self.timing((str(side), str(workchain), str(outcome), str(error))).restore(distribution)
        for workchain, vote, n in data.get("certificates", []):  # absent before LOG-10
            self.certificates[(str(workchain), str(vote))] += int(n)
