"""Window gauges show the newest complete 60 s window of event time, whatever the reading speed."""

from pathlib import Path

import orjson
import pytest

from tests.conftest import FakeWall
from tests.metrics_text import Samples, scrape, value
from ton_exporter.aggregation.event_clock import EventClock, window_start
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern

W600, W660 = 1781457600, 1781457660  # the two windows of the real run (17:20:54.8 - 17:21:06.5 UTC)


@pytest.fixture
def wall() -> FakeWall:
    return FakeWall()


@pytest.fixture
def exporter(tontester_dir: Path, wall: FakeWall) -> Exporter:
    logs = [SourcePattern(str(tontester_dir / f"node{n}" / "session-logs"), f"node{n}") for n in (1, 2)]
    e = Exporter(logs, from_start=True, wall=wall)
    e.poll_once()
    return e


def window(samples: Samples, name: str, node: str, **labels: str) -> float:
    return value(samples, name, node=node, **labels)


def test_clock_runs_on_from_the_newest_event() -> None:
    wall = FakeWall()
    clock = EventClock(lateness=10, wall=wall)
    assert clock.complete_window() is None
    clock.observe(125.0)
    assert clock.complete_window() == 0  # 125 - 70 = 55
    clock.observe(100.0)  # older events never move the clock back
    wall.now += 5
    assert clock.complete_window() == 60  # 130 - 70 = 60: window [60, 120) is complete
    assert window_start(119.999) == 60


def test_windows_of_a_finished_file_appear_one_after_another(exporter: Exporter, wall: FakeWall) -> None:
    samples = scrape(exporter.registry)
    # 666.5 - 70 = 596.5: only the (empty) window before the run is complete yet
    assert window(samples, "tonex_window_start_timestamp_seconds", "node1") == W600 - 60
    assert window(samples, "tonex_window_collated_blocks", "node1", workchain="-1") == 0

    wall.now += 3.6  # the event clock passes 600 + 60 + 10, but slots that began before 660 are still open
    assert window(scrape(exporter.registry), "tonex_window_start_timestamp_seconds", "node1") == W600 - 60
    wall.now += 6  # 9.6 s: every slot with an event before 660 is retired (its last event + 15 s)
    s = scrape(exporter.registry)
    assert window(s, "tonex_window_start_timestamp_seconds", "node1") == W600
    assert {n: window(s, "tonex_window_collated_blocks", n, workchain="-1") for n in ("node1", "node2")} == {
        "node1": 8,
        "node2": 5,
    }
    assert window(s, "tonex_window_validated_blocks", "node1", workchain="0", result="valid") == 13
    assert window(s, "tonex_window_accepted_blocks", "node1", workchain="-1") == 13
    # node1 masterchain collations in [600, 660): 8 blocks, 60,513 bytes, 5,538 .. 10,008
    aggs = {
        a: window(s, "tonex_window_collation_block_bytes", "node1", workchain="-1", agg=a)
        for a in ("avg", "min", "max", "sum")
    }
    assert aggs == {"avg": 60513 / 8, "min": 5538, "max": 10008, "sum": 60513}
    assert window(s, "tonex_window_collation_block_observations", "node1", workchain="-1") == 8

    wall.now += 60
    s = scrape(exporter.registry)
    assert window(s, "tonex_window_start_timestamp_seconds", "node1") == W660
    assert window(s, "tonex_window_collated_blocks", "node2", workchain="0") == 9
    assert window(s, "tonex_window_validated_blocks", "node2", workchain="0", result="valid") == 17

    wall.now += 60  # the node has gone quiet: the next window shows no activity
    s = scrape(exporter.registry)
    assert window(s, "tonex_window_collated_blocks", "node1", workchain="-1") == 0
    assert window(s, "tonex_window_collation_block_observations", "node1", workchain="-1") == 0
    assert not [k for k in s if k[0] == "tonex_window_collation_block_bytes"]
    assert value(s, "tonex_collated_blocks_total", node="node1", workchain="-1") == 16  # counters keep all


def test_a_record_for_a_forgotten_window_is_counted_late(
    exporter: Exporter, wall: FakeWall, tontester_dir: Path
) -> None:
    wall.now += 63.6  # window 660 is shown, 600 is forgotten
    scrape(exporter.registry)
    late = orjson.loads((tontester_dir / "node1" / "session-logs").read_bytes().splitlines()[0])
    assert late["collated_at"] < W660
    with open(tontester_dir / "node1" / "session-logs", "ab") as f:
        f.write(orjson.dumps(late) + b"\n")
    exporter.poll_once()
    s = scrape(exporter.registry)
    assert value(s, "tonex_window_late_records_total", node="node1") == 1
    assert value(s, "tonex_collated_blocks_total", node="node1", workchain="-1") == 17
    assert window(s, "tonex_window_collated_blocks", "node1", workchain="-1") == 8  # window 660 unchanged
