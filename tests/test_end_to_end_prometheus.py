"""The exporter tails real files that grow line by line; a real Prometheus scrapes it; PromQL answers equal
values computed by hand from the files."""

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.conftest import real_lines
from tests.servers import ExporterProcess, PrometheusServer, wait_until
from ton_exporter.aggregation.buckets import LATENCY_BUCKETS

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ExporterProcess, PrometheusServer, Path]]:
    network = tmp_path / "net"
    for n in (1, 2):
        (network / f"node{n}").mkdir(parents=True)
        (network / f"node{n}" / "session-logs").touch()
    exporter = ExporterProcess(
        tmp_path,
        [
            "serve",
            "--run",
            "e2e",
            "--session-logs",
            str(network / "node1" / "session-logs"),
            "--session-logs",
            str(network / "node2" / "session-logs"),
        ],
    )
    prometheus = PrometheusServer(tmp_path, [f"127.0.0.1:{exporter.port}"])
    try:
        yield exporter, prometheus, network
    finally:
        prometheus.stop()
        exporter.stop()


def append_line_by_line(network: Path) -> None:
    """Both nodes' real lines, interleaved, one open/write/close per line like the engine."""
    lines = {n: real_lines(n) for n in (1, 2)}
    for i in range(max(len(v) for v in lines.values())):
        for n, node_lines in lines.items():
            if i < len(node_lines):
                with open(network / f"node{n}" / "session-logs", "ab") as f:
                    f.write(node_lines[i] + b"\n")
        time.sleep(0.005)


def test_promql_answers_equal_hand_computed_values(stack: tuple[ExporterProcess, PrometheusServer, Path]) -> None:
    _, prometheus, network = stack
    wait_until(lambda: prometheus.values("up") == {"": 1.0}, 60, "first scrape of the exporter")
    append_line_by_line(network)
    prometheus.wait_for_value("sum(tonex_source_lines_parsed_total)", 96 + 92)

    per_workchain = {  # the same count for the masterchain (-1) and the basechain (0) in this data
        'tonex_collated_blocks_total{node="node1"}': 16,
        'tonex_collated_blocks_total{node="node2"}': 14,
        'tonex_validated_blocks_total{result="valid"}': 60,
    }
    for selector, count in per_workchain.items():
        assert prometheus.values(f"sum by (workchain) ({selector})", "workchain") == {"-1": count, "0": count}
    assert prometheus.values('sum by (node) (tonex_collated_transactions_total{workchain="-1"})', "node") == {
        "node1": 103,
        "node2": 73,
    }
    assert prometheus.values("sum(tonex_source_lines_rejected_total)") == {"": 0}

    # node1's 16 masterchain total_time values, bucketed by hand: Prometheus interpolates inside the bucket where
    # the rank q * 16 falls.
    q = 'histogram_quantile({}, sum by (le) (tonex_collation_total_seconds_bucket{{node="node1",workchain="-1"}}))'
    for quantile in (0.5, 0.9):
        assert prometheus.values(q.format(quantile))[""] == pytest.approx(by_hand(quantile, masterchain_totals(1)))

    # The window [17:20:00, 17:21:00) is complete once the event clock passed 17:21:10 and every slot with an event
    # in it retired (15 s after the slot's last event): on each node by its own clock.
    for node in ("node1", "node2"):
        prometheus.wait_for_value(f'tonex_window_start_timestamp_seconds{{node="{node}"}}', 1781457600, timeout=45)
    assert prometheus.values('tonex_window_collated_blocks{node="node1"}', "workchain") == {"-1": 8, "0": 8}
    assert prometheus.values('tonex_window_collated_blocks{node="node2"}', "workchain") == {"-1": 5, "0": 5}
    assert prometheus.values('tonex_window_collation_block_bytes{node="node1",workchain="-1"}', "agg") == {
        "avg": 60513 / 8,
        "min": 5538,
        "max": 10008,
        "sum": 60513,
    }
    assert prometheus.values('sum by (workchain) (tonex_window_accepted_blocks{node="node2"})', "workchain") == {
        "-1": 13,
        "0": 13,
    }


def masterchain_totals(node: int) -> list[float]:
    records = [orjson.loads(line) for line in real_lines(node)]
    collated = [r for r in records if r["@type"] == "validatorStats.collatedBlock"]
    return sorted(r["total_time"] for r in collated if r["block_id"]["workchain"] == -1)


def by_hand(q: float, values: list[float]) -> float:
    """histogram_quantile over LATENCY_BUCKETS: linear inside the bucket that holds rank q * n."""
    rank = q * len(values)
    below, lower = 0, 0.0
    for bound in LATENCY_BUCKETS:
        upto = sum(1 for v in values if v <= bound)
        if upto >= rank:
            return lower + (bound - lower) * (rank - below) / (upto - below)
        below, lower = upto, bound
    raise AssertionError("beyond the last bucket")
