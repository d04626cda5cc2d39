"""CON-21/CON-22 on the real files: shard→master and master→shard accept latencies, per node.

Expected values come straight from the JSON here (json alone, not the exporter's parsers): a node's accept time of
a block is its `blockAccepted` ts, the block named by its `candidateReceived` of the same (session, slot, hash);
masterchain rows' `shard_configuration` say which shard blocks each masterchain block newly includes, shard rows'
`mc_block_id` which masterchain block a shard block is based on.
"""

import json
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import FakeWall, real_lines
from tests.metrics_text import Samples, assert_histogram, scrape, total
from ton_exporter.aggregation.buckets import LATENCY_BUCKETS
from ton_exporter.aggregation.crosslinks import BlockLinks
from ton_exporter.app import Exporter
from ton_exporter.parsers.shard_ids import DEFAULT_RULES
from ton_exporter.sources.discovery import SourcePattern

Block = tuple[int, str, int]
MC_SHARD = "-9223372036854775808"


def raw_structure(nodes: tuple[int, ...]) -> tuple[dict[int, dict[tuple[int, str], int]], dict[Block, int]]:
    """(masterchain seqno -> shard tops, shard block -> masterchain seqno it is based on) from the rows of `nodes`."""
    tops: dict[int, dict[tuple[int, str], int]] = {}
    based: dict[Block, int] = {}
    for node in nodes:
        for line in real_lines(node):
            record = json.loads(line)
            if record["@type"] != "validatorStats.collatedBlock":
                continue
            b = record["block_id"]
            stats = record["block_stats"]
            if b["workchain"] == -1:
                tops[b["seqno"]] = {(s["workchain"], s["shard"]): s["seqno"] for s in stats["shard_configuration"]}
            else:
                based[(b["workchain"], b["shard"], b["seqno"])] = stats["mc_block_id"]["seqno"]
    return tops, based


def raw_accepts(node: int) -> dict[Block, float]:
    named: dict[tuple[str, int, str], Block] = {}
    accepted: dict[Block, float] = {}
    for line in real_lines(node):
        record = json.loads(line)
        if record["@type"] != "consensus.stats.events":
            continue
        for item in record["events"]:
            event = item["event"]
            kind = event["@type"]
            if kind == "consensus.stats.candidateReceived" and event["block"]["@type"] == "consensus.stats.block":
                i = event["block"]["id"]
                key = (record["id"], event["id"]["slot"], event["id"]["hash"])
                named[key] = (i["workchain"], i["shard"], i["seqno"])
            elif kind == "consensus.stats.blockAccepted":
                accepted[named[(record["id"], event["id"]["slot"], event["id"]["hash"])]] = item["ts"]
    return accepted


def expected(node: int, structure_from: tuple[int, ...]) -> dict[str, list[float]]:
    tops, based = raw_structure(structure_from)
    accepted = raw_accepts(node)
    out: dict[str, list[float]] = defaultdict(list)
    for mc, now in tops.items():
        before = tops.get(mc - 1)
        master = accepted.get((-1, MC_SHARD, mc))
        if before is None or master is None:
            continue
        for (wc, shard), top in now.items():
            for seqno in range(before[(wc, shard)] + 1, top + 1):
                if (wc, shard, seqno) in accepted:
                    out["shard_to_master"].append(master - accepted[(wc, shard, seqno)])
    for block, mc in based.items():
        if block in accepted and (-1, MC_SHARD, mc) in accepted:
            out["master_to_shard"].append(accepted[block] - accepted[(-1, MC_SHARD, mc)])
    return out


def read(tmp_path: Path, nodes: tuple[int, ...]) -> Samples:
    for node in nodes:
        (tmp_path / f"node{node}.jsonl").write_bytes(b"\n".join(real_lines(node)) + b"\n")
    sources = [SourcePattern(str(tmp_path / f"node{n}.jsonl"), f"node{n}") for n in nodes]
    exporter = Exporter(sources, from_start=True, wall=FakeWall())
    exporter.poll_once()
    return scrape(exporter.registry)


def check(samples: Samples, node: int, values: dict[str, list[float]]) -> None:
    for kind in ("shard_to_master", "master_to_shard"):
        name, got = f"tonex_consensus_{kind}_seconds", values[kind]
        labels = {"node": f"node{node}", "workchain": "0", "shard": "8000000000000000"}
        assert_histogram(samples, name, got, LATENCY_BUCKETS, 1e-9, **labels)


