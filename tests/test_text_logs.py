"""Text logs through the exporter: the committed SYNTHETIC sample (tests/fixtures/text-logs) gives the values counted
from it with grep and awk, in-process and through a real Prometheus; bad lines are counted by reason and logged
once; restarts and rotations count every line once."""

import logging
import shutil
import time
from collections import defaultdict
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from tests.metrics_text import Samples, scrape, total, value
from tests.servers import ExporterProcess, PrometheusServer
from ton_exporter.aggregation.event_clock import EventClock
from ton_exporter.aggregation.node import NodeState
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern
from ton_exporter.sources.file_stats import FileStats
from ton_exporter.text_log_pipeline import TextLogPipeline

SAMPLE = Path(__file__).parent / "fixtures" / "text-logs"

# Counted in the sample with grep and awk (colour codes removed with sed 's/\x1b\[[0-9;]*m//g'):
OPS = {
    "compress_candidate_data": 2,
    "decompress_candidate_data": 8,
    "deserialize_block_broadcast": 44,
    "deserialize_block_candidate_broadcast": 15,
    "deserialize_block_full": 2,
    "deserialize_candidate": 25,
    "serialize_block_broadcast": 17,
    "serialize_block_candidate_broadcast": 5,
    "serialize_block_full": 2,
    "serialize_candidate": 11,
}
COMPRESSIONS = {  # compressedV2<alg> (5 lines of serialize_block_broadcast) counted with compressedV2_<alg>
    "compressed": 78,
    "compressedV2": 8,
    "compressedV2_BaselineLZ4": 9,
    "compressedV2_ImprovedStructureLZ4": 11,
    "compressedV2_ImprovedStructureLZ4WithState": 8,
    "none": 17,
}
CALLED_FROM = {"collator_node": 6, "custom": 10, "fast-sync": 23, "public": 48, "validator_session": 30, "none": 14}
LEVELS = {"error": 1, "warning": 224, "info": 100, "debug": 38}
PREFIXED_LINES = {"node1": 86, "node2": 93, "node3": 91, "node4": 93}  # plus 3 continuation lines per node
COMPONENTS = {
    "BusRuntime.h": 70,
    "adnl-peer.cpp": 11,
    "candidate-serializer.cpp": 10,
    "collator.cpp": 12,
    "full-node-serializer.cpp": 85,
    "full-node-shard.cpp": 1,
    "payload.cpp": 30,
    "pool.cpp": 88,
    "quic-server.cpp": 16,
    "utils.cpp": 6,
    "validate-query.cpp": 30,
    "validator-engine.cpp": 4,
}
COMPRESSED_BYTES, ORIGINAL_BYTES, SECONDS = 17156237, 8252804, 1.166785
WITH_ORIGINAL_SIZE = 37
# time_sec of the 44 deserialize_block_broadcast lines: 38 are <= 0.00422 and 40 <= 0.00487 (buckets.py), so the
# 0.9 quantile (rank 39.6) is 0.00422 + (0.00487 - 0.00422) * (39.6 - 38) / 2
P90_DESERIALIZE_BLOCK_BROADCAST = 0.00474


def by(samples: Samples, name: str, label: str) -> dict[str, float]:
    out: defaultdict[str, float] = defaultdict(float)
    for (n, labels), v in samples.items():
        if n == name:
            out[dict(labels)[label]] += v
    return dict(out)


@pytest.fixture
def network(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "net", ignore=shutil.ignore_patterns("*.md"))
    return tmp_path / "net"


def read_sample(network: Path) -> Exporter:
    exporter = Exporter([SourcePattern(str(network / "node*" / "log*"), None, "text_log")], from_start=True)
    exporter.poll_once()
    return exporter


