"""Wiring: sources -> pipelines -> node state -> collector -> HTTP, and the saved state around them.

`Exporter` owns the file tracker, one pipeline per stream (a log and its rotated copies) and one `NodeState` per
node name. `poll_once()` is the whole ingest step, synchronous, used as is by tests and benchmarks; `serve()` runs
it beside the HTTP server on one event loop, woken by file changes.

The `run` label: every line read is counted under the exporter's current run. `switch_run()` (the daemon calls it
when a registered run starts or ends, runs/daemon.py) puts the node states of the run left aside, where their
series stay exported, frozen, until `forget_run()`; the new run's counters start at zero for every node.
"""

import asyncio
import html
import logging
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from watchfiles import Change

from ton_exporter import __version__
from ton_exporter.aggregation.broadcast_spans import BroadcastSpans
from ton_exporter.aggregation.consensus import ConsensusGroup
from ton_exporter.aggregation.crosslinks import BlockLinks
from ton_exporter.aggregation.event_clock import DEFAULT_LATENESS_SECONDS, EventClock
from ton_exporter.aggregation.limits import DEFAULT_LIMITS, Limits
from ton_exporter.aggregation.network import NetworkConsensus
from ton_exporter.aggregation.node import NodeState
from ton_exporter.checkpoint import Checkpoint, StateStore
from ton_exporter.exposition.collector import ExporterCollector
from ton_exporter.exposition.http_server import Handler, HttpServer, Request, Response
from ton_exporter.exposition.http_server import Limits as HttpLimits
from ton_exporter.exposition.text_render import TextRenderer
from ton_exporter.exposition.web_config import WebConfig
from ton_exporter.pipeline import SessionStatsPipeline
from ton_exporter.sources.discovery import SourcePattern
from ton_exporter.sources.file_stats import FileStats, SourceFormat
from ton_exporter.sources.line_splitter import DEFAULT_MAX_LINE_BYTES
from ton_exporter.sources.node_names import node_name_for
from ton_exporter.sources.tracker import FileTracker
from ton_exporter.sources.watcher import ChangeWatcher
from ton_exporter.text_log_pipeline import TextLogPipeline

log = logging.getLogger("ton_exporter")

DEFAULT_LISTEN = ":10056"
DEFAULT_RUN = "default"
SAFETY_POLL_SECONDS = 1.0
DISCOVERY_SECONDS = 5.0
STATE_SAVE_SECONDS = 5.0
YIELD_EVERY_LINES = 2000


Pipeline = SessionStatsPipeline | TextLogPipeline
"""What reads one stream's lines into its node's state (the node changes when the run label does)."""

_NODE_ASSIGNMENT = re.compile(r"^([A-Za-z0-9_.-]+)=(.+)$")


def parse_source(spec: str, node: str | None, format: SourceFormat = "session_stats") -> SourcePattern:
    """`PATH`, `GLOB`, `DIR`, or any of them as `NODE=...`; `node` (from --node) wins."""
    match = _NODE_ASSIGNMENT.match(spec)
    if match and not Path(spec).exists():
        return SourcePattern(match.group(2), node or match.group(1), format)
    return SourcePattern(spec, node, format)


@dataclass
class RunNodes:
    """The node states of one run and its network view (central mode)."""

    nodes: dict[str, NodeState] = field(default_factory=dict)
    network_groups: dict[tuple[str, str], ConsensusGroup] = field(default_factory=dict)
    network: NetworkConsensus = field(init=False)
    links: BlockLinks = field(default_factory=BlockLinks)  # shard/master accept latencies (crosslinks.py)
    spans: BroadcastSpans = field(default_factory=BroadcastSpans)  # cross-node broadcast times (broadcast_spans.py)
    left_at: float = 0.0  # wall time the run stopped being the current one

    def __post_init__(self) -> None:
        groups = self.network_groups
        self.network = NetworkConsensus(lambda wc, shard: groups.setdefault((wc, shard), ConsensusGroup()))

    def retire_network_groups(self) -> None:
        """Network groups that no node of the run still has live leave with the nodes' groups (series_bounds.py),
        once none of their sessions has a slot left to measure; those sessions are forgotten with them."""
        live = {key for node in self.nodes.values() for key in node.bounds.live}
        for key in [key for key in self.network_groups if key not in live]:
            group = self.network_groups[key]
            sessions = [sid for sid, s in self.network.sessions.items() if s.sink is group]
            if any(self.network.sessions[sid].slots for sid in sessions):
                continue
            for sid in sessions:
                del self.network.sessions[sid]
            del self.network_groups[key]