def test_central_mode_gives_every_node_every_pair_measured_on_its_own_accept_times(tmp_path: Path) -> None:
    """Both files read by one exporter: the structure of both nodes' rows, each node's own accept times."""
    samples = read(tmp_path, (1, 2))
    for node in (1, 2):
        values = expected(node, structure_from=(1, 2))
        assert len(values["shard_to_master"]) == 25
        assert len(values["master_to_shard"]) == 26
        assert all(v > 0 for vs in values.values() for v in vs)
        check(samples, node, values)
        for kind in ("shard_to_master", "master_to_shard"):
            inversions = total(samples, "tonex_consensus_link_inversions_total", node=f"node{node}", kind=kind)
            assert inversions == 0


def test_one_nodes_file_alone_gives_the_pairs_whose_rows_it_collated(tmp_path: Path) -> None:
    """A node's file has collated rows only for the blocks it collated: fewer pairs, the same definition."""
    samples = read(tmp_path, (1,))
    values = expected(1, structure_from=(1,))
    assert 0 < len(values["shard_to_master"]) < 25
    assert 0 < len(values["master_to_shard"]) < 26
    check(samples, 1, values)


def test_the_latencies_survive_a_restart_from_the_checkpoint(tmp_path: Path) -> None:
    """A counter Prometheus has seen never goes back: the histograms are saved with the offsets."""
    for node in (1, 2):
        (tmp_path / f"node{node}.jsonl").write_bytes(b"\n".join(real_lines(node)) + b"\n")
    sources = [SourcePattern(str(tmp_path / f"node{n}.jsonl"), f"node{n}") for n in (1, 2)]
    first = Exporter(sources, from_start=True, state_dir=tmp_path / "state", wall=FakeWall())
    first.poll_once()
    first.close()
    second = Exporter(sources, from_start=True, state_dir=tmp_path / "state", wall=FakeWall())
    second.poll_once()  # nothing new past the saved offsets
    samples = scrape(second.registry)
    for node in (1, 2):
        check(samples, node, expected(node, structure_from=(1, 2)))


def _id(wc: int, seqno: int) -> dict[str, object]:
    return {"workchain": wc, "shard": "-9223372036854775808", "seqno": seqno}


def _accept(links: BlockLinks, node: str, block: dict[str, object], slot: int, at: float) -> None:
    candidate = {"@type": "consensus.stats.candidateReceived", "id": {"slot": slot, "hash": "h"}}
    events = [
        {"ts": at - 0.1, "event": {**candidate, "block": {"@type": "consensus.stats.block", "id": block}}},
        {"ts": at, "event": {"@type": "consensus.stats.blockAccepted", "id": {"slot": slot, "hash": "h"}}},
    ]
    links.events(node, {"id": f"session{block['workchain']}", "events": events})


def test_pairs_join_in_any_order_and_an_inverted_pair_is_counted_not_observed() -> None:
    """Accepts before the rows, rows before the accepts: each pair once; a shard block a node accepted before the
    masterchain block it is based on (a negative latency) goes to the inversions."""
    links = BlockLinks()
    _accept(links, "n", _id(-1, 10), 10, 100.0)
    _accept(links, "n", _id(0, 5), 5, 100.5)  # based on mc 10: +0.5
    _accept(links, "n", _id(0, 6), 6, 99.0)  # based on mc 10, accepted before it: inverted
    for seqno, tops in ((10, 4), (11, 6)):
        config = [_id(0, tops)]
        links.collated({"block_id": _id(-1, seqno), "block_stats": {"shard_configuration": config}}, DEFAULT_RULES)
    for seqno in (5, 6):
        links.collated({"block_id": _id(0, seqno), "block_stats": {"mc_block_id": _id(-1, 10)}}, DEFAULT_RULES)
    _accept(links, "n", _id(-1, 11), 11, 101.0)  # newly includes shard 5 and 6: +0.5 and +2.0
    node = links.nodes["n"]
    master_to_shard = node.latencies[("master_to_shard", "0", "8000000000000000")]
    shard_to_master = node.latencies[("shard_to_master", "0", "8000000000000000")]
    assert master_to_shard.count == 1
    assert master_to_shard.sum == pytest.approx(0.5)
    assert shard_to_master.count == 2
    assert shard_to_master.sum == pytest.approx(2.5)
    assert node.negative == {"master_to_shard": 1}