def test_sample_counts(network: Path) -> None:
    samples = scrape(read_sample(network).registry)
    assert by(samples, "tonex_broadcast_benchmark_seconds_count", "op") == OPS
    assert by(samples, "tonex_broadcast_benchmark_seconds_count", "compression") == COMPRESSIONS
    assert by(samples, "tonex_broadcast_benchmark_seconds_count", "called_from") == CALLED_FROM
    assert by(samples, "tonex_broadcast_benchmark_seconds_count", "stage") == {"compress": 37, "decompress": 94}
    assert total(samples, "tonex_broadcast_benchmark_compressed_bytes_sum") == COMPRESSED_BYTES
    assert total(samples, "tonex_broadcast_benchmark_original_bytes_sum") == ORIGINAL_BYTES
    assert total(samples, "tonex_broadcast_benchmark_seconds_sum") == pytest.approx(SECONDS)
    assert total(samples, "tonex_broadcast_benchmark_compression_ratio_count") == WITH_ORIGINAL_SIZE
    le = {"op": "deserialize_block_broadcast"}
    assert total(samples, "tonex_broadcast_benchmark_seconds_bucket", le="0.00422", **le) == 38
    assert total(samples, "tonex_broadcast_benchmark_seconds_bucket", le="0.00487", **le) == 40
    assert by(samples, "tonex_text_log_lines_total", "level") == LEVELS
    assert by(samples, "tonex_text_log_lines_total", "component") == COMPONENTS
    assert by(samples, "tonex_text_log_lines_total", "node") == PREFIXED_LINES
    assert by(samples, "tonex_text_log_continuation_lines_total", "node") == dict.fromkeys(PREFIXED_LINES, 3)
    assert total(samples, "tonex_source_lines_read_total") == 375
    assert total(samples, "tonex_source_lines_parsed_total") == 375
    assert total(samples, "tonex_source_lines_rejected_total") == 0
    # node3 logs with -l: nine files (log, log.thread1.log ... log.thread8.log), one node
    assert len([1 for (n, labels) in samples if n == "tonex_source_up" and ("node", "node3") in labels]) == 9


def test_line_by_line_path_agrees_with_the_bulk_path() -> None:
    """The bulk path must give exactly what the line-by-line path gives, on every line of the sample."""
    for path in sorted(SAMPLE.glob("node*/log*")):
        lines = path.read_bytes().split(b"\n")[:-1]
        bulk, single = (NodeState("n", "r", EventClock(10, time.monotonic)) for _ in range(2))
        bulk_stats, single_stats = FileStats(str(path), "n"), FileStats(str(path), "n")
        TextLogPipeline(bulk, bulk_stats).feed(0, lines)
        single_pipeline = TextLogPipeline(single, single_stats)
        for line in lines:
            single_pipeline._feed_lines(0, [line])
        assert bulk.text_log.lines == single.text_log.lines
        assert bulk.text_log.continuations == single.text_log.continuations == (3 if path.name == "log" else 0)
        assert bulk.text_log.benchmarks.keys() == single.text_log.benchmarks.keys()
        for key, series in bulk.text_log.benchmarks.items():
            for name, distribution in series.to_json().items():
                other = single.text_log.benchmarks[key].to_json()[name]
                assert (distribution["counts"], distribution["count"]) == (other["counts"], other["count"]), key
                assert distribution["sum"] == pytest.approx(other["sum"], rel=1e-12), key
        assert bulk.text_log.timings.keys() == single.text_log.timings.keys()
        for timing_key, distribution in bulk.text_log.timings.items():
            assert distribution.counts == single.text_log.timings[timing_key].counts, timing_key
        assert bulk_stats.lines_parsed == single_stats.lines_parsed == len(lines)
        assert bulk_stats.last_event_time == pytest.approx(single_stats.last_event_time, abs=0.001)


COLOURED_BAD = [
    b"Aborted (core dumped)",  # raw output after an entry that ended with ESC[0m
    b"",
    b"\x1b[1;33m[ 2][t 1][2026-07-16 10:00:09.000000001][payload.cpp:40][&VALIDATOR_SESSION_BENCHMARK]\t"
    b"Broadcast_benchmark serialize_candidate block_id=ab time_sec=0.1 compression=compressed\x1b[0m",
    b"\x1b[1;33m[ 2][t 1][2026-07-16 10:00:09.000000002][payload.cpp:40][&VALIDATOR_SESSION_BENCHMARK]\t"
    b"Broadcast_benchmark serialize_candidate block_id=ab time_sec=soon compression=compressed compressed_size=1"
    b"\x1b[0m",
    b"\x1b[1;36m[ 3][t 1][2026-07-16 10:00:09.000000003][peer.cpp:1]\tpeer name \xff\xfe\x1b[0m",
]