class Exporter:
    def __init__(
        self,
        sources: list[SourcePattern],
        *,
        run: str = DEFAULT_RUN,
        from_start: bool = False,
        lateness: float = DEFAULT_LATENESS_SECONDS,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        state_dir: Path | None = None,
        wall: Callable[[], float] = time.monotonic,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.run = run
        self.limits = limits
        self.lateness = lateness
        self.wall = wall
        self.current = RunNodes()
        self.past_runs: dict[str, RunNodes] = {}
        self.streams: dict[str, Pipeline] = {}
        self.polled_once = False
        self.reading = False  # inside a round of reading: the network view waits for its end (network.py)
        self.watch_mode = "none"  # "inotify" or "polling" once serving
        self.state = StateStore(state_dir) if state_dir is not None else None
        self._restored = self.state.load() if self.state is not None else None
        self._restored_run = self._restored.run if self._restored and self._restored.run is not None else run
        if self._restored and self._restored_run == run:  # saved cross-node counters are those of the saved run
            self.current.links.restore(self._restored.cross.get("links", {}))
            self.current.spans.restore(self._restored.cross.get("spans", {}))
        self.tracker = FileTracker(
            sources,
            self._stream_for,
            from_start=from_start,
            restored=self._restored.files if self._restored else None,
            max_line_bytes=max_line_bytes,
        )
        self.registry = CollectorRegistry()
        self.text_renderer = TextRenderer()
        self.collectors = ExporterCollector(
            self.all_nodes,
            lambda: self.files,
            __version__,
            state=self.state,
            watch_mode=lambda: self.watch_mode,
            patterns=lambda: self.tracker.matched,
            networks=self._networks,
            links=self._links,
            spans=self._spans,
            current_nodes=lambda: list(self.nodes.values()),
            settle=self.settle_networks,
        ).concerns()
        self.registry.register(self.collectors)

    def add_collector(self, name: str, collector: Collector) -> None:
        """Another concern (the runs), timed and guarded like the exporter's own."""
        self.collectors.add(name, collector.collect)

    @property
    def nodes(self) -> dict[str, NodeState]:
        return self.current.nodes

    @property
    def network_groups(self) -> dict[tuple[str, str], ConsensusGroup]:
        return self.current.network_groups

    @property
    def files(self) -> list[FileStats]:
        return [stream.stats for stream in self.streams.values()]

    def all_nodes(self) -> list[NodeState]:
        """The current run's node states, then those of runs left aside (still exported)."""
        return [node for run in (self.current, *self.past_runs.values()) for node in run.nodes.values()]

    def _networks(self) -> list[tuple[str, dict[tuple[str, str], ConsensusGroup]]]:
        return [(self.run, self.network_groups), *((run, r.network_groups) for run, r in self.past_runs.items())]

    def _links(self) -> list[tuple[str, BlockLinks]]:
        return [(self.run, self.current.links), *((run, r.links) for run, r in self.past_runs.items())]

    def _spans(self) -> list[tuple[str, BroadcastSpans]]:
        return [(self.run, self.current.spans), *((run, r.spans) for run, r in self.past_runs.items())]

    def run_nodes(self, run: str) -> list[NodeState]:
        found = self.current if run == self.run else self.past_runs.get(run)
        return list(found.nodes.values()) if found is not None else []

    def switch_run(self, run: str) -> None:
        """Count what is read from now on under `run`: the current run's states are left aside (still exported);
        a run left aside earlier takes its own states back."""
        if run == self.run:
            return
        self.current.left_at = time.time()
        self.past_runs[self.run] = self.current
        self.current = self.past_runs.pop(run) if run in self.past_runs else RunNodes()
        self.run = run
        for stream in self.streams.values():
            stream.node = self._node(stream.stats.node)
        log.info("run label switched", extra={"run": run})

    def forget_run(self, run: str) -> None:
        """Stop exporting the series of a run left aside (Prometheus keeps what it scraped)."""
        self.past_runs.pop(run, None)

    def register_process_collectors(self) -> None:
        """Process, Python platform and GC metrics: real servers want them, golden files cannot have them."""
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def _stream_for(self, name: str, pattern: SourcePattern) -> Pipeline:
        stream = self.streams.get(name)
        if stream is None:
            node_name = pattern.node or node_name_for(name)
            stats = FileStats(name, node_name, pattern.format)
            if self._restored and name in self._restored.streams:
                stats.restore(self._restored.streams[name])
            node = self._node(node_name)
            if pattern.format == "text_log":
                stream = self.streams[name] = TextLogPipeline(node, stats, lambda: self.current.spans)
            else:
                stream = self.streams[name] = SessionStatsPipeline(node, stats, lambda: self.current.links)
        return stream

    def _node(self, node_name: str) -> NodeState:
        node = self.nodes.get(node_name)
        if node is None:
            clock = EventClock(self.lateness, self.wall)
            node = self.nodes[node_name] = NodeState(node_name, self.run, clock, self.current.network, self.limits)
            if self._restored and self._restored_run == self.run and node_name in self._restored.nodes:
                node.restore(self._restored.nodes[node_name])  # saved counters are those of the saved run
        return node

    # --- ingest

    def poll_once(self) -> int:
        """Read whatever every source has now; return the number of lines processed."""
        self.reading = True
        try:
            total = sum(self.tracker.poll())
        finally:
            self.reading = False
        self.polled_once = True
        self.settle_networks()
        return total

    def settle_networks(self) -> None:
        """Measure the network view of what every node has read, unless a round of reading is under way."""
        if not self.reading:
            for run in (self.current, *self.past_runs.values()):
                run.network.settle()
                run.retire_network_groups()
                run.spans.settle(self.wall())

    async def poll_forever(self, poll_interval: float, use_inotify: bool = True) -> None:
        """Read on every wake-up; look for new files when something other than an open file changed, and every
        few seconds anyway (a new file can appear unannounced: polling mode, file systems without notification)."""
        watcher = ChangeWatcher(self.tracker.watch_dirs, self._could_match, use_inotify=use_inotify)
        # inotify announces new files; without it, new files are looked for once a second
        discovery_interval = DISCOVERY_SECONDS if use_inotify else SAFETY_POLL_SECONDS
        last_save = last_discovery = time.monotonic()
        discover = True
        changes: set[tuple[Change, str]] | None = None
        try:
            while True:
                changed = {path for _, path in changes} if changes is not None and not discover else None
                backlog = read = 0
                self.reading = True
                try:
                    for lines in self.tracker.poll(discover, changed):
                        backlog += lines
                        read += lines
                        if backlog >= YIELD_EVERY_LINES:  # a large backlog: let a scrape in between blocks
                            backlog = 0
                            await asyncio.sleep(0)
                finally:
                    self.reading = False
                self.settle_networks()
                watcher.note(read)
                now = time.monotonic()
                if discover:
                    last_discovery = now
                self.polled_once = True
                self.watch_mode = watcher.mode
                if self.state is not None and now - last_save >= STATE_SAVE_SECONDS:
                    await self.save_state_async()  # off the loop: scrapes are served meanwhile
                    last_save = now
                changes = await watcher.wait(poll_interval if watcher.mode == "polling" else SAFETY_POLL_SECONDS)
                discover = time.monotonic() - last_discovery >= discovery_interval or (
                    changes is not None
                    and any(kind != Change.modified or not self.tracker.is_open_path(path) for kind, path in changes)
                )
        finally:
            await watcher.close()

    def _could_match(self, path: str) -> bool:
        return any(pattern.could_match(path) for pattern in self.tracker.patterns)

    def save_state(self) -> None:
        if self.state is not None:
            self.state.save(self._checkpoint())

    async def save_state_async(self) -> None:
        if self.state is not None:
            await self.state.save_async(self._checkpoint())

    def _checkpoint(self) -> Checkpoint:
        return Checkpoint(
            self.tracker.checkpoint(),
            {name: stream.stats.to_json() for name, stream in self.streams.items()},
            {name: node.to_json() for name, node in self.nodes.items()},
            self.run,
            {"links": self.current.links.to_json(), "spans": self.current.spans.to_json()},
        )

    def close(self) -> None:
        self.save_state()
        self.tracker.close()

    # --- HTTP

    def routes(self) -> dict[str, Handler]:
        return {
            "/": self._landing,
            "/metrics": self._metrics,
            "/-/healthy": lambda _: Response(200, b"OK\n"),
            "/-/ready": self._ready,
        }

    async def _metrics(self, request: Request) -> Response:
        # What Prometheus is about to see must survive a crash: the snapshot is taken now, written off the loop.
        await self.save_state_async()
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        if encoder is generate_latest:  # the text format: same bytes, rendered faster
            return Response(200, self.text_renderer.render(self.registry.collect()), content_type)
        return Response(200, encoder(self.registry), content_type)

    def _ready(self, _: Request) -> Response:
        if self.polled_once:
            return Response(200, b"ready\n")
        return Response(503, b"not ready: sources not looked at yet\n")

    def _landing(self, _: Request) -> Response:
        rows = "".join(
            f"<tr><td>{html.escape(f.node)}</td><td>{html.escape(f.path)}</td>"
            f"<td>{'up' if f.up else 'missing'}</td><td>{f.lines_parsed}</td></tr>"
            for f in self.files
        )
        patterns = "".join(f"<li><code>{html.escape(p.spec)}</code></li>" for p in self.tracker.patterns)
        page = LANDING.format(version=html.escape(__version__), rows=rows, patterns=patterns)
        return Response(200, page.encode(), "text/html; charset=utf-8")


LANDING = """<!doctype html>
<html><head><meta charset="utf-8"><title>ton-exporter</title></head>
<body>
<h1>ton-exporter {version}</h1>
<p>Prometheus exporter for TON validator session stats and text logs.</p>
<ul>
<li><a href="/metrics">/metrics</a>: the metrics</li>
<li><a href="/-/healthy">/-/healthy</a>: liveness</li>
<li><a href="/-/ready">/-/ready</a>: readiness (every source looked at once)</li>
</ul>
<h2>Sources</h2>
<ul>{patterns}</ul>
<table border="1" cellpadding="4"><tr><th>node</th><th>stream</th><th>state</th><th>lines parsed</th></tr>{rows}</table>
</body></html>
"""


async def serve(
    exporter: Exporter,
    host: str,
    port: int,
    poll_interval: float = 0.1,
    use_inotify: bool = True,
    *,
    web: WebConfig | None = None,
    limits: HttpLimits | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then save the state and stop."""
    server = HttpServer(dict(exporter.routes()), web_config=web, limits=limits)
    exporter.registry.register(server.stats)
    bound_host, bound_port = await server.start(host, port)
    log.info("listening", extra={"address": f"{bound_host}:{bound_port}", "sources": len(exporter.tracker.patterns)})
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    poller = loop.create_task(exporter.poll_forever(poll_interval, use_inotify))
    try:
        await asyncio.wait([poller, loop.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED)
        if poller.done():
            poller.result()  # re-raise what stopped it
    finally:
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
        await server.close()
        exporter.close()
        log.info("stopped", extra={"state_saved": exporter.state is not None})
