"""A consensus group takes a retirement's slots in bulk (ConsensusGroup.take); the general path hands it every
measurement one call at a time (Retired.replay: observe, count, timeline). Both must leave the same state, to the
last bit of every histogram sum, on the real files of both nodes read at once and read live, in small
retirements and large ones."""

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FakeWall
from tests.live_session import append, engine_writes, write_files
from ton_exporter.aggregation.consensus import ConsensusGroup
from ton_exporter.aggregation.slots import PhaseSink
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern

REPETITIONS = 6


def group_state(group: ConsensusGroup) -> dict[str, Any]:
    return {
        "events": dict(group.events),
        "counts": dict(group.counts),
        "labelled": dict(group.labelled),
        "phases": {name: (d.counts, d.sum, d.count) for name, d in group.phases.items()},
        "exemplars": group.exemplars,
        "windows": {w: dict(c) for w, c in group.windows.items()},
        "phase_windows": group.phase_windows,
        "timeline": list(group.timeline_ring),
    }


def state(exporter: Exporter) -> dict[str, Any]:
    nodes = {
        (name, key): group_state(group)
        for name, node in exporter.nodes.items()
        for key, group in node.consensus.groups.items()
    }
    network = {key: group_state(group) for key, group in exporter.network_groups.items()}
    return {"nodes": nodes, "network": network}


def read(tmp_path: Path, every: float | None) -> dict[str, Any]:
    """The real files of both nodes (repeated), read at once (`every` None) or appended as the engine writes
    them with a poll after each write."""
    writes = engine_writes(REPETITIONS, every)
    paths = write_files(tmp_path, [] if every is not None else writes)
    wall = FakeWall()
    exporter = Exporter([SourcePattern(str(p), node) for node, p in paths.items()], from_start=True, wall=wall)
    if every is not None:
        start = wall.now - writes[0].due
        for write in writes:
            wall.now = start + write.due
            append(paths, write)
            exporter.poll_once()
    else:
        exporter.poll_once()
    wall.now += 100  # every slot retired
    exporter.poll_once()
    for node in exporter.nodes.values():
        node.flush()
    exporter.settle_networks()
    return state(exporter)


@pytest.mark.parametrize("every", [None, 1.0], ids=["read at once", "read live"])
def test_bulk_and_one_by_one_leave_the_same_consensus_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: float | None
) -> None:
    bulk = read(tmp_path / "bulk", every)
    monkeypatch.setattr(ConsensusGroup, "take", PhaseSink.take)
    one_by_one = read(tmp_path / "general", every)
    assert bulk["nodes"], "the files have consensus groups"
    assert any(g["phases"] for g in bulk["network"].values()), "both nodes read: the network view measures"
    assert any(g["exemplars"] for g in bulk["nodes"].values())
    assert bulk == one_by_one
