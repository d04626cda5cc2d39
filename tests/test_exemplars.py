"""Exemplars: the collation and validation latency histograms name, per bucket, the slowest block that fell in it
(`workchain:shard:seqno`), in OpenMetrics; a real Prometheus with exemplar storage returns them."""

import gzip
import json
import shutil
import time
import urllib.parse
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import consensus_events
from tests.servers import ExporterProcess, PrometheusServer, http_get, wait_until

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

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


def block_id(block: dict[str, Any]) -> str:
    """workchain:SHARD:seqno, the shard as 16 upper-case hex digits (as the exemplar labels write it)."""
    return f"{block['workchain']}:{int(block['shard']) & 0xFFFFFFFFFFFFFFFF:016X}:{block['seqno']}"


def slowest_notarization(path: Path) -> tuple[float, str, str]:
    """The slot whose candidateReceived -> notarize certificate took longest, read with json alone: per
    (session, slot) the earliest candidateReceived (and the block it names) and the earliest notarize certificate."""
    received: dict[tuple[str, int], float] = {}
    blocks: dict[tuple[str, int], str] = {}
    notarized: dict[tuple[str, int], float] = {}
    for session, ts, event in consensus_events(gzip.decompress(path.read_bytes()).splitlines()):
        if event["@type"] == "consensus.stats.candidateReceived":
            key = (session, event["id"]["slot"])
            received[key] = min(received.get(key, ts), ts)
            block = event["block"].get("id")
            if block is not None and key not in blocks:
                blocks[key] = block_id(block)
        elif (
            event["@type"] == "consensus.simplex.stats.certObserved"
            and event["vote"]["@type"] == "consensus.simplex.notarizeVote"
        ):
            key = (session, event["vote"]["id"]["slot"])
            notarized[key] = min(notarized.get(key, ts), ts)
    durations = [(notarized[k] - received[k], k) for k in received if k in notarized and k in blocks]
    seconds, (_, slot) = max(durations)
    return seconds, blocks[(_, slot)], str(slot)


def slowest_slot(path: Path) -> tuple[float, str, str]:
    """The slot whose start (its earliest event or vote, certificates aside) to its finalize certificate took
    longest, read with json alone."""
    start: dict[tuple[str, int], float] = {}
    finalized: dict[tuple[str, int], float] = {}
    blocks: dict[tuple[str, int], str] = {}
    for session, ts, event in consensus_events(gzip.decompress(path.read_bytes()).splitlines()):
        kind = event["@type"]
        if kind == "consensus.stats.id":
            continue
        if "vote" in event:
            vote = event["vote"]
            slot = vote["slot"] if "slot" in vote else vote["id"]["slot"]
        elif "target_slot" in event:
            slot = event["target_slot"]
        else:
            slot = event["id"]["slot"]
        key = (session, slot)
        if kind == "consensus.simplex.stats.certObserved":
            if event["vote"]["@type"] == "consensus.simplex.finalizeVote":
                finalized[key] = min(finalized.get(key, ts), ts)
            continue
        start[key] = min(start.get(key, ts), ts)
        block = event.get("block", {}).get("id") if kind.endswith("candidateReceived") else None
        if block is not None and key not in blocks:
            blocks[key] = block_id(block)
    durations = [(finalized[k] - start[k], k) for k in finalized if k in start and k in blocks]
    seconds, key = max(durations)
    return seconds, blocks[key], str(key[1])


def test_prometheus_returns_the_exemplars_of_the_slowest_notarization_and_slot_naming_their_block_and_slot(
    tmp_path: Path,
) -> None:
    source = tmp_path / "node1" / "session-logs.jsonl.gz"
    source.parent.mkdir()
    shutil.copy(DATA / "session-logs-node1.jsonl.gz", source)
    slowest = {
        "tonex_consensus_notarization_seconds_bucket": slowest_notarization(source),
        "tonex_consensus_slot_seconds_bucket": slowest_slot(source),
    }
    exporter = ExporterProcess(
        tmp_path, ["serve", "--from-start", "--run", "exemplars", "--session-logs", f"node1={source}"]
    )
    prometheus = PrometheusServer(
        tmp_path, [f"127.0.0.1:{exporter.port}"], flags=("--enable-feature=exemplar-storage",)
    )
    try:

        def exemplars(family: str) -> list[dict[str, object]]:
            query = {"query": family, "start": "0", "end": str(time.time() + 60)}
            status, _, body = http_get(f"{prometheus.url}/api/v1/query_exemplars?" + urllib.parse.urlencode(query))
            assert status == 200, body
            return [e for series in json.loads(body)["data"] for e in series["exemplars"]]

        def top(family: str) -> dict[str, object] | None:
            """The largest exemplar once the expected one is stored (slots retire over the first scrapes)."""
            found = exemplars(family)
            if not found:
                return None
            best = max(found, key=lambda e: float(str(e["value"])))
            return best if float(str(best["value"])) >= slowest[family][0] - 1e-9 else None

        for family, (seconds, block, slot) in slowest.items():
            stored = wait_until(partial(top, family), 60, f"the slowest exemplar of {family} stored by Prometheus")
            assert stored["labels"] == {"block": block, "slot": slot}, family
            assert abs(float(str(stored["value"])) - seconds) < 1e-9, family
    finally:
        prometheus.stop()
        exporter.stop()
