"""Families of the text logs: td lines by level and component, and the `Broadcast_benchmark` histograms.

Series appear with their first line: which levels, components and benchmark combinations a node logs depends on
its build and verbosity, and a zero series for every combination of the matrix would be mostly noise.
"""

from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, Metric

from ton_exporter.aggregation.distribution import Distribution
from ton_exporter.aggregation.node import NodeState
from ton_exporter.exposition.histogram import Histogram
from ton_exporter.exposition.names import NAMESPACE, cumulative_buckets
from ton_exporter.parsers.broadcast_benchmark import stage_of

NS = NAMESPACE
BENCHMARK_LABELS = ["node", "run", "op", "stage", "called_from", "compression"]


def text_log_families(nodes: Sequence[NodeState]) -> Iterator[Metric]:
    nodes = [node for node in nodes if node.text_log.lines or node.text_log.continuations]
    yield from _line_families(nodes)
    yield from _benchmark_families(nodes)
    yield from _timing_families(nodes)
    yield _certificates(nodes)


def _certificates(nodes: Sequence[NodeState]) -> Metric:
    family = CounterMetricFamily(
        f"{NS}_text_log_certificates",
        "`Obtained certificate for <vote>` lines of the text logs (simplex pool.cpp:919), by the workchain of the "
        "validator group and vote type (notarize, finalize, skip, other).",
        labels=["node", "run", "workchain", "vote"],
    )
    for node in nodes:
        for (workchain, vote), n in sorted(node.text_log.certificates.items()):
            family.add_metric([node.name, node.run, workchain, vote], n)
    return family


def _timing_families(nodes: Sequence[NodeState]) -> Iterator[Metric]:
    """Collation and validation times of the text logs: the count of a histogram is the count of collations by
    outcome and error class (a failed collation leaves no other trace: session stats log only successes)."""
    collation = Histogram(
        f"{NS}_text_log_collation_seconds",
        "`collation took X s` (outcome ok) and `collation failed in X s <status>` (outcome failed, error: the "
        "class of the td::Status code: timeout, cancelled, notready, failure, error, internal for the collator's "
        "negative codes, other) lines of the text logs, by workchain of the logging actor.",
        labels=["node", "run", "workchain", "outcome", "error"],
    )
    validation = Histogram(
        f"{NS}_text_log_validation_seconds",
        "`validation took Xs` lines of the text logs, by workchain of the logging actor.",
        labels=["node", "run", "workchain"],
    )
    for node in nodes:
        for (side, workchain, outcome, error), distribution in sorted(node.text_log.timings.items()):
            buckets = cumulative_buckets(distribution.bounds, distribution.counts)
            if side == "collation":
                collation.add_metric([node.name, node.run, workchain, outcome, error], buckets, distribution.sum)
            else:
                validation.add_metric([node.name, node.run, workchain], buckets, distribution.sum)
    yield collation
    yield validation


def _line_families(nodes: Sequence[NodeState]) -> Iterator[Metric]:
    lines = CounterMetricFamily(
        f"{NS}_text_log_lines",
        "td log lines, by level (fatal, error, warning, info, debug, verbose) and component (the source file "
        "that logged them).",
        labels=["node", "run", "level", "component"],
    )
    continuations = CounterMetricFamily(
        f"{NS}_text_log_continuation_lines",
        "Lines without a td prefix that continue a multi-line message.",
        labels=["node", "run"],
    )
    for node in nodes:
        state = node.text_log
        for (level, component), n in sorted(state.lines.items()):
            lines.add_metric([node.name, node.run, level, component], n)
        continuations.add_metric([node.name, node.run], state.continuations)
    yield lines
    yield continuations


_HISTOGRAMS = (
    ("seconds", "seconds", "Time of one (de)compression (time_sec of Broadcast_benchmark lines)."),
    ("compressed", "compressed_bytes", "compressed_size of Broadcast_benchmark lines: the size on the wire."),
    ("original", "original_bytes", "original_size of the Broadcast_benchmark lines that log it (compressions)."),
    (
        "ratio",
        "compression_ratio",
        "compressed_size / original_size of the Broadcast_benchmark lines that log both (1 - this is the space saved).",
    ),
)


def _benchmark_families(nodes: Sequence[NodeState]) -> Iterator[Metric]:
    for attribute, suffix, help_text in _HISTOGRAMS:
        family = Histogram(f"{NS}_broadcast_benchmark_{suffix}", help_text, labels=BENCHMARK_LABELS)
        for node in nodes:
            for (op, called_from, compression), series in sorted(node.text_log.benchmarks.items()):
                distribution: Distribution = getattr(series, attribute)
                if distribution.count:
                    family.add_metric(
                        [node.name, node.run, op, stage_of(op), called_from, compression],
                        cumulative_buckets(distribution.bounds, distribution.counts),
                        distribution.sum,
                    )
        yield family
