"""The exporter's own families: its files, source patterns, saved state and window clocks."""

from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ton_exporter.aggregation.node import NodeState
from ton_exporter.checkpoint import StateStore
from ton_exporter.exposition.names import NAMESPACE
from ton_exporter.parsers import record_types
from ton_exporter.parsers.session_stats import EMBEDDED_FIELDS
from ton_exporter.sources.file_stats import FileStats

NS = NAMESPACE

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
TEXT_LOG_REJECT_REASONS = (
    "not_utf8",
    "no_prefix",
    "empty_line",
    "bad_benchmark",
    "bad_timing",
    "oversize_line",
    "bad_gzip",
)


def window_clock_families(nodes: Sequence[NodeState], every_run: Sequence[NodeState] = ()) -> Iterator[Metric]:
    """Window clocks of `nodes` (one run's); node info of `every_run` too (the nodes of runs still exported)."""
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
    info = GaugeMetricFamily(
        f"{NS}_node_info", "One series per node the exporter reads, with its run; always 1.", labels=["node", "run"]
    )
    for node in nodes:
        window = node.complete_window()
        if window is not None:
            start.add_metric([node.name], window)
        late.add_metric([node.name], node.late_records)
    for node in every_run or nodes:
        info.add_metric([node.name, node.run], 1)
    yield start
    yield late
    yield info


def pattern_families(matched: dict[str, int]) -> Iterator[Metric]:
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


def state_families(state: StateStore) -> Iterator[Metric]:
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


def file_families(files: Sequence[FileStats]) -> Iterator[Metric]:
    labels = ["node", "file"]

    def gauge(name: str, doc: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"{NS}_source_{name}", doc, labels=labels)

    def counter(name: str, doc: str, extra: Sequence[str] = ()) -> CounterMetricFamily:
        return CounterMetricFamily(f"{NS}_source_{name}", doc, labels=[*labels, *extra])

    up = gauge("up", "1 if the file is open and readable, 0 if it is missing or unreadable.")
    size = gauge("file_size_bytes", "Size of the file when last checked.")
    offset = gauge("read_offset_bytes", "Offset the exporter has read up to; size - offset is the tail lag.")
    last_read = gauge("last_read_timestamp_seconds", "Unix time bytes were last read from the file.")
    last_event = gauge(
        "last_event_timestamp_seconds", "Newest event time (collated_at, validated_at, ts; a td line's time) read."
    )
    read_bytes = counter("read_bytes", "Bytes read from the file (uncompressed).")
    lines = counter("lines_read", "Complete lines read from the file.")
    parsed = counter(
        "lines_parsed", "Lines parsed into a record of a known @type, or td log lines (continuations included)."
    )
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
        text_log = f.format == "text_log"
        for reason in TEXT_LOG_REJECT_REASONS if text_log else REJECT_REASONS:
            rejected.add_metric([*key, reason], f.rejected[reason])
        if not text_log:
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
