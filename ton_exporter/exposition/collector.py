"""The `/metrics` families, computed at scrape time from the aggregation state (one module per concern).

Label order everywhere: node, run, workchain, shard, then the family's own labels. Series with bounded, known
label values (categories, reject reasons, event types) are exported from zero so that `rate()` and alerts see
the first increase; series of values a record may not carry (an older release's missing field) appear with their
first observation.
"""

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ton_exporter.aggregation.broadcast_spans import BroadcastSpans
from ton_exporter.aggregation.consensus import ConsensusGroup
from ton_exporter.aggregation.crosslinks import BlockLinks
from ton_exporter.aggregation.node import NodeState
from ton_exporter.checkpoint import StateStore
from ton_exporter.exposition.block_families import block_families
from ton_exporter.exposition.consensus_families import consensus_families, consensus_node_families, network_families
from ton_exporter.exposition.link_families import link_families, span_families
from ton_exporter.exposition.names import NAMESPACE
from ton_exporter.exposition.scrape import ScrapeCollector
from ton_exporter.exposition.self_families import (
    bounds_families,
    file_families,
    pattern_families,
    state_families,
    window_clock_families,
)
from ton_exporter.exposition.text_log_families import text_log_families
from ton_exporter.sources.file_stats import FileStats

NS = NAMESPACE
NetworkView = list[tuple[str, dict[tuple[str, str], ConsensusGroup]]]  # (run, groups) per run


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
        networks: Callable[[], NetworkView] = list,
        links: Callable[[], Sequence[tuple[str, BlockLinks]]] = list,
        spans: Callable[[], Sequence[tuple[str, BroadcastSpans]]] = list,
        current_nodes: Callable[[], Sequence[NodeState]] | None = None,
        settle: Callable[[], None] = lambda: None,
    ) -> None:
        self._nodes = nodes
        self._files = files
        self._version = version
        self._state = state
        self._watch_mode = watch_mode
        self._patterns = patterns
        self._networks = networks
        self._links = links
        self._spans = spans
        self._current_nodes = current_nodes or nodes
        self._settle = settle

    def concerns(self) -> ScrapeCollector:
        """The families by concern, each reading only what it needs; runs are added by whoever keeps them."""
        return ScrapeCollector(
            {
                "blocks": lambda: block_families(self._active()),
                "consensus": self._consensus,
                "text_logs": lambda: (*text_log_families(self._active()), *span_families(self._spans())),
                "bounds": lambda: bounds_families(self._current_nodes()),
                "sources": self._sources,
                "state": lambda: state_families(self._state) if self._state is not None else (),
                "build": self._build,
            },
            prepare=self._prepare,
        )

    def collect(self) -> Iterator[Metric]:
        yield from self.concerns().collect()

    def _prepare(self) -> None:
        """Families labelled by node and run cover every run still exported; those labelled by node alone, the
        current run's nodes. Flushing retires slots; the network view is measured from them."""
        for node in self._nodes():
            node.flush()
        self._settle()

    def _active(self) -> list[NodeState]:
        """Idle nodes' data series leave /metrics (series_bounds.py); their file series stay."""
        return [node for node in self._nodes() if not node.idle()]

    def _consensus(self) -> Iterator[Metric]:
        nodes, current = self._nodes(), self._current_nodes()
        yield from consensus_families(self._active())
        yield from consensus_node_families([node for node in current if not node.idle()])
        yield from network_families(self._networks())
        yield from link_families(self._links())
        yield from window_clock_families(current, nodes)

    def _sources(self) -> Iterator[Metric]:
        yield from file_families(self._files())
        yield from pattern_families(self._patterns())
        mode = self._watch_mode()
        if mode != "none":
            watcher = GaugeMetricFamily(
                f"{NS}_source_watcher_info",
                "How file changes are noticed: inotify (through watchfiles) or polling; always 1.",
                labels=["mode"],
            )
            watcher.add_metric([mode], 1)
            yield watcher

    def _build(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(f"{NS}_build_info", "ton-exporter build information; always 1.", labels=["version"])
        info.add_metric([self._version], 1)
        yield info