def test_bad_lines_are_counted_by_reason_logged_once_and_cost_no_good_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = (SAMPLE / "node1" / "log").read_bytes().split(b"\n")[:-1]  # 76 prefixed lines and 3 continuations
    lines = good[:40] + COLOURED_BAD + good[40:60] + COLOURED_BAD + good[60:]
    path = tmp_path / "node5" / "log"
    path.parent.mkdir()
    path.write_bytes(b"\n".join(lines) + b"\n")
    plain = tmp_path / "node6" / "log"  # -l: an entry is never known to be closed
    plain.parent.mkdir()
    plain.write_bytes(
        b"raw output before td started\n"
        b"[ 3][t 0][2026-07-16 10:00:00.000001][validator-engine.cpp:1]\tconfig:\n  a=1\n\n  b=2\n"
        b"[ 2][t 3][2026-07-16 10:00:01.000002][payload.cpp:40]\tBroadcast_benchmark serialize_candidate block_id=ab\n"
    )
    with caplog.at_level(logging.WARNING, logger="ton_exporter.source"):
        exporter = Exporter(
            [SourcePattern(str(tmp_path / "node*" / "log"), None, "text_log")], from_start=True, max_line_bytes=4096
        )
        exporter.poll_once()
    samples = scrape(exporter.registry)

    def rejected(node: str) -> dict[str, float]:
        return {
            dict(labels)["reason"]: v
            for (n, labels), v in samples.items()
            if n == "tonex_source_lines_rejected_total" and ("node", node) in labels and v
        }

    assert rejected("node5") == {"no_prefix": 2, "empty_line": 2, "bad_benchmark": 4, "not_utf8": 2}
    assert total(samples, "tonex_text_log_lines_total", node="node5") == 86
    assert value(samples, "tonex_text_log_continuation_lines_total", node="node5") == 3
    assert total(samples, "tonex_broadcast_benchmark_seconds_count", node="node5") == 32
    assert total(samples, "tonex_source_lines_parsed_total", node="node5") == 89
    assert rejected("node6") == {"no_prefix": 1, "bad_benchmark": 1}
    assert value(samples, "tonex_text_log_continuation_lines_total", node="node6") == 3
    assert total(samples, "tonex_text_log_lines_total", node="node6") == 1

    logged = [(r.__dict__["reason"], r.__dict__["offset"]) for r in caplog.records if r.msg == "rejected line"]
    first = len(b"\n".join(good[:40])) + 1
    offsets = [first + sum(len(b) + 1 for b in COLOURED_BAD[:i]) for i in range(len(COLOURED_BAD))]
    assert logged[:4] == [
        ("no_prefix", offsets[0]),
        ("empty_line", offsets[1]),
        ("bad_benchmark", offsets[2]),
        ("not_utf8", offsets[4]),
    ]
    assert all(r.__dict__["file"] == str(path) for r in caplog.records[:4] if r.msg == "rejected line")
    assert [reason for reason, _ in logged[4:]] == ["no_prefix", "bad_benchmark"]  # node6's, once each


def test_restart_and_td_rotation_count_every_line_once(tmp_path: Path) -> None:
    """Half the lines read, more appended, the file moved to .old (td's SIGHUP rotation) and the rest written to a
    new file, then a restart from the saved state: every line counted once."""
    lines = (SAMPLE / "node2" / "log").read_bytes().split(b"\n")[:-1]
    log = tmp_path / "node2" / "log"
    log.parent.mkdir()
    state = tmp_path / "state"
    sources = [SourcePattern(str(log), None, "text_log")]

    log.write_bytes(b"\n".join(lines[:30]) + b"\n")
    first = Exporter(sources, from_start=True, state_dir=state)
    first.poll_once()
    first.close()
    with open(log, "ab") as f:
        f.write(b"\n".join(lines[30:50]) + b"\n")
    log.rename(log.with_name("log.old"))
    log.write_bytes(b"\n".join(lines[50:]) + b"\n")

    second = Exporter(sources, state_dir=state)
    second.poll_once()
    samples = scrape(second.registry)
    assert total(samples, "tonex_text_log_lines_total") == PREFIXED_LINES["node2"]
    assert total(samples, "tonex_text_log_continuation_lines_total") == 3
    assert total(samples, "tonex_broadcast_benchmark_seconds_count") == 39  # grep -c Broadcast_benchmark node2/log
    assert total(samples, "tonex_source_lines_read_total") == 96
    assert total(samples, "tonex_source_rotations_total") == 1


