"""Live equals batch: the real files of both nodes, repeated as one continuing session (SYNTHETIC, see
live_session.py), appended as the engine writes them, give every consensus figure and block counter that reading
the same files at once gives, and that an independent count of the raw events gives.

The wall clock of the live exporter follows the event time of the writes (a FakeWall moved by hand), so a run of
minutes is replayed in a moment with the timing the exporter would see.
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FakeWall
from tests.live_session import (
    NODES,
    append,
    continuing_records,
    count_node,
    engine_writes,
    phase_values,
    slot_counts,
    window_figures,
    write_files,
)
from tests.metrics_text import Samples, scrape, total, value
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern

REPETITIONS = 5
# Families whose value depends on how the file was read (reads, polls) or on when a scrape happens (windows).
NOT_COMPARED = (
    "tonex_source_",
    "tonex_window_",
    "tonex_file_",
    "tonex_build_info",
    "tonex_node_info",
    "tonex_scrape_",  # how long a scrape took
)


def exporter_for(paths: dict[str, Path], wall: FakeWall) -> Exporter:
    return Exporter([SourcePattern(str(p), node) for node, p in paths.items()], from_start=True, wall=wall)


def read_at_once(tmp_path: Path, repetitions: int) -> Samples:
    paths = write_files(tmp_path / "batch", engine_writes(repetitions, every=None))
    wall = FakeWall()
    exporter = exporter_for(paths, wall)
    exporter.poll_once()
    wall.now += 100  # long after the last event: every slot is retired
    return scrape(exporter.registry)


def read_live(
    tmp_path: Path, repetitions: int, every: float | None, check: Callable[[Samples], None] | None = None
) -> Samples:
    """Append the writes as the wall clock reaches them; scrape after each (and `check` the scrape)."""
    writes = engine_writes(repetitions, every)
    paths = write_files(tmp_path / "live", [])
    wall = FakeWall()
    exporter = exporter_for(paths, wall)
    start = wall.now - writes[0].due
    for write in writes:
        wall.now = start + write.due
        append(paths, write)
        exporter.poll_once()
        if check is None:
            list(exporter.registry.collect())  # a scrape in between (it retires slots) changes nothing
        else:
            check(scrape(exporter.registry))
    wall.now += 100
    exporter.poll_once()
    return scrape(exporter.registry)


def compared(samples: Samples) -> Samples:
    return {k: v for k, v in samples.items() if k[0].startswith("tonex_") and not k[0].startswith(NOT_COMPARED)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    return read_at_once(tmp_path_factory.mktemp("batch"), REPETITIONS)


@pytest.mark.parametrize(
    "every",
    [pytest.param(None, marks=pytest.mark.slow), 3.0, 13.0 / 4],
    ids=["line-by-line", "every-3s", "four-writes-a-run"],
)
def test_live_appends_give_every_figure_that_reading_the_file_at_once_gives(
    tmp_path: Path, batch: Samples, every: float | None
) -> None:
    live = compared(read_live(tmp_path, REPETITIONS, every))
    expected = compared(batch)
    assert set(live) == set(expected)
    differing = {k: (live[k], expected[k]) for k in expected if live[k] != pytest.approx(expected[k], abs=1e-9)}
    assert differing == {}


def test_the_figures_equal_an_independent_count_of_the_raw_events(batch: Samples) -> None:
    records = continuing_records(REPETITIONS)
    for node in NODES:
        count = count_node(r for _, r in records[node])
        for workchain in ("-1", "0"):
            labels = {"node": node, "workchain": workchain}
            expected = slot_counts(count, workchain)
            assert value(batch, "tonex_consensus_slots_total", **labels) == expected["slots"]
            assert value(batch, "tonex_consensus_finalized_slots_total", **labels) == expected["finalized"]
            assert value(batch, "tonex_accepted_blocks_total", **labels) == expected["accepted"]
            assert total(batch, "tonex_consensus_collations_total", **labels) == expected["collations"]
            assert value(batch, "tonex_consensus_unfinished_collations_total", **labels) == expected["unfinished"]
            for vote in ("notarize", "finalize", "skip"):
                assert value(batch, "tonex_consensus_votes_total", vote=vote, **labels) == expected[f"vote:{vote}"]
                assert (
                    value(batch, "tonex_consensus_certificates_total", vote=vote, **labels) == expected[f"cert:{vote}"]
                )
            for phase in (
                "collation", "validation", "received_to_validated", "notarize_vote", "finalize_vote",
                "notarization", "finalization", "accept", "slot", "finalization_interval",
            ):  # fmt: skip
                values = phase_values(count, workchain, phase)
                name = f"tonex_consensus_{phase}_seconds"
                assert total(batch, name + "_count", **labels) == len(values), (node, workchain, phase)
                assert total(batch, name + "_sum", **labels) == pytest.approx(sum(values), abs=1e-9)
        for (workchain, kind), n in count.events.items():
            assert value(batch, "tonex_consensus_events_total", node=node, workchain=workchain, type=kind) == n


def test_a_repetition_counts_what_the_run_alone_counts(batch: Samples, tmp_path: Path) -> None:
    """Each repetition adds exactly the run's counts: node1's shard session ends with a collation whose finish the
    engine lost, once per repetition."""
    once = read_at_once(tmp_path, 1)
    for name in (
        "tonex_consensus_slots_total",
        "tonex_consensus_collations_total",
        "tonex_consensus_unfinished_collations_total",
        "tonex_consensus_collation_seconds_count",
        "tonex_consensus_notarization_seconds_count",
        "tonex_accepted_blocks_total",
        "tonex_collated_blocks_total",
        "tonex_validated_blocks_total",
    ):
        for node in NODES:
            assert total(batch, name, node=node) == REPETITIONS * total(once, name, node=node), (name, node)
    assert value(batch, "tonex_consensus_unfinished_collations_total", node="node1", workchain="0") == REPETITIONS
    assert total(batch, "tonex_consensus_collations_total", node="node1", workchain="0") == 14 * REPETITIONS


WINDOW_START = "tonex_window_start_timestamp_seconds"


class WindowChecker:
    """Checks every window a scrape shows against the raw records: each gauge shows its window whole."""

    def __init__(self, repetitions: int) -> None:
        self.records = {node: [r for _, r in lines] for node, lines in continuing_records(repetitions).items()}
        self.shown: set[tuple[str, int]] = set()
        self.expected: dict[tuple[str, str, int], dict[tuple[str, str], float]] = {}

    def __call__(self, samples: Samples) -> None:
        for node in NODES:
            starts = [v for (n, ls), v in samples.items() if n == WINDOW_START and ("node", node) in ls]
            if not starts:
                continue  # no event read for it yet
            window = int(starts[0])
            self.shown.add((node, window))
            for workchain in ("-1", "0"):
                key = (node, workchain, window)
                if key not in self.expected:
                    self.expected[key] = window_figures(self.records[node], workchain, window)
                labels = {"node": node, "workchain": workchain}
                for (name, agg), expected in self.expected[key].items():
                    extra = {} if not agg else {"result": agg} if name.endswith("_blocks") else {"agg": agg}
                    shown = total(samples, name, **labels, **extra)
                    assert shown == pytest.approx(expected, rel=1e-9, abs=1e-12), (name, agg, key)


@pytest.mark.slow
def test_window_gauges_show_each_window_whole_live_and_after_reading_at_once(tmp_path: Path) -> None:
    repetitions = 12  # 2.6 min of events: two whole windows and the ones around them
    live = WindowChecker(repetitions)
    read_live(tmp_path, repetitions, 13.0 / 4, live)
    assert len({w for _, w in live.shown}) >= 3
    busy = [k for k, figures in live.expected.items() if figures[("tonex_window_collated_blocks", "")] > 0]
    assert len(busy) >= 8  # windows with blocks were shown, for both nodes and workchains

    paths = write_files(tmp_path / "batch", engine_writes(repetitions, every=None))
    wall = FakeWall()
    exporter = exporter_for(paths, wall)
    exporter.poll_once()
    batch = WindowChecker(repetitions)
    for _ in range(12):  # the clock runs on from the newest event: the last windows complete one by one
        batch(scrape(exporter.registry))
        wall.now += 10
    assert {w for _, w in batch.shown} & {w for _, w in live.shown}
