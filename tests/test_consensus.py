"""The consensus slot model on the real files: phase durations, slot counts, the network view and timelines.

Expected values are computed here straight from the JSON of the files (per slot: the events' `ts`), independently
of the exporter's slot model; ../shared/data/README.md quotes several of them (node1: notarize certificate
2.3/5.9/15.4 ms after candidateReceived, validation 0.3/1.8/4.9 ms, accept 10.0/13.7/34.8 ms).
"""

import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import FakeWall, consensus_events, real_lines
from tests.metrics_text import Samples, scrape, total, value
from tests.servers import ExporterProcess, PrometheusServer, wait_until
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

VOTE = {"consensus.simplex.notarizeVote": "notarize", "consensus.simplex.finalizeVote": "finalize"}


def slot_events(node: int) -> dict[tuple[str, int], dict[str, float]]:
    """(session, slot) -> the time of each event kind, from the raw JSON."""
    slots: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for session, ts, event in consensus_events(real_lines(node)):
        kind = event["@type"].rsplit(".", 1)[1]
        if kind in ("voted", "certObserved"):
            vote = event["vote"]
            slots[(session, vote["id"]["slot"])][f"{kind}:{VOTE[vote['@type']]}"] = ts
        elif kind == "collateStarted":
            slots[(session, event["target_slot"])].setdefault(kind, ts)
        elif "id" in event and isinstance(event["id"], dict):
            slots[(session, event["id"]["slot"])].setdefault(kind, ts)
    return slots


def durations(node: int, first: str, second: str) -> list[float]:
    return [e[second] - e[first] for e in slot_events(node).values() if first in e and second in e]


