"""Exemplars: the collation and validation latency histograms name, per bucket, the slowest block that fell in it
(`workchain:shard:seqno`), in OpenMetrics; a real Prometheus with exemplar storage returns them."""

import gzip
import json
import shutil
import time
import urllib.parse
from pathlib import Path

from tests.servers import ExporterProcess, PrometheusServer, http_get, wait_until

DATA = Path("/work/shared/data")


def slowest_collation(path: Path) -> tuple[float, str]:
    """The collatedBlock with the largest total_time in the raw file, read with json alone."""
    best = (-1.0, "")
    with gzip.open(path, "rt") as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("@type") != "validatorStats.collatedBlock":
                continue
            block = record["block_id"]
            shard = f"{int(block['shard']) & 0xFFFFFFFFFFFFFFFF:016X}"
            best = max(best, (float(record["total_time"]), f"{block['workchain']}:{shard}:{block['seqno']}"))
    return best


def test_prometheus_returns_the_exemplar_of_the_slowest_collated_block(tmp_path: Path) -> None:
    source = tmp_path / "node1" / "session-logs.jsonl.gz"
    source.parent.mkdir()
    shutil.copy(DATA / "session-logs-node1.jsonl.gz", source)
    seconds, block = slowest_collation(source)
    exporter = ExporterProcess(
        tmp_path, ["serve", "--from-start", "--run", "exemplars", "--session-logs", f"node1={source}"]
    )
    prometheus = PrometheusServer(
        tmp_path, [f"127.0.0.1:{exporter.port}"], flags=("--enable-feature=exemplar-storage",)
    )
    try:

        def exemplars() -> list[dict[str, object]]:
            query = {"query": "tonex_collation_total_seconds_bucket", "start": "0", "end": str(time.time() + 60)}
            status, _, body = http_get(f"{prometheus.url}/api/v1/query_exemplars?" + urllib.parse.urlencode(query))
            assert status == 200, body
            return [e for series in json.loads(body)["data"] for e in series["exemplars"]]

        wait_until(exemplars, 60, "exemplars stored by Prometheus")
        top = max(exemplars(), key=lambda e: float(str(e["value"])))
        assert top["labels"] == {"block": block}
        assert float(str(top["value"])) == seconds
    finally:
        prometheus.stop()
        exporter.stop()
