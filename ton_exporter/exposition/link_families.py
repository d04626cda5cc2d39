"""The cross-node families of central mode, beside the network view: shard/master accept latencies (CON-21,
CON-22; aggregation/crosslinks.py), one histogram each per node, run and shard-block (workchain, shard), each node's
own accept times, and the pairs left out because the node accepted the later block first; the broadcast time of a
block over every node's text log (LOG-05; aggregation/broadcast_spans.py)."""

from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from ton_exporter.aggregation.broadcast_spans import BroadcastSpans
from ton_exporter.aggregation.crosslinks import KINDS, MASTER_TO_SHARD, SHARD_TO_MASTER, BlockLinks
from ton_exporter.exposition.names import NAMESPACE, cumulative_buckets

NS = NAMESPACE
HELP = {
    SHARD_TO_MASTER: "Shard→master latency (CON-21): a masterchain block's accept time minus the accept time of each "
    "shard block it newly includes (shard_configuration), both this node's; labelled by the shard block.",
    MASTER_TO_SHARD: "Master→shard latency (CON-22): a shard block's accept time minus the accept time of the "
    "masterchain block its collation is based on (mc_block_id), both this node's; labelled by the shard block.",
}


def link_families(runs: Sequence[tuple[str, BlockLinks]]) -> Iterator[Metric]:
    labels = ["node", "run", "workchain", "shard"]
    hists = {kind: HistogramMetricFamily(f"{NS}_consensus_{kind}_seconds", HELP[kind], labels=labels) for kind in KINDS}
    negative = CounterMetricFamily(
        f"{NS}_consensus_link_inversions",
        "Shard/master pairs a node accepted in the other order (a negative latency), left out of the histograms.",
        labels=["node", "run", "kind"],
    )
    for run, links in runs:
        for node, state in sorted(links.nodes.items()):
            if not state.accepted and not state.latencies:
                continue  # a node whose files have no accepted block (text logs only): no series
            for (kind, wc, shard), d in sorted(state.latencies.items()):
                hists[kind].add_metric([node, run, wc, shard], cumulative_buckets(d.bounds, d.counts), d.sum)
            for kind in KINDS:
                negative.add_metric([node, run, kind], state.negative[kind])
    yield from hists.values()
    yield negative


def span_families(runs: Sequence[tuple[str, BroadcastSpans]]) -> Iterator[Metric]:
    hist = HistogramMetricFamily(
        f"{NS}_broadcast_block_seconds",
        "Broadcast time of a block over every node's text log read (LOG-05, the slowest-blocks definition): first "
        "compression start (line time - time_sec) to last decompression end, per block, once settled.",
        labels=["run"],
    )
    unmeasured = CounterMetricFamily(
        f"{NS}_broadcast_blocks_unmeasured",
        "Settled blocks whose benchmark lines lacked a compression or a decompression (not in the histogram).",
        labels=["run"],
    )
    for run, spans in runs:
        if spans.clocks or spans.seconds.count or spans.unmeasured:  # a run that read benchmark lines
            d = spans.seconds
            hist.add_metric([run], cumulative_buckets(d.bounds, d.counts), d.sum)
            unmeasured.add_metric([run], spans.unmeasured)
    yield hist
    yield unmeasured