def test_promql_on_the_sample_written_while_followed(tmp_path: Path) -> None:
    """The exporter follows a tontester-like directory before any log exists; the sample's files then appear and
    grow a few lines at a time (the -l thread files one after the other), and Prometheus sees every value."""
    network = tmp_path / "net"
    sources = sorted(SAMPLE.glob("node*/log*"))
    for node in {p.parent.name for p in sources}:
        (network / node).mkdir(parents=True)
    exporter = ExporterProcess(tmp_path, ["serve", "--run", "textlog", "--text-log", str(network / "node*" / "log*")])
    contents = {network / p.parent.name / p.name: p.read_bytes().splitlines(keepends=True) for p in sources}
    for step in range(0, max(map(len, contents.values())), 15):
        for target, lines in contents.items():
            with open(target, "ab") as f:
                f.write(b"".join(lines[step : step + 15]))
        time.sleep(0.05)
    prometheus = PrometheusServer(tmp_path, [f"127.0.0.1:{exporter.port}"])
    try:
        prometheus.wait_for_value("sum(tonex_text_log_lines_total)", sum(PREFIXED_LINES.values()))
        assert prometheus.values("sum by (op) (tonex_broadcast_benchmark_seconds_count)", "op") == OPS
        assert (
            prometheus.values("sum by (compression) (tonex_broadcast_benchmark_seconds_count)", "compression")
            == COMPRESSIONS
        )
        assert prometheus.values("sum by (level) (tonex_text_log_lines_total)", "level") == LEVELS
        assert prometheus.values("sum(tonex_broadcast_benchmark_compressed_bytes_sum)") == {"": COMPRESSED_BYTES}
        assert prometheus.values("sum(tonex_broadcast_benchmark_original_bytes_sum)") == {"": ORIGINAL_BYTES}
        buckets = 'tonex_broadcast_benchmark_seconds_bucket{op="deserialize_block_broadcast"}'
        q = f"histogram_quantile(0.9, sum by (le) ({buckets}))"
        assert prometheus.values(q)[""] == pytest.approx(P90_DESERIALIZE_BLOCK_BROADCAST)
        assert prometheus.values('count(tonex_text_log_lines_total{run="textlog"}) by (node)', "node").keys() == set(
            PREFIXED_LINES
        )
    finally:
        prometheus.stop()
        exporter.stop()


def test_text_log_families_are_empty_without_text_logs() -> None:
    """A node that only has session stats gets no text-log series, only the families' metadata."""
    text = generate_latest(Exporter([], from_start=True).registry).decode()
    assert "# TYPE tonex_text_log_lines_total counter" in text
    assert "tonex_text_log_lines_total{" not in text


def test_run_label_switch_moves_text_log_counts_to_the_new_run(tmp_path: Path) -> None:
    lines = (SAMPLE / "node1" / "log").read_bytes().split(b"\n")[:-1]  # 4 lines of start-up, then benchmarks
    log = tmp_path / "node1" / "log"
    log.parent.mkdir()
    log.write_bytes(b"\n".join(lines[:4]) + b"\n")
    exporter = Exporter([SourcePattern(str(log), None, "text_log")], run="first", from_start=True)
    exporter.poll_once()
    exporter.switch_run("second")
    with open(log, "ab") as f:
        f.write(b"\n".join(lines[4:]) + b"\n")
    exporter.poll_once()
    samples = scrape(exporter.registry)
    # the first 4 lines: the config message (1 line and 3 continuations); the rest: 85 lines, 32 benchmarks
    assert total(samples, "tonex_text_log_lines_total", run="first") == 1
    assert total(samples, "tonex_text_log_continuation_lines_total", run="first") == 3
    assert total(samples, "tonex_text_log_lines_total", run="second") == 85
    assert total(samples, "tonex_broadcast_benchmark_seconds_count", run="second") == 32
    assert total(samples, "tonex_broadcast_benchmark_seconds_count", run="first") == 0
