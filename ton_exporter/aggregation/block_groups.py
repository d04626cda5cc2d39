"""Per-(node, workchain, shard) state for collated or validated blocks.

Rows arrive as fixed-width tuples. They are kept as they are and folded in bulk, column by column, with builtins
(`sum`, `min`, `max`, `bisect`) that run in C: cumulative totals and histogram buckets when a scrape asks for them
or enough rows are pending, window statistics only for the window a scrape shows. NaN means "no value" and is
skipped everywhere.
"""

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

from ton_exporter.aggregation.measures import COLUMNS_BY_SOURCE, measures_of
from ton_exporter.parsers.session_stats import BlockRow

FLUSH_ROWS = 2048


class Layout:
    """Which columns of a source need histograms or category counts, resolved once."""

    def __init__(self, source: str) -> None:
        columns = COLUMNS_BY_SOURCE[source]
        self.source = source
        self.index = {name: i for i, name in enumerate(columns)}
        self.width = len(columns)
        self.buckets: dict[int, tuple[float, ...]] = {}
        self.categorical: list[int] = []
        for m in measures_of(source):
            for column in m.columns.values():
                if m.buckets is not None:
                    self.buckets[self.index[column]] = m.buckets
                if m.categories is not None:
                    self.categorical.append(self.index[column])


LAYOUTS = {source: Layout(source) for source in COLUMNS_BY_SOURCE}


@dataclass(slots=True)
class Summary:
    """count, sum, min, max of the non-NaN values of one column or one sparse key."""

    count: int
    sum: float
    min: float
    max: float


def summarize(values: "list[float] | tuple[float, ...]") -> Summary | None:
    total = sum(values)
    if total != total:
        values = [v for v in values if v == v]
        if not values:
            return None
        total = sum(values)
    if not values:
        return None
    return Summary(len(values), total, min(values), max(values))


@dataclass(slots=True)
class WindowBuffer:
    """The rows of one window, kept until no gauge can show the window again. `folded_*` count the rows already
    in the cumulative totals."""

    rows: list[tuple[float, ...]] = field(default_factory=list)
    actions: list[dict[str, float]] = field(default_factory=list)
    msg_limits: list[float] = field(default_factory=list)
    limit_log: list[str] = field(default_factory=list)
    folded_rows: int = 0
    folded_actions: int = 0


@dataclass(slots=True)
class WindowStats:
    rows: int
    columns: dict[int, Summary]
    sparse: dict[str, dict[str, Summary]]


def _sparse_summaries(per_row: list[dict[str, float]]) -> dict[str, Summary]:
    values: dict[str, list[float]] = {}
    for entry in per_row:
        for key, v in entry.items():
            values.setdefault(key, []).append(v)
    return {k: Summary(len(vs), sum(vs), min(vs), max(vs)) for k, vs in values.items()}


class BlockGroup:
    """Cumulative and windowed state of one kind of block rows for one (node, workchain, shard)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        width = layout.width
        self.rows = 0
        self.count = [0] * width
        self.sum = [0.0] * width
        self.buckets = {i: [0] * (len(bounds) + 1) for i, bounds in layout.buckets.items()}
        self.categories: dict[int, Counter[int]] = {i: Counter() for i in layout.categorical}
        self.action_sum: dict[str, float] = {}
        self.action_count: Counter[str] = Counter()
        self.limit_hits: Counter[str] = Counter()
        self.windows: dict[int, WindowBuffer] = {}
        self._late = WindowBuffer()  # rows for no window: folded, then dropped
        self._window_cache: tuple[tuple[int, int], WindowStats] | None = None

    def add(self, row: BlockRow, window: int | None) -> None:
        if window is None:
            buffer = self._late
        else:
            buffer = self.windows.get(window)  # type: ignore[assignment]
            if buffer is None:
                buffer = self.windows[window] = WindowBuffer()
        buffer.rows.append(row.values)
        if row.actions:
            buffer.actions.append(row.actions)
        if row.msg_limits:
            buffer.msg_limits.extend(row.msg_limits)
        if row.limit_log:
            buffer.limit_log.extend(row.limit_log)
            self.limit_hits.update(row.limit_log)
        if len(buffer.rows) - buffer.folded_rows >= FLUSH_ROWS:
            self._fold(buffer)

    def flush(self) -> None:
        """Fold every row not yet counted into the cumulative totals, histograms and category counts."""
        for buffer in self.windows.values():
            self._fold(buffer)
        self._fold(self._late)
        self._late = WindowBuffer()

    def _fold(self, buffer: WindowBuffer) -> None:
        rows = buffer.rows[buffer.folded_rows :] if buffer.folded_rows else buffer.rows
        if rows:
            buffer.folded_rows = len(buffer.rows)
            self.rows += len(rows)
            for i, column in enumerate(zip(*rows, strict=True)):
                self._fold_column(i, column)
        actions = buffer.actions[buffer.folded_actions :]
        buffer.folded_actions = len(buffer.actions)
        for entry in actions:
            self.action_count.update(entry.keys())
            for name, seconds in entry.items():
                self.action_sum[name] = self.action_sum.get(name, 0.0) + seconds

    def _fold_column(self, i: int, column: "tuple[float, ...] | list[float]") -> None:
        total = sum(column)
        if total != total:
            column = [v for v in column if v == v]
            total = sum(column)
        self.count[i] += len(column)
        self.sum[i] += total
        bounds = self.layout.buckets.get(i)
        if bounds is not None:  # sort once, then one bisection per bucket instead of one per value
            ordered = sorted(column)
            counts = self.buckets[i]
            below = 0
            for k, bound in enumerate(bounds):
                upto = bisect_right(ordered, bound)  # Prometheus buckets are "less than or equal"
                counts[k] += upto - below
                below = upto
            counts[-1] += len(ordered) - below
        categories = self.categories.get(i)
        if categories is not None:
            categories.update(map(int, column))

    def window_stats(self, window: int) -> WindowStats | None:
        buffer = self.windows.get(window)
        if buffer is None or not buffer.rows:
            return None
        key = (window, len(buffer.rows))
        if self._window_cache is not None and self._window_cache[0] == key:
            return self._window_cache[1]
        columns = {}
        for i, column in enumerate(zip(*buffer.rows, strict=True)):
            summary = summarize(column)
            if summary is not None:
                columns[i] = summary
        sparse = {
            "actions": _sparse_summaries(buffer.actions),
            "limit_log": {k: Summary(n, n, 1, 1) for k, n in Counter(buffer.limit_log).items()},
        }
        limits = summarize(buffer.msg_limits)
        sparse["msg_limits"] = {"": limits} if limits is not None else {}
        stats = WindowStats(len(buffer.rows), columns, sparse)
        self._window_cache = (key, stats)
        return stats

    def prune(self, oldest_kept: int) -> None:
        for window in [w for w in self.windows if w < oldest_kept]:
            self._fold(self.windows.pop(window))
