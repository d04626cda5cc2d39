"""The `/metrics` families, computed at scrape time from the aggregation state.

Label order everywhere: node, run, workchain, shard, then the measure's own labels. Series with bounded, known
label values (categories, reject reasons, event types) are exported from zero so that `rate()` and alerts see
the first increase; series of values a record may not carry (an older release's missing field) appear with their
first observation.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ton_exporter.aggregation.block_groups import BlockGroup, Summary, WindowStats
from ton_exporter.aggregation.measures import COLLATED, MEASURES, SPARSE_KEYS, VALIDATED, Measure
from ton_exporter.aggregation.node import NodeState
from ton_exporter.checkpoint import StateStore
from ton_exporter.exposition import names
from ton_exporter.parsers import consensus_events as ce
from ton_exporter.parsers import record_types
from ton_exporter.parsers.session_stats import EMBEDDED_FIELDS
from ton_exporter.sources.file_stats import FileStats

NS = names.NAMESPACE
BASE_LABELS = ["node", "run", "workchain", "shard"]

REJECT_REASONS = (
    "invalid_json",
    "not_utf8",
    "empty_line",
    "not_object",
    "missing_type",
    "unknown_type",
    "missing_field",
    "bad_field",
    "oversize_line",
    "bad_gzip",
)


class ExporterCollector(Collector):
    def __init__(
        self,
        nodes: Callable[[], Sequence[NodeState]],
        files: Callable[[], Sequence[FileStats]],
        version: str,
        *,
        state: StateStore | None = None,
        watch_mode: Callable[[], str] = lambda: "none",
        patterns: Callable[[], dict[str, int]] = dict,
    ) -> None:
        self._nodes = nodes
        self._files = files
        self._version = version
        self._state = state
        self._watch_mode = watch_mode
        self._patterns = patterns

    def collect(self) -> Iterator[Metric]:
        nodes = self._nodes()
        for node in nodes:
            node.flush()
        yield from _block_families(nodes)
        yield from _consensus_families(nodes)
        yield from _window_clock_families(nodes)
        yield from _file_families(self._files())
        if self._state is not None:
            yield from _state_families(self._state)
        yield from _pattern_families(self._patterns())
        mode = self._watch_mode()
        if mode != "none":
            watcher = GaugeMetricFamily(
                f"{NS}_source_watcher_info",
                "How file changes are noticed: inotify (through watchfiles) or polling; always 1.",
                labels=["mode"],
            )
            watcher.add_metric([mode], 1)
            yield watcher
        info = GaugeMetricFamily(f"{NS}_build_info", "ton-exporter build information; always 1.", labels=["version"])
        info.add_metric([self._version], 1)
        yield info


def _groups(nodes: Sequence[NodeState], source: str) -> Iterator[tuple[list[str], BlockGroup, int | None]]:
    for node in nodes:
        window = node.clock.complete_window()
        for (workchain, shard), group in sorted(node.blocks[source].items()):
            yield [node.name, node.run, workchain, shard], group, window


def _block_families(nodes: Sequence[NodeState]) -> Iterator[Metric]:
    yield from _row_counts(nodes)
    for measure in MEASURES:
        yield from _measure_families(measure, nodes)


def _row_counts(nodes: Sequence[NodeState]) -> Iterator[Metric]:
    collated = CounterMetricFamily(f"{NS}_collated_blocks", "Blocks collated by the node.", labels=BASE_LABELS)
    collated_w = GaugeMetricFamily(
        f"{NS}_window_collated_blocks", "Blocks collated in the window (see docs).", labels=BASE_LABELS
    )
    for labels, group, window in _groups(nodes, COLLATED):
        collated.add_metric(labels, group.rows)
        stats = group.window_stats(window) if window is not None else None
        collated_w.add_metric(labels, stats.rows if stats else 0)
    yield collated
    yield collated_w

    result_labels = [*BASE_LABELS, "result"]
    validated = CounterMetricFamily(
        f"{NS}_validated_blocks", "Blocks validated by the node, by result.", labels=result_labels
    )
    validated_w = GaugeMetricFamily(
        f"{NS}_window_validated_blocks", "Blocks validated in the window, by result.", labels=result_labels
    )
    invalid_column = "invalid"
    for labels, group, window in _groups(nodes, VALIDATED):
        invalid = int(group.sum[invalid_column])
        validated.add_metric([*labels, "valid"], group.rows - invalid)
        validated.add_metric([*labels, "invalid"], invalid)
        stats = group.window_stats(window) if window is not None else None
        w_invalid = int(stats.columns[invalid_column].sum) if stats and invalid_column in stats.columns else 0
        validated_w.add_metric([*labels, "valid"], (stats.rows if stats else 0) - w_invalid)
        validated_w.add_metric([*labels, "invalid"], w_invalid)
    yield validated
    yield validated_w


def _measure_families(m: Measure, nodes: Sequence[NodeState]) -> Iterator[Metric]:
    labels = [*BASE_LABELS, *m.labels]
    name = f"{NS}_{m.full_name}"
    hist = HistogramMetricFamily(name, m.help, labels=labels) if m.buckets else None
    counter = CounterMetricFamily(name, m.help, labels=labels) if m.counter else None
    categories = (
        CounterMetricFamily(f"{NS}_{m.name}_blocks", m.help, labels=[*labels, "category"]) if m.categories else None
    )
    window_doc = f"{m.help} Aggregated over the 60 s window shown (see docs)."
    window = GaugeMetricFamily(f"{NS}_window_{m.full_name}", window_doc, labels=[*labels, "agg"]) if m.window else None
    observations = (
        GaugeMetricFamily(
            f"{NS}_window_{m.name}_observations", f"Observations behind {NS}_window_{m.full_name}.", labels=labels
        )
        if m.window
        else None
    )
    index = {} if m.sparse else m.columns
    for base, group, shown in _groups(nodes, m.source):
        stats = group.window_stats(shown) if shown is not None and window is not None else None
        for key, total, summary in _series(m, group, index, stats):
            values = [*base, *key]
            if hist is not None:
                column = index[key]
                hist.add_metric(values, _buckets(m.buckets or (), group.buckets[column]), group.sum[column])
            if counter is not None:
                counter.add_metric(values, total)
            if categories is not None:
                for category, n in _category_counts(m.categories or (), group, index[key]):
                    categories.add_metric([*values, category], n)
            if window is not None and observations is not None:
                observations.add_metric(values, summary.count if summary else 0)
                if summary is not None:
                    for agg in m.window:
                        window.add_metric([*values, agg], _agg(summary, agg))
    for family in (hist, counter, categories, window, observations):
        if family is not None:
            yield family


def _series(
    m: Measure, group: BlockGroup, index: dict[tuple[str, ...], str], stats: WindowStats | None
) -> Iterator[tuple[tuple[str, ...], float, Summary | None]]:
    """(extra label values, cumulative sum, window summary) of each series the group has."""
    if m.sparse is None:
        for key, column in index.items():
            if group.count[column]:
                summary = stats.columns.get(column) if stats else None
                yield key, group.sum[column], summary
        return
    window = stats.sparse[m.sparse] if stats else {}
    if m.sparse == "actions":  # window gauges only: see measures.py
        for action in sorted(window):
            yield (action,), 0.0, window[action]
    elif m.sparse == "limit_log":
        for kind in SPARSE_KEYS["limit_log"] or ():
            n = group.limit_hits[kind]
            yield (kind,), n, window.get(kind)
    elif m.sparse == "msg_limits" and (window or group.rows):
        yield (), 0.0, window.get("")


def _buckets(bounds: Iterable[float], counts: list[int]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    cumulative = 0
    for bound, n in zip(bounds, counts, strict=False):
        cumulative += n
        out.append((names.float_label(bound), cumulative))
    out.append(("+Inf", cumulative + counts[-1]))
    return out


def _category_counts(categories: Sequence[str], group: BlockGroup, column: str) -> Iterator[tuple[str, int]]:
    seen = group.categories[column]
    for value, category in enumerate(categories):
        yield category, seen.get(value, 0)
    other = sum(n for value, n in seen.items() if not 0 <= value < len(categories))
    if other:
        yield "other", other


def _agg(summary: Summary, agg: str) -> float:
    if agg == "avg":
        return summary.sum / summary.count
    return float(getattr(summary, agg))


def _consensus_families(nodes: Sequence[NodeState]) -> Iterator[Metric]:
    events = CounterMetricFamily(
        f"{NS}_consensus_events", "Consensus events read, by @type.", labels=[*BASE_LABELS, "type"]
    )
    accepted = CounterMetricFamily(
        f"{NS}_accepted_blocks", "Blocks accepted after finalization (consensus blockAccepted).", labels=BASE_LABELS
    )
    votes = CounterMetricFamily(
        f"{NS}_consensus_votes", "Votes this node signed, by vote type.", labels=[*BASE_LABELS, "vote"]
    )
    certs = CounterMetricFamily(
        f"{NS}_consensus_certificates", "Certificates this node observed, by vote type.", labels=[*BASE_LABELS, "vote"]
    )
    accepted_w = GaugeMetricFamily(
        f"{NS}_window_accepted_blocks", "Blocks accepted in the window shown (see docs).", labels=BASE_LABELS
    )
    votes_w = GaugeMetricFamily(
        f"{NS}_window_consensus_votes", "Votes signed in the window shown.", labels=[*BASE_LABELS, "vote"]
    )
    certs_w = GaugeMetricFamily(
        f"{NS}_window_consensus_certificates",
        "Certificates observed in the window shown.",
        labels=[*BASE_LABELS, "vote"],
    )
    unidentified = GaugeMetricFamily(
        f"{NS}_consensus_unidentified_sessions",
        "Consensus sessions seen without their first batch (no consensus.stats.id): workchain unknown.",
        labels=["node"],
    )
    rejected = CounterMetricFamily(
        f"{NS}_consensus_events_rejected",
        "Malformed events skipped inside valid batches, by reason.",
        labels=["node", "reason"],
    )
    vote_types = tuple(ce.VOTE_TYPES.values())
    for node in nodes:
        shown = node.clock.complete_window()
        state = node.consensus
        for (workchain, shard), group in sorted(state.groups.items()):
            labels = [node.name, node.run, workchain, shard]
            for kind in (*ce.EVENT_TYPES, ce.UNKNOWN):
                if kind != ce.UNKNOWN or group.events[kind]:
                    events.add_metric([*labels, kind], group.events[kind])
            accepted.add_metric(labels, group.accepted)
            counts = group.windows.get(shown) if shown is not None else None
            accepted_w.add_metric(labels, counts["accepted"] if counts else 0)
            for vote in (*vote_types, ce.UNKNOWN):
                if vote != ce.UNKNOWN or group.votes[vote] or group.certificates[vote]:
                    votes.add_metric([*labels, vote], group.votes[vote])
                    certs.add_metric([*labels, vote], group.certificates[vote])
                    votes_w.add_metric([*labels, vote], counts["vote:" + vote] if counts else 0)
                    certs_w.add_metric([*labels, vote], counts["cert:" + vote] if counts else 0)
        unidentified.add_metric([node.name], len(state.unidentified))
        for reason in ("missing_field", "bad_field", "bad_session_id"):
            rejected.add_metric([node.name, reason], state.rejected_events[reason])
    yield from (events, accepted, votes, certs, accepted_w, votes_w, certs_w, unidentified, rejected)


def _window_clock_families(nodes: Sequence[NodeState]) -> Iterator[Metric]:
    start = GaugeMetricFamily(
        f"{NS}_window_start_timestamp_seconds",
        "Start of the 60 s event-time window the window gauges of this node show.",
        labels=["node"],
    )
    late = CounterMetricFamily(
        f"{NS}_window_late_records",
        "Records whose window was already shown and forgotten: counted in counters, not in window gauges.",
        labels=["node"],
    )
    for node in nodes:
        window = node.clock.complete_window()
        if window is not None:
            start.add_metric([node.name], window)
        late.add_metric([node.name], node.late_records)
    yield start
    yield late


def _pattern_families(matched: dict[str, int]) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        f"{NS}_source_pattern_up",
        "1 if the source pattern matched a file at the last look, else 0.",
        labels=["pattern"],
    )
    files = GaugeMetricFamily(
        f"{NS}_source_pattern_files", "Files the source pattern matched at the last look.", labels=["pattern"]
    )
    for pattern, n in sorted(matched.items()):
        up.add_metric([pattern], 1 if n else 0)
        files.add_metric([pattern], n)
    yield up
    yield files


def _state_families(state: StateStore) -> Iterator[Metric]:
    loads = CounterMetricFamily(
        f"{NS}_state_loads", "Saved state read at start, by result: restored, missing, corrupt.", labels=["result"]
    )
    for result in ("restored", "missing", "corrupt"):
        loads.add_metric([result], state.loads[result])
    yield loads
    yield CounterMetricFamily(f"{NS}_state_saves", "Checkpoints written.", value=state.saves)
    yield CounterMetricFamily(
        f"{NS}_state_save_errors", "Checkpoints that could not be written.", value=state.save_errors
    )
    if state.last_save_time:
        yield GaugeMetricFamily(
            f"{NS}_state_last_save_timestamp_seconds", "Unix time of the last checkpoint.", value=state.last_save_time
        )


def _file_families(files: Sequence[FileStats]) -> Iterator[Metric]:
    labels = ["node", "file"]

    def gauge(name: str, doc: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"{NS}_source_{name}", doc, labels=labels)

    def counter(name: str, doc: str, extra: Sequence[str] = ()) -> CounterMetricFamily:
        return CounterMetricFamily(f"{NS}_source_{name}", doc, labels=[*labels, *extra])

    up = gauge("up", "1 if the file is open and readable, 0 if it is missing or unreadable.")
    size = gauge("file_size_bytes", "Size of the file when last checked.")
    offset = gauge("read_offset_bytes", "Offset the exporter has read up to; size - offset is the tail lag.")
    last_read = gauge("last_read_timestamp_seconds", "Unix time bytes were last read from the file.")
    last_event = gauge("last_event_timestamp_seconds", "Newest event time (collated_at, validated_at, ts) read.")
    read_bytes = counter("read_bytes", "Bytes read from the file (uncompressed).")
    lines = counter("lines_read", "Complete lines read from the file.")
    parsed = counter("lines_parsed", "Lines parsed into a record of a known @type.")
    rejected = counter("lines_rejected", "Lines rejected, by reason.", ["reason"])
    records = counter("records", "Records parsed, by @type (legacy types included).", ["type"])
    field_errors = counter(
        "field_errors",
        "Embedded strings (work time, time_stats) that could not be parsed; the rest of the line was used.",
        ["field"],
    )
    rotations = counter("rotations", "Times a new file replaced the path (rename or delete and recreate).")
    truncations = counter("truncations", "Times the file shrank below the read offset (copytruncate).")
    for f in files:
        key = [f.node, f.path]
        up.add_metric(key, 1 if f.up else 0)
        size.add_metric(key, f.size)
        offset.add_metric(key, f.offset)
        if f.last_read_time:
            last_read.add_metric(key, f.last_read_time)
        if f.last_event_time:
            last_event.add_metric(key, f.last_event_time)
        read_bytes.add_metric(key, f.bytes_read)
        lines.add_metric(key, f.lines_read)
        parsed.add_metric(key, f.lines_parsed)
        for reason in REJECT_REASONS:
            rejected.add_metric([*key, reason], f.rejected[reason])
        for kind in (*record_types.CURRENT, *record_types.LEGACY):
            if kind in record_types.CURRENT or f.records[kind]:
                records.add_metric([*key, kind], f.records[kind])
        for name in EMBEDDED_FIELDS:
            field_errors.add_metric([*key, name], f.field_errors[name])
        rotations.add_metric(key, f.rotations)
        truncations.add_metric(key, f.truncations)
    yield from (
        up,
        size,
        offset,
        last_read,
        last_event,
        read_bytes,
        lines,
        parsed,
        rejected,
        records,
        field_errors,
        rotations,
        truncations,
    )
