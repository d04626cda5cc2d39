"""The demo replays the real files as a network runs: each loop continues the session (later slots, seqnos and
times), so every consensus counter of the demo equals, per loop, what the real files give."""

import asyncio
from pathlib import Path

import orjson
import pytest

from tests.conftest import FakeWall
from tests.live_session import count_node, phase_values, slot_counts
from tests.metrics_text import Samples, scrape, total
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern
from ton_exporter.sources.replay import Replay, load_bundled

LOOPS = 4
NODES = ("node1", "node2")
# Every consensus counter and histogram count; each loop adds what the real files give.
PHASES = "collation validation received_to_validated notarize_vote finalize_vote notarization finalization accept slot"
PHASE_COUNTS = tuple(f"tonex_consensus_{phase}_seconds_count" for phase in PHASES.split())
PER_LOOP = (
    "tonex_consensus_events_total",
    "tonex_consensus_slots_total",
    "tonex_consensus_finalized_slots_total",
    "tonex_consensus_skipped_slots_total",
    "tonex_consensus_empty_candidates_total",
    "tonex_consensus_collations_total",
    "tonex_consensus_unfinished_collations_total",
    "tonex_consensus_drifted_collations_total",
    "tonex_consensus_unexpected_leader_collations_total",
    "tonex_consensus_votes_total",
    "tonex_consensus_certificates_total",
    "tonex_accepted_blocks_total",
    "tonex_collated_blocks_total",
    "tonex_validated_blocks_total",
    "tonex_consensus_network_phase_seconds_count",
    *PHASE_COUNTS,
)


def read(paths: list[tuple[Path, str]]) -> Samples:
    wall = FakeWall()
    exporter = Exporter([SourcePattern(str(p), node) for p, node in paths], from_start=True, wall=wall)
    exporter.poll_once()
    wall.now += 100
    return scrape(exporter.registry)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Replay, Samples]:
    directory = tmp_path_factory.mktemp("demo")
    replay = Replay(directory, load_bundled(), rotate_bytes=1 << 30)
    # begun LOOPS periods ago: every loop is due, so the files are written at once
    asyncio.run(replay.run(loops=LOOPS, history=LOOPS * replay.period + 1))
    return replay, read([(replay.path(node), node) for node in NODES])


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    directory = tmp_path_factory.mktemp("real")
    paths = []
    for node, records in load_bundled().items():
        path = directory / node / "session-logs"
        path.parent.mkdir()
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        paths.append((path, node))
    return read(paths)


def test_every_consensus_counter_of_the_demo_is_the_real_files_times_the_loops(
    demo: tuple[Replay, Samples], real: Samples
) -> None:
    _, samples = demo
    series = {(n, ls) for (n, ls) in real if n in PER_LOOP}
    assert len(series) > 100
    for name, labels in series:
        if ("type", "consensus.stats.id") in labels:  # one session: its first batch only names it
            assert samples[(name, labels)] == real[(name, labels)] == 1
            continue
        assert samples[(name, labels)] == LOOPS * real[(name, labels)], (name, dict(labels))
    assert total(samples, "tonex_consensus_unidentified_sessions") == 0
    assert total(real, "tonex_consensus_unfinished_collations_total") == 1  # node1's shard session's last batch
    # The finalization interval also spans from one loop's last finalized slot to the next loop's first.
    for node in NODES:
        for workchain in ("-1", "0"):
            name = "tonex_consensus_finalization_interval_seconds_count"
            once = total(real, name, node=node, workchain=workchain)
            assert total(samples, name, node=node, workchain=workchain) == LOOPS * once + LOOPS - 1


def test_each_loop_of_the_files_holds_the_events_of_the_real_files(demo: tuple[Replay, Samples]) -> None:
    """Counted from the raw JSON of the demo's files, loop by loop (a loop's slots are a range of its own)."""
    replay, _ = demo
    span = replay.continuation.slots
    for node in NODES:
        records = [orjson.loads(line) for line in replay.path(node).read_bytes().splitlines()]
        real = count_node(load_bundled()[node])
        demo_count = count_node(records)
        for workchain in ("-1", "0"):
            for loop in range(LOOPS):
                part = count_node([])
                part.workchain, part.idx = demo_count.workchain, demo_count.idx
                for (sid, number), events in demo_count.slots.items():
                    if number // span == loop:
                        part.slots[(sid, number - loop * span)] = {
                            k: v - loop * replay.period for k, v in events.items()
                        }
                assert slot_counts(part, workchain) == slot_counts(real, workchain), (node, workchain, loop)
                for phase in ("collation", "notarization", "finalization", "accept", "validation"):
                    assert phase_values(part, workchain, phase) == pytest.approx(
                        phase_values(real, workchain, phase), abs=1e-5
                    )
        validated = [r for r in records if r["@type"] == "validatorStats.validatedBlock"]
        seqnos = sorted(r["block_id"]["seqno"] for r in validated if r["block_id"]["workchain"] == -1)
        assert seqnos == list(range(1, LOOPS * replay.continuation.seqnos + 1))  # the chain goes on, 30 a loop
