"""Per-(node, workchain, shard) state for collated or validated blocks.

Rows are kept as the parsers made them, in one buffer per 60 s window. They are turned into columns in bulk
(columns.py) and folded column by column with builtins that run in C (`sum`, `sorted`, `bisect`): into the
cumulative totals when a scrape asks for them, a window is forgotten, or enough rows are pending; into window
statistics only for the window a scrape shows. NaN means "no value" and is skipped everywhere.
"""

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ton_exporter.aggregation.columns import BUILDERS
from ton_exporter.aggregation.measures import COLUMNS_BY_SOURCE, QUANTILE_AGGS, measures_of
from ton_exporter.aggregation.quantiles import QUANTILES, quantile
from ton_exporter.aggregation.series_bounds import ACTIONS_PER_WINDOW, OTHER
from ton_exporter.parsers.perflog import action_durations
from ton_exporter.parsers.session_stats import BlockRow

FOLD_ROWS = 4096


class Layout:
    """What one source's measures need from its columns, resolved once."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.build = BUILDERS[source]
        self.summed: list[str] = []
        self.buckets: dict[str, tuple[float, ...]] = {}
        self.categorical: list[str] = []
        self.windowed: list[str] = []
        self.quantiled: set[str] = set()  # columns whose window gauges show exact quantiles
        for m in measures_of(source):
            for column in m.columns.values():
                if column not in self.summed:
                    self.summed.append(column)
                if m.buckets is not None:
                    self.buckets[column] = m.buckets
                if m.categories is not None:
                    self.categorical.append(column)
                if m.window and column not in self.windowed:
                    self.windowed.append(column)
                if set(QUANTILE_AGGS) & set(m.window):
                    self.quantiled.add(column)
        if source == "validated":
            self.summed.append("invalid")
            self.windowed.append("invalid")
        assert set(self.summed) <= set(COLUMNS_BY_SOURCE[source])


LAYOUTS = {source: Layout(source) for source in COLUMNS_BY_SOURCE}


@dataclass(slots=True)
class Summary:
    """count, sum, min, max of the non-NaN values of one column or one sparse key, and their exact quantiles
    (QUANTILES) where the measure shows them."""

    count: int
    sum: float
    min: float
    max: float
    quantiles: tuple[float, ...] = ()


def summarize(values: Sequence[float], quantiles: bool = False) -> Summary | None:
    total = sum(values)
    if total != total:
        values = [v for v in values if v == v]
        total = sum(values)
    if not values:
        return None
    if quantiles:
        ordered = sorted(values)
        return Summary(len(ordered), total, ordered[0], ordered[-1], tuple(quantile(ordered, q) for q in QUANTILES))
    return Summary(len(values), total, min(values), max(values))


@dataclass(slots=True)
class WindowBuffer:
    """The rows of one window, kept until no gauge can show the window again; `folded` of them are already in
    the cumulative totals."""

    rows: list[BlockRow] = field(default_factory=list)
    folded: int = 0


# The latency columns whose histogram buckets carry an exemplar naming the slowest block in them.
EXEMPLAR_COLUMNS = ("total_time",)
Exemplar = tuple[float, str, float]
"""(seconds, the block as workchain:shard:seqno, its event time)"""


@dataclass(slots=True)
class WindowStats:
    rows: int
    columns: dict[str, Summary]
    sparse: dict[str, dict[str, Summary]]


class BlockGroup:
    """Cumulative and windowed state of one kind of block rows for one (node, workchain, shard)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.rows = 0
        self.count: Counter[str] = Counter()
        self.sum: dict[str, float] = dict.fromkeys(layout.summed, 0.0)
        self.buckets = {name: [0] * (len(bounds) + 1) for name, bounds in layout.buckets.items()}
        self.categories: dict[str, Counter[int]] = {name: Counter() for name in layout.categorical}
        # Per bucket of a latency histogram, the slowest block that fell in it: (seconds, "wc:shard:seqno", time).
        # OpenMetrics exemplars; not saved across restarts (they name blocks, not totals).
        self.exemplars: dict[str, list[Exemplar | None]] = {
            name: [None] * (len(layout.buckets[name]) + 1) for name in EXEMPLAR_COLUMNS if name in layout.buckets
        }
        self.limit_hits: Counter[str] = Counter()
        self.windows: dict[int, WindowBuffer] = {}
        self._late = WindowBuffer()  # rows for no window: folded, then dropped
        self._window_cache: tuple[tuple[int, int], WindowStats] | None = None

    def add(self, row: BlockRow, window: int | None) -> None:
        if window is None:
            buffer = self._late
        else:
            found = self.windows.get(window)
            buffer = found if found is not None else self.windows.setdefault(window, WindowBuffer())
        buffer.rows.append(row)
        if row.limit_log:
            self.limit_hits.update(row.limit_log)
        if len(buffer.rows) - buffer.folded >= FOLD_ROWS:
            self._fold(buffer)

    def flush(self) -> None:
        """Fold every row not yet counted into the cumulative totals, histograms and category counts."""
        for buffer in self.windows.values():
            self._fold(buffer)
        self._fold(self._late)
        self._late = WindowBuffer()

    def prune(self, oldest_kept: int) -> None:
        for window in [w for w in self.windows if w < oldest_kept]:
            self._fold(self.windows.pop(window))

    def _fold(self, buffer: WindowBuffer) -> None:
        rows = buffer.rows[buffer.folded :]
        if not rows:
            return
        buffer.folded = len(buffer.rows)
        self.rows += len(rows)
        columns = self.layout.build(rows)
        for name in self.layout.summed:
            self._fold_column(name, columns[name])
        for name, slowest in self.exemplars.items():
            self._fold_exemplars(name, columns[name], rows, slowest)

    def _fold_exemplars(
        self, name: str, column: Sequence[float], rows: list[BlockRow], slowest: "list[Exemplar | None]"
    ) -> None:
        bounds = self.layout.buckets[name]
        for value, row in zip(column, rows, strict=True):
            if value != value or row.seqno is None:
                continue
            k = bisect_left(bounds, value)
            kept = slowest[k]
            if kept is None or value > kept[0]:
                slowest[k] = (value, f"{row.workchain}:{row.shard}:{row.seqno}", row.time)

    def _fold_column(self, name: str, column: Sequence[float]) -> None:
        total = sum(column)
        if total != total:
            column = [v for v in column if v == v]
            total = sum(column)
        self.count[name] += len(column)
        self.sum[name] += total
        bounds = self.layout.buckets.get(name)
        if bounds is not None:  # sort once, then two bisections per bucket that gets values, not one per value
            ordered = sorted(column)
            counts = self.buckets[name]
            below, n = 0, len(ordered)
            while below < n:
                k = bisect_left(bounds, ordered[below])  # the bucket of the smallest value not counted yet
                upto = bisect_right(ordered, bounds[k], below) if k < len(bounds) else n  # buckets are "<="
                counts[k] += upto - below
                below = upto
        categories = self.categories.get(name)
        if categories is not None:
            categories.update(map(int, column))

    def to_json(self) -> dict[str, object]:
        """The cumulative state (call `flush` first). Window buffers are not kept across restarts."""
        return {
            "rows": self.rows,
            "count": dict(self.count),
            "sum": self.sum,
            "buckets": self.buckets,
            "categories": {name: {str(k): n for k, n in c.items()} for name, c in self.categories.items()},
            "limit_hits": dict(self.limit_hits),
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.rows = int(data["rows"])
        self.count.update({k: int(v) for k, v in data["count"].items()})
        for name, total in data["sum"].items():
            if name in self.sum:
                self.sum[name] = float(total)
        for name, counts in data["buckets"].items():
            if name in self.buckets and len(counts) == len(self.buckets[name]):
                self.buckets[name] = [int(n) for n in counts]
        for name, counts in data["categories"].items():
            if name in self.categories:
                self.categories[name].update({int(k): int(n) for k, n in counts.items()})
        self.limit_hits.update({k: int(n) for k, n in data["limit_hits"].items()})

    def window_stats(self, window: int) -> WindowStats | None:
        buffer = self.windows.get(window)
        if buffer is None or not buffer.rows:
            return None
        key = (window, len(buffer.rows))
        if self._window_cache is not None and self._window_cache[0] == key:
            return self._window_cache[1]
        columns = self.layout.build(buffer.rows)
        summaries = {}
        quantiled = self.layout.quantiled
        for name in self.layout.windowed:
            summary = summarize(columns[name], name in quantiled)
            if summary is not None:
                summaries[name] = summary
        stats = WindowStats(len(buffer.rows), summaries, _sparse(buffer.rows))
        self._window_cache = (key, stats)
        return stats


def _sparse(rows: list[BlockRow]) -> dict[str, dict[str, Summary]]:
    actions: dict[str, list[float]] = {}
    for row in rows:
        try:
            per_action = action_durations(row.perflog)
        except ValueError:
            continue  # counted when the line was read
        for name, v in per_action.items():
            kept = name in actions or len(actions) < ACTIONS_PER_WINDOW  # a window's actions (series_bounds.py)
            actions.setdefault(name if kept else OTHER, []).append(v)
    limits = summarize([x for r in rows for x in r.msg_limits])
    hits = Counter(kind for r in rows for kind in r.limit_log)
    return {
        "actions": {k: Summary(len(vs), sum(vs), min(vs), max(vs)) for k, vs in actions.items()},
        "limit_log": {k: Summary(n, n, 1, 1) for k, n in hits.items()},
        "msg_limits": {"": limits} if limits is not None else {},
    }
