"""Scrape rendering: `/metrics` of the demo (the two real files as two nodes) and of a central collector reading
24 nodes (the same two files replayed as 24 nodes), rendered by the exporter's text renderer against
prometheus_client's `generate_latest()` on the same registry, in the same run (median of 15 each, interleaved).
In process: the HTTP layer is not included."""

import gzip
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client.exposition import generate_latest

from ton_exporter.app import Exporter
from ton_exporter.exposition.text_render import TextRenderer
from ton_exporter.sources.discovery import SourcePattern

DATA = Path("/work/shared/data")


def _exporter(root: Path, nodes: int) -> Exporter:
    for n in range(1, nodes + 1):
        target = root / f"node{n}" / "session-logs"
        target.parent.mkdir(parents=True)
        target.write_bytes(gzip.decompress((DATA / f"session-logs-node{2 - n % 2}.jsonl.gz").read_bytes()))
    patterns = [SourcePattern(str(root / f"node{n}" / "session-logs"), f"node{n}") for n in range(1, nodes + 1)]
    return Exporter(patterns, run="bench", from_start=True)


def _median_ms(fn: Callable[[], object], rounds: int = 15) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def scrape(nodes: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        exporter = _exporter(Path(tmp), nodes)
        exporter.poll_once()
        renderer = TextRenderer()
        ours = _median_ms(lambda: renderer.render(exporter.registry.collect()))
        base = _median_ms(lambda: generate_latest(exporter.registry))
        size = len(renderer.render(exporter.registry.collect()))
        return {"ours": ours, "base": base, "bytes": size}


def run() -> None:
    for nodes in (2, 24):
        r = scrape(nodes)
        print(
            f"render: {nodes:2} nodes, {r['bytes'] / 1e6:.2f} MB: renderer {r['ours']:.1f} ms, "
            f"generate_latest {r['base']:.1f} ms, ratio {r['ours'] / r['base']:.2f}"
        )