@pytest.fixture(scope="module")
def both_nodes(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    directory = tmp_path_factory.mktemp("consensus")
    for node in (1, 2):
        (directory / f"node{node}").mkdir()
        (directory / f"node{node}" / "session-logs").write_bytes(b"\n".join(real_lines(node)) + b"\n")
    wall = FakeWall()
    exporter = Exporter(
        [SourcePattern(str(directory / f"node{n}" / "session-logs"), f"node{n}") for n in (1, 2)],
        from_start=True,
        wall=wall,
    )
    exporter.poll_once()
    wall.now += 100  # long after the last event: every slot is retired
    return scrape(exporter.registry)


@pytest.mark.parametrize("node", [1, 2])
@pytest.mark.parametrize(
    ("phase", "first", "second"),
    [
        ("notarization", "candidateReceived", "certObserved:notarize"),
        ("finalization", "certObserved:notarize", "certObserved:finalize"),
        ("validation", "validationStarted", "validationFinished"),
        ("received_to_validated", "candidateReceived", "validationFinished"),
        ("notarize_vote", "candidateReceived", "voted:notarize"),
        ("finalize_vote", "certObserved:notarize", "voted:finalize"),
        ("accept", "certObserved:finalize", "blockAccepted"),
    ],
)
def test_phase_histograms_equal_the_events_of_the_files(
    both_nodes: Samples, node: int, phase: str, first: str, second: str
) -> None:
    expected = durations(node, first, second)
    assert len(expected) == 52  # 26 finalized slots in each of the two sessions
    name = f"tonex_consensus_{phase}_seconds"
    assert total(both_nodes, name + "_count", node=f"node{node}") == 52
    assert total(both_nodes, name + "_sum", node=f"node{node}") == pytest.approx(sum(expected), abs=1e-9)


def test_quoted_figures_for_node1(both_nodes: Samples) -> None:
    notarization = durations(1, "candidateReceived", "certObserved:notarize")
    assert (round(min(notarization) * 1000, 1), round(max(notarization) * 1000, 1)) == (2.3, 15.4)
    mean = total(both_nodes, "tonex_consensus_notarization_seconds_sum", node="node1") / 52
    assert round(mean * 1000, 1) == 5.9
    le_2ms = total(both_nodes, "tonex_consensus_notarization_seconds_bucket", node="node1", le="0.00205")
    le_3ms = total(both_nodes, "tonex_consensus_notarization_seconds_bucket", node="node1", le="0.00316")
    assert le_2ms == 0  # the fastest is 2.3 ms
    assert le_3ms == sum(1 for d in notarization if d <= 0.00316) > 0


# Masterchain slots 0-2, by hand from the raw events (ms). node1 leads them (slot // 4 % 2 == idx 0), so its
# notarize part starts at its collateFinished; node2's starts at candidateReceived. Slot 0 of node1:
# collateStarted .836616, collateFinished .843338, certObserved notarize .858985, finalize .860302, accepted .895096.
HAND_TIMELINE = {
    ("node1", 0): {"collate": 6.722, "notarize": 15.647, "finalize": 1.317, "accept": 34.794},
    ("node1", 1): {"collate": 7.283, "notarize": 12.934, "finalize": 1.282, "accept": 13.512},
    ("node1", 2): {"collate": 5.508, "notarize": 8.098, "finalize": 1.870, "accept": 14.450},
    ("node2", 0): {"notarize": 2.954, "finalize": 5.578, "accept": 35.871},
    ("node2", 1): {"notarize": 8.385, "finalize": 3.000, "accept": 12.623},
    ("node2", 2): {"notarize": 5.002, "finalize": 2.911, "accept": 15.853},
}


def test_slot_timeline_parts_equal_hand_computed_durations(both_nodes: Samples) -> None:
    for (node, slot), parts in HAND_TIMELINE.items():
        labels = {"node": node, "workchain": "-1", "position": str(slot)}
        assert value(both_nodes, "tonex_consensus_timeline_slot", **labels) == slot
        assert value(both_nodes, "tonex_consensus_timeline_leader", **labels) == 0
        assert value(both_nodes, "tonex_consensus_timeline_outcome", **labels) == 1
        exported = {
            dict(ls)["part"]: round(v * 1000, 3)
            for (name, ls), v in both_nodes.items()
            if name == "tonex_consensus_timeline_part_seconds" and set(labels.items()) <= ls
        }
        assert exported == parts, (node, slot)


def test_collations_match_the_collate_events(both_nodes: Samples) -> None:
    for node, idx, collations in ((1, "0", 28), (2, "1", 24)):
        assert total(both_nodes, "tonex_consensus_collations_total", node=f"node{node}", leader_idx=idx) == collations
        expected = durations(node, "collateStarted", "collateFinished")
        assert total(both_nodes, "tonex_consensus_collation_seconds_sum", node=f"node{node}") == pytest.approx(
            sum(expected), abs=1e-9
        )
    assert total(both_nodes, "tonex_consensus_unexpected_leader_collations_total") == 0
    # node1's shard session ends with collateStarted(26) and no finish: its last batch was lost at shutdown
    assert value(both_nodes, "tonex_consensus_unfinished_collations_total", node="node1", workchain="0") == 1
    assert total(both_nodes, "tonex_consensus_unfinished_collations_total", node="node2") == 0


def test_no_phantom_slots_for_the_seqnos_without_events(both_nodes: Samples) -> None:
    for node in ("node1", "node2"):
        for workchain in ("-1", "0"):
            assert value(both_nodes, "tonex_consensus_slots_total", node=node, workchain=workchain) == 26
            assert value(both_nodes, "tonex_consensus_finalized_slots_total", node=node, workchain=workchain) == 26
    timeline = [v for (n, ls), v in both_nodes.items() if n == "tonex_consensus_timeline_slot"]
    assert max(timeline) == 26  # node1's unfinished collation; seqnos 27-30 (slots 26-29) have no events
    assert total(both_nodes, "tonex_consensus_skipped_slots_total") == 0
    assert total(both_nodes, "tonex_consensus_empty_candidates_total") == 0


def test_network_view_is_the_weighted_two_thirds(both_nodes: Samples) -> None:
    """Masterchain: 2 validators of weight 17 out of 34, threshold 23: both votes. Shard: 1 of 2, threshold 2."""
    expected: dict[str, list[float]] = {"notarize": [], "finalize": []}
    slots = {n: slot_events(n) for n in (1, 2)}
    for key, events in slots[1].items():
        other = slots[2].get(key, {})
        if "certObserved:notarize" not in events:
            continue  # node1's unfinished collation of shard slot 26
        reached = {}
        for vote in ("notarize", "finalize"):
            votes = [e[f"voted:{vote}"] for e in (events, other) if f"voted:{vote}" in e]
            certs = [e[f"certObserved:{vote}"] for e in (events, other) if f"certObserved:{vote}" in e]
            reached[vote] = min(max(votes), *certs) if len(votes) == 2 else min(certs)
        leader = events if "collateFinished" in events else other
        expected["notarize"].append(reached["notarize"] - leader["collateFinished"])
        expected["finalize"].append(reached["finalize"] - reached["notarize"])
    for phase, values in expected.items():
        assert total(both_nodes, "tonex_consensus_network_phase_seconds_count", phase=phase) == 52
        assert total(both_nodes, "tonex_consensus_network_phase_seconds_sum", phase=phase) == pytest.approx(
            sum(values), abs=1e-9
        )


def test_one_node_alone_has_no_network_view(tmp_path: Path) -> None:
    path = tmp_path / "session-logs"
    path.write_bytes(b"\n".join(real_lines(1)) + b"\n")
    wall = FakeWall()
    exporter = Exporter([SourcePattern(str(path), "node1")], from_start=True, wall=wall)
    exporter.poll_once()
    wall.now += 100
    samples = scrape(exporter.registry)
    assert total(samples, "tonex_consensus_network_phase_seconds_count") == 0
    assert total(samples, "tonex_consensus_notarization_seconds_count") == 52


def test_batches_in_any_order_give_the_same_phases(tmp_path: Path, both_nodes: Samples) -> None:
    """Batches arrive late and out of order: split each batch in two and shuffle every line of the file."""
    lines = []
    for line in real_lines(1):
        record = orjson.loads(line)
        if record["@type"] == "consensus.stats.events":
            half = len(record["events"]) // 2
            lines.append(orjson.dumps(record | {"events": record["events"][:half]}))
            lines.append(orjson.dumps(record | {"events": record["events"][half:]}))
        else:
            lines.append(line)
    random.Random(5).shuffle(lines)
    path = tmp_path / "session-logs"
    path.write_bytes(b"\n".join(lines) + b"\n")
    wall = FakeWall()
    exporter = Exporter([SourcePattern(str(path), "node1")], from_start=True, wall=wall)
    exporter.poll_once()
    wall.now += 100
    shuffled = scrape(exporter.registry)
    for phase in ("notarization", "finalization", "validation", "accept", "collation"):
        name = f"tonex_consensus_{phase}_seconds_sum"
        assert total(shuffled, name) == pytest.approx(total(both_nodes, name, node="node1"), abs=1e-9)
    assert total(shuffled, "tonex_consensus_slots_total") == 52


def synthetic_session(slots: int, *, empty: set[int] = frozenset(), skipped: set[int] = frozenset()) -> bytes:  # type: ignore[assignment]
    """A one-validator session: every slot collated, received, notarized and finalized, except the empty and
    skipped ones."""
    events: list[dict[str, Any]] = [
        ev(1000.0, "consensus.stats.id", workchain=0, shard="-9223372036854775808", cc_seqno=1, idx=0,
           total_validators=1, weight="1", total_weight="1", slots_per_leader_window=4),
    ]  # fmt: skip
    for s in range(slots):
        t = 1000.0 + s
        cid = {"@type": "consensus.candidateId", "slot": s, "hash": f"h{s}"}
        if s in skipped:
            skip = {"@type": "consensus.simplex.skipVote", "slot": s}
            events += [ev(t + 0.5, "consensus.simplex.stats.voted", vote=skip),
                       ev(t + 0.6, "consensus.simplex.stats.certObserved", vote=skip)]  # fmt: skip
            continue
        block = {"@type": "consensus.stats.empty"} if s in empty else {"@type": "consensus.stats.block"}
        notarize = {"@type": "consensus.simplex.notarizeVote", "id": cid}
        finalize = {"@type": "consensus.simplex.finalizeVote", "id": cid}
        events += [
            ev(t, "consensus.stats.collateStarted", target_slot=s),
            ev(t + 0.010, "consensus.stats.collateFinished", target_slot=s, id=cid),
            ev(t + 0.011, "consensus.stats.candidateReceived", id=cid, block=block, is_collator=True),
            ev(t + 0.015, "consensus.simplex.stats.voted", vote=notarize),
            ev(t + 0.016, "consensus.simplex.stats.certObserved", vote=notarize),
            ev(t + 0.018, "consensus.simplex.stats.voted", vote=finalize),
            ev(t + 0.019, "consensus.simplex.stats.certObserved", vote=finalize),
        ]
    return orjson.dumps({"@type": "consensus.stats.events", "id": "synthetic", "events": events})


def ev(ts: float, kind: str, **fields: Any) -> dict[str, Any]:
    return {"@type": "consensus.stats.timestampedEvent", "ts": ts, "event": {"@type": kind, **fields}}


def run_synthetic(tmp_path: Path, line: bytes) -> Samples:
    path = tmp_path / "session-logs"
    path.write_bytes(line + b"\n")
    wall = FakeWall()
    exporter = Exporter([SourcePattern(str(path), "n")], from_start=True, wall=wall)
    exporter.poll_once()
    wall.now += 100
    return scrape(exporter.registry)


def test_empty_candidates_and_skipped_slots(tmp_path: Path) -> None:
    samples = run_synthetic(tmp_path, synthetic_session(10, empty={3}, skipped={5, 6}))
    assert total(samples, "tonex_consensus_slots_total") == 10
    assert total(samples, "tonex_consensus_finalized_slots_total") == 8
    assert total(samples, "tonex_consensus_skipped_slots_total") == 2
    assert total(samples, "tonex_consensus_empty_candidates_total") == 1
    assert total(samples, "tonex_consensus_certificates_total", vote="skip") == 2
    outcomes = {dict(ls)["position"]: v for (n, ls), v in samples.items() if n == "tonex_consensus_timeline_outcome"}
    assert (outcomes["5"], outcomes["6"], outcomes["4"]) == (2, 2, 1)


def test_timeline_series_stay_bounded_however_many_slots(tmp_path: Path) -> None:
    samples = run_synthetic(tmp_path, synthetic_session(300))
    slots = {dict(ls)["position"]: v for (n, ls), v in samples.items() if n == "tonex_consensus_timeline_slot"}
    assert sorted(map(int, slots)) == list(range(64))
    assert sorted(slots.values()) == list(range(236, 300))  # the newest 64
    parts = {(dict(ls)["position"], dict(ls)["part"]): v for (n, ls), v in samples.items()
             if n == "tonex_consensus_timeline_part_seconds"}  # fmt: skip
    assert parts[("0", "collate")] == pytest.approx(0.010)  # slot 256: collate 10 ms
    assert parts[("0", "notarize")] == pytest.approx(0.006)  # collate end to notarize certificate
    assert parts[("0", "finalize")] == pytest.approx(0.003)


def test_prometheus_stores_each_slot_at_its_own_time(tmp_path: Path) -> None:
    """Timeline samples carry the slot's start as their timestamp; a real Prometheus keeps them there."""
    start = time.time() - 40  # the run happened 40 s ago: its slots retire 15 s after the last event
    shift = start - 1781457654.83
    lines = []
    for line in real_lines(1):
        record = orjson.loads(line)
        for key in ("collated_at", "validated_at"):
            if key in record:
                record[key] += shift
        for item in record.get("events", []):
            item["ts"] += shift
        lines.append(orjson.dumps(record))
    path = tmp_path / "node1" / "session-logs"
    path.parent.mkdir()
    path.write_bytes(b"\n".join(lines) + b"\n")
    exporter = ExporterProcess(tmp_path, ["serve", "--from-start", "--session-logs", str(path)])
    prometheus = PrometheusServer(tmp_path, [f"127.0.0.1:{exporter.port}"])
    try:
        query = 'tonex_consensus_timeline_slot{workchain="-1"}[10m]'
        result = wait_until(lambda: len(prometheus.query(query)) == 26 and prometheus.query(query), 60, query)
        stored = {int(float(v)): t for series in result for t, v in series["values"]}
        assert set(stored) == set(range(26))  # masterchain slots 0-25, each stored once
        for slot, at in stored.items():
            assert at == pytest.approx(min(slot_events_of(slot).values()) + shift, abs=0.002)
    finally:
        prometheus.stop()
        exporter.stop()


def slot_events_of(slot: int) -> dict[str, float]:
    """Masterchain slot `slot` of node1: its events and votes (certificates are not part of the start)."""
    events = next(e for (sid, n), e in slot_events(1).items() if sid.startswith("H/7E") and n == slot)
    return {k: v for k, v in events.items() if not k.startswith("certObserved")}


def candidate_receipts(node: int) -> dict[tuple[str, int], dict[bool, float]]:
    """(session, slot) -> is_collator -> the earliest candidateReceived of that kind, from the raw JSON."""
    out: dict[tuple[str, int], dict[bool, float]] = defaultdict(dict)
    for session, ts, event in consensus_events(real_lines(node)):
        if event["@type"] == "consensus.stats.candidateReceived":
            kinds = out[(session, event["id"]["slot"])]
            own = event["is_collator"] is True
            kinds[own] = min(kinds.get(own, ts), ts)
    return out


def test_candidate_propagation_is_the_producers_receipt_to_every_other_nodes(both_nodes: Samples) -> None:
    """CON-08: per slot, the leader's own candidateReceived (is_collator=true) to the other node's
    (is_collator=false); differences below zero (clocks) are left out."""
    receipts = {n: candidate_receipts(n) for n in (1, 2)}
    expected: dict[str, list[float]] = defaultdict(list)
    for producer, receiver in ((1, 2), (2, 1)):
        for key, kinds in receipts[producer].items():
            arrival = receipts[receiver].get(key, {}).get(False)
            if True in kinds and arrival is not None and arrival >= kinds[True]:
                workchain = "-1" if key[0].startswith("H/7E") else "0"  # the masterchain session's id
                expected[workchain].append(arrival - kinds[True])
    assert sum(len(v) for v in expected.values()) > 40
    for workchain, values in expected.items():
        name = "tonex_consensus_network_propagation_seconds"
        assert total(both_nodes, name + "_count", workchain=workchain) == len(values)
        assert total(both_nodes, name + "_sum", workchain=workchain) == pytest.approx(sum(values), abs=1e-9)
