"""Families of collated and validated blocks: one per measure of aggregation/measures.py, plus block counts."""

from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ton_exporter.aggregation.block_groups import BlockGroup, Summary, WindowStats
from ton_exporter.aggregation.measures import COLLATED, MEASURES, SPARSE_KEYS, VALIDATED, Measure
from ton_exporter.aggregation.node import NodeState
from ton_exporter.exposition.histogram import Histogram
from ton_exporter.exposition.names import BASE_LABELS, NAMESPACE, aggregate, cumulative_buckets, with_exemplars

NS = NAMESPACE


def _groups(nodes: Sequence[NodeState], source: str) -> Iterator[tuple[list[str], BlockGroup, int | None]]:
    for node in nodes:
        window = node.complete_window()
        for (workchain, shard), group in sorted(node.blocks[source].items()):
            yield [node.name, node.run, workchain, shard], group, window


def block_families(nodes: Sequence[NodeState]) -> Iterator[Metric]:
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
    hist = Histogram(name, m.help, labels=labels) if m.buckets else None
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
                buckets = cumulative_buckets(m.buckets or (), group.buckets[column])
                kept = group.exemplars.get(column)
                hist.add_metric(values, with_exemplars(buckets, kept) if kept else buckets, group.sum[column])
            if counter is not None:
                counter.add_metric(values, total)
            if categories is not None:
                for category, n in _category_counts(m.categories or (), group, index[key]):
                    categories.add_metric([*values, category], n)
            if window is not None and observations is not None:
                observations.add_metric(values, summary.count if summary else 0)
                if summary is not None:
                    for agg in m.window:
                        window.add_metric([*values, agg], aggregate(summary, agg))
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


def _category_counts(categories: Sequence[str], group: BlockGroup, column: str) -> Iterator[tuple[str, int]]:
    seen = group.categories[column]
    for value, category in enumerate(categories):
        yield category, seen.get(value, 0)
    other = sum(n for value, n in seen.items() if not 0 <= value < len(categories))
    if other:
        yield "other", other
