"""Wiring: sources -> pipelines -> node state -> collector -> HTTP.

`Exporter` owns one reader and one pipeline per file and one `NodeState` per node name. `poll_once()` is the
whole ingest step, synchronous, used as is by tests and benchmarks; `serve()` runs it in a loop beside the HTTP
server, on one event loop.
"""

import asyncio
import html
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from ton_exporter import __version__
from ton_exporter.aggregation.event_clock import DEFAULT_LATENESS_SECONDS, EventClock
from ton_exporter.aggregation.node import NodeState
from ton_exporter.exposition.collector import ExporterCollector
from ton_exporter.exposition.http_server import HttpServer, Request, Response
from ton_exporter.pipeline import SessionStatsPipeline
from ton_exporter.sources.file_stats import FileStats
from ton_exporter.sources.tailer import DEFAULT_MAX_LINE_BYTES, FileTailer, GzipFileReader

log = logging.getLogger("ton_exporter")

DEFAULT_LISTEN = "127.0.0.1:10056"
DEFAULT_RUN = "default"


@dataclass(frozen=True)
class SessionLog:
    """One session-stats file and the node it belongs to."""

    path: Path
    node: str


def node_name_for(path: Path) -> str:
    """tontester writes `node<N>/session-logs`: the directory names the node. Otherwise the file name does."""
    if path.name == "session-logs" and path.parent.name:
        return path.parent.name
    name = path.name
    for suffix in (".gz", ".jsonl", ".json", ".log", ".session-stats"):
        name = name.removesuffix(suffix)
    return name or "node"


_NODE_ASSIGNMENT = re.compile(r"^([A-Za-z0-9_.-]+)=(.+)$")


def parse_session_log(spec: str, node: str | None) -> SessionLog:
    """`PATH` or `NODE=PATH`; `node` (from --node) wins over both."""
    match = _NODE_ASSIGNMENT.match(spec)
    if match and not Path(spec).exists():
        return SessionLog(Path(match.group(2)), node or match.group(1))
    path = Path(spec)
    return SessionLog(path, node or node_name_for(path))


class Exporter:
    def __init__(
        self,
        logs: list[SessionLog],
        *,
        run: str = DEFAULT_RUN,
        from_start: bool = False,
        lateness: float = DEFAULT_LATENESS_SECONDS,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.nodes: dict[str, NodeState] = {}
        self.files: list[FileStats] = []
        self.readers: list[tuple[FileTailer | GzipFileReader, SessionStatsPipeline]] = []
        self.polled_once = False
        for entry in logs:
            node = self.nodes.get(entry.node)
            if node is None:
                node = self.nodes[entry.node] = NodeState(entry.node, run, EventClock(lateness, wall))
            stats = FileStats(str(entry.path), entry.node)
            reader: FileTailer | GzipFileReader
            if entry.path.suffix == ".gz":
                reader = GzipFileReader(entry.path, stats, max_line_bytes=max_line_bytes)
            else:
                reader = FileTailer(entry.path, stats, from_start=from_start, max_line_bytes=max_line_bytes)
            self.files.append(stats)
            self.readers.append((reader, SessionStatsPipeline(node, stats)))
        self.registry = CollectorRegistry()
        self.registry.register(ExporterCollector(lambda: list(self.nodes.values()), lambda: self.files, __version__))

    def register_process_collectors(self) -> None:
        """Process, Python platform and GC metrics: real servers want them, golden files cannot have them."""
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def poll_once(self) -> int:
        """Read whatever every source has now; return the number of lines processed."""
        total = 0
        for reader, pipeline in self.readers:
            for offset, lines in reader.poll():
                pipeline.feed(offset, lines)
                total += len(lines)
        self.polled_once = True
        return total

    async def poll_forever(self, interval: float) -> None:
        while True:
            for reader, pipeline in self.readers:
                for offset, lines in reader.poll():
                    pipeline.feed(offset, lines)
                    await asyncio.sleep(0)  # let a scrape in between large chunks
            self.polled_once = True
            await asyncio.sleep(interval)

    def close(self) -> None:
        for reader, _ in self.readers:
            reader.close()

    # --- HTTP

    def routes(self) -> dict[str, Callable[[Request], Response]]:
        return {
            "/": self._landing,
            "/metrics": self._metrics,
            "/-/healthy": lambda _: Response(200, b"OK\n"),
            "/-/ready": self._ready,
        }

    def _metrics(self, request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(200, encoder(self.registry), content_type)

    def _ready(self, _: Request) -> Response:
        if self.polled_once:
            return Response(200, b"ready\n")
        return Response(503, b"not ready: sources not opened yet\n")

    def _landing(self, _: Request) -> Response:
        rows = "".join(
            f"<tr><td>{html.escape(f.node)}</td><td>{html.escape(f.path)}</td>"
            f"<td>{'up' if f.up else 'missing'}</td><td>{f.lines_parsed}</td></tr>"
            for f in self.files
        )
        page = LANDING.format(version=html.escape(__version__), rows=rows)
        return Response(200, page.encode(), "text/html; charset=utf-8")


LANDING = """<!doctype html>
<html><head><meta charset="utf-8"><title>ton-exporter</title></head>
<body>
<h1>ton-exporter {version}</h1>
<p>Prometheus exporter for TON validator session stats.</p>
<ul>
<li><a href="/metrics">/metrics</a>: the metrics</li>
<li><a href="/-/healthy">/-/healthy</a>: liveness</li>
<li><a href="/-/ready">/-/ready</a>: readiness (every source opened or reported missing)</li>
</ul>
<h2>Sources</h2>
<table border="1" cellpadding="4"><tr><th>node</th><th>file</th><th>state</th><th>lines parsed</th></tr>{rows}</table>
</body></html>
"""


async def serve(exporter: Exporter, host: str, port: int, poll_interval: float = 0.1) -> None:
    server = HttpServer(dict(exporter.routes()))
    bound_host, bound_port = await server.start(host, port)
    log.info("listening", extra={"address": f"{bound_host}:{bound_port}", "files": len(exporter.files)})
    try:
        await exporter.poll_forever(poll_interval)
    finally:
        await server.close()
        exporter.close()
