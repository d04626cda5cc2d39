"""Bounded series (issue 19, docs/series-bounds.md): label values from the data are checked, capped per node, and
the groups of shards that stopped producing leave /metrics without losing a block from the totals.

Inputs are SYNTHETIC (bench/shards.py): the real collatedBlock template with generated block ids.
"""

import logging
import re
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
from prometheus_client import generate_latest

from bench import shards
from tests.conftest import FakeWall
from tests.metrics_text import Samples, parse, total, value
from tests.test_cli import run as cli_run
from ton_exporter.aggregation.event_clock import EventClock
from ton_exporter.aggregation.limits import DEFAULT_LIMITS, DEFAULT_MAX_SHARDS_PER_NODE, Limits
from ton_exporter.aggregation.network import NetworkSlot
from ton_exporter.aggregation.node import NodeState
from ton_exporter.app import Exporter, RunNodes
from ton_exporter.parsers.consensus_events import Session
from ton_exporter.parsers.errors import RecordError
from ton_exporter.pipeline import SessionStatsPipeline
from ton_exporter.sources.discovery import SourcePattern
from ton_exporter.sources.file_stats import FileStats
from ton_exporter.sources.replay import load_bundled
from ton_exporter.text_log_pipeline import TextLogPipeline


def read(path: Path, limits: Limits = DEFAULT_LIMITS, wall: FakeWall | None = None) -> tuple[Exporter, str]:
    exporter = Exporter([SourcePattern(str(path), "n1")], from_start=True, wall=wall or FakeWall(), limits=limits)
    exporter.poll_once()
    return exporter, generate_latest(exporter.registry).decode()


def shard_values(samples: Samples) -> set[tuple[str, str]]:
    return {
        (labels["workchain"], labels["shard"])
        for (_, ls), _v in samples.items()
        if "shard" in (labels := dict(ls)) and "workchain" in labels
    }


GROUP_LABELS = re.compile(r'shard="([^"]*)",workchain="([^"]*)"')  # labels are written sorted


def series_count(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def all_time_blocks(samples: Samples, workchain: str | None = None) -> float:
    """Live collated-block series plus the retired totals: what a dashboard's all-time sum shows."""
    where = {} if workchain is None else {"workchain": workchain}
    return total(samples, "tonex_collated_blocks_total", **where) + total(
        samples, "tonex_retired_blocks_total", kind="collated", **where
    )


def test_three_thousand_random_shard_ids_are_rejected_by_reason_and_export_no_series_of_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ids = shards.random_shard_lines(3000)
    path = shards.write_lines(tmp_path / "session-stats.log", ids)
    with caplog.at_level(logging.INFO):
        _, text = read(path)
    samples = parse(text)
    wrong_workchain = sum(1 for wc, _ in ids if wc not in (-1, 0))
    rejected = {
        reason: value(samples, "tonex_source_lines_rejected_total", reason=reason)
        for reason in ("bad_workchain", "bad_shard")
    }
    assert rejected == {"bad_workchain": wrong_workchain, "bad_shard": len(ids) - wrong_workchain}
    assert shard_values(samples) == set()  # not one random id became a label value
    assert value(samples, "tonex_source_lines_parsed_total") == 0
    assert len(text) < 60_000, "a scrape of a few hundred series, not a million"
    assert sum(1 for r in caplog.records if "rejected" in r.getMessage()) <= 2 * 2, "logged once per reason"


def test_three_thousand_valid_random_shards_stay_under_the_cap_and_every_block_is_counted(tmp_path: Path) -> None:
    ids = shards.shallow_shard_lines(3000)
    assert len(set(ids)) > 2 * DEFAULT_MAX_SHARDS_PER_NODE
    path = shards.write_lines(tmp_path / "session-stats.log", ids, every=0.01)  # 30 s: no group goes idle
    _, text = read(path)
    samples = parse(text)
    exported = shard_values(samples)
    assert len(exported - {("0", "overflow")}) == DEFAULT_MAX_SHARDS_PER_NODE
    assert ("0", "overflow") in exported
    first_seen = list(dict.fromkeys(ids))  # the cap admits shards in the order they first appear
    past_cap = sum(1 for i in ids if i not in set(first_seen[:DEFAULT_MAX_SHARDS_PER_NODE]))
    assert value(samples, "tonex_series_overflow_total", label="shard") == past_cap
    assert value(samples, "tonex_collated_blocks_total", shard="overflow") == past_cap
    assert all_time_blocks(samples) == len(ids)
    assert value(samples, "tonex_series_groups") == DEFAULT_MAX_SHARDS_PER_NODE + 1
    one = shards.write_lines(tmp_path / "one-shard.log", ids[:1])
    series_of_one_group = series_count(read(one)[1])
    assert series_count(text) <= (DEFAULT_MAX_SHARDS_PER_NODE + 1) * series_of_one_group


def test_a_day_of_splits_and_merges_keeps_the_series_bounded_and_counts_every_block(tmp_path: Path) -> None:
    """Read as a node writes it: hour by hour. Only the shards of the last idle timeout are exported, never more
    than a cap far below the day's distinct shards, and live + retired equals the blocks written per workchain."""
    blocks = list(shards.split_merge_day(block_every=180.0))
    distinct = {(wc, s) for _, wc, s in blocks}
    limits = Limits(max_shards_per_node=24)
    assert len(distinct) > limits.max_shards_per_node  # without retirement the cap would overflow
    path = tmp_path / "session-stats.log"
    path.touch()
    wall = FakeWall()
    exporter = Exporter([SourcePattern(str(path), "n1")], from_start=True, wall=wall, limits=limits)
    template = shards._template()
    most = 0
    for hour, t0 in enumerate(range(0, 86_400, 3600)):
        chunk = [b for b in blocks if t0 <= b[0] - shards.START < t0 + 3600]
        with open(path, "ab") as out:
            for seqno, (t, wc, s) in enumerate(chunk, hour * 100_000):
                out.write(shards.block_line(template, wc, s, seqno, t) + b"\n")
        exporter.poll_once()
        most = max(most, len(set(GROUP_LABELS.findall(generate_latest(exporter.registry).decode()))))
    samples = parse(generate_latest(exporter.registry).decode())
    newest = blocks[-1][0]
    recent = {(str(wc), f"{s:016X}") for t, wc, s in blocks if t >= newest - limits.idle_timeout}
    assert shard_values(samples) == recent
    assert len(recent) <= most <= limits.max_shards_per_node
    assert value(samples, "tonex_series_overflow_total", label="shard") == 0
    written = Counter(str(wc) for _, wc, _ in blocks)
    for workchain, n in written.items():
        assert all_time_blocks(samples, workchain) == n
    # a shard that merged away and split back later retires once per absence
    assert value(samples, "tonex_series_retired_groups_total") >= len(distinct) - len(recent)


def test_an_idle_node_leaves_metrics_and_comes_back_continuing(tmp_path: Path) -> None:
    ids = [(0, shards.ROOT)] * 5
    path = shards.write_lines(tmp_path / "session-stats.log", ids)
    wall = FakeWall()
    exporter, text = read(path, wall=wall)
    assert value(parse(text), "tonex_collated_blocks_total") == 5
    wall.now += Limits().idle_timeout + 1
    samples = parse(generate_latest(exporter.registry).decode())
    assert total(samples, "tonex_collated_blocks_total") == 0
    assert shard_values(samples) == set()
    assert value(samples, "tonex_node_idle") == 1
    assert value(samples, "tonex_source_lines_parsed_total") == 5  # the file's own series stay
    template = shards._template()
    with open(path, "ab") as out:
        out.write(shards.block_line(template, 0, shards.ROOT, 6, shards.START + 10) + b"\n")
    exporter.poll_once()
    samples = parse(generate_latest(exporter.registry).decode())
    assert value(samples, "tonex_collated_blocks_total") == 6
    assert value(samples, "tonex_node_idle") == 0


@pytest.mark.parametrize(
    ("workchain", "shard", "expected"),
    [
        (-1, "-9223372036854775808", "8000000000000000"),  # the masterchain, as TON's JSON writes it
        (0, "4611686018427387904", "4000000000000000"),  # depth 1
        (0, str(0x0080000000000000), "0080000000000000"),  # depth 8, the deepest accepted by default
    ],
)
def test_shard_prefixes_up_to_the_depth_limit_become_labels(workchain: int, shard: str, expected: str) -> None:
    assert Limits().rules.labels(workchain, shard) == (str(workchain), expected)


@pytest.mark.parametrize(
    ("workchain", "shard", "reason"),
    [
        (5, "-9223372036854775808", "bad_workchain"),
        (0, "0", "bad_shard"),  # no set bit: no prefix
        (0, str(0x0040000000000000), "bad_shard"),  # depth 9
        (0, str(1 << 64), "bad_shard"),  # not a 64-bit value
        (-1, "4611686018427387904", "bad_shard"),  # the masterchain is never split
        (0, "x", "bad_field"),
        ("0", "-9223372036854775808", "bad_field"),
    ],
)
def test_values_that_may_not_become_labels_are_rejected_with_a_reason(
    workchain: object, shard: str, reason: str
) -> None:
    with pytest.raises(RecordError) as rejected:
        Limits().rules.labels(workchain, shard)
    assert rejected.value.reason == reason


def test_configured_workchains_and_depth_are_what_is_accepted() -> None:
    rules = Limits(workchains=(0, 5), max_shard_depth=9).rules
    assert rules.labels(5, str(0x0040000000000000)) == ("5", "0040000000000000")
    with pytest.raises(RecordError):
        rules.labels(-1, "-9223372036854775808")


def test_a_text_log_timing_of_a_workchain_not_allowed_is_rejected_and_costs_no_good_line() -> None:
    good = b"[ 2][t 1][2026-07-16 10:00:01.0][collator.cpp:6486][!collate(0,8000000000000000):1]\tcollation took 0.5 s"
    foreign = good.replace(b"collate(0,", b"collate(77,")
    node = NodeState("n", "r", EventClock(10, time.monotonic))
    stats = FileStats("f", "n")
    TextLogPipeline(node, stats).feed(0, [good, foreign, good] * 20)  # long enough for the fast path first
    assert stats.rejected == {"bad_timing": 20}
    assert node.text_log.timings[("collation", "0", "ok", "none")].count == 40
    assert set(node.text_log.timings) == {("collation", "0", "ok", "none")}


def test_text_log_components_past_the_cap_are_counted_as_other_and_in_the_overflow() -> None:
    lines = [f"[ 3][t 1][2026-07-16 10:00:01.0][file{i % 7}.cpp:1]\thello".encode() for i in range(70)]
    node = NodeState("n", "r", EventClock(10, time.monotonic), limits=Limits(max_label_values=5))
    TextLogPipeline(node, FileStats("f", "n")).feed(0, lines)
    by_component = Counter[str]()
    for (_, component), n in node.text_log.lines.items():
        by_component[component] += n
    assert by_component == {**{f"file{i}.cpp": 10 for i in range(5)}, "other": 20}
    assert node.bounds.overflow["component"] == 20


@pytest.mark.parametrize(
    ("workchain", "shard", "reason"), [(77, "-9223372036854775808", "bad_workchain"), (0, "1", "bad_shard")]
)
def test_a_consensus_session_of_a_workchain_or_shard_not_allowed_is_rejected_whole(
    workchain: int, shard: str, reason: str
) -> None:
    records = [r for r in load_bundled()["node1"] if r["@type"] == "consensus.stats.events"]
    first = next(r for r in records if any(e["event"]["@type"] == "consensus.stats.id" for e in r["events"]))
    hostile = orjson.loads(orjson.dumps(first))
    hostile["id"] = "another session"
    identity = next(e["event"] for e in hostile["events"] if e["event"]["@type"] == "consensus.stats.id")
    identity.update(workchain=workchain, shard=shard)
    node = NodeState("n", "r", EventClock(10, time.monotonic))
    stats = FileStats("f", "n")
    SessionStatsPipeline(node, stats).feed(0, [orjson.dumps(first), orjson.dumps(hostile)])
    assert stats.rejected == {reason: 1}
    assert stats.records["consensus.stats.events"] == 1
    assert set(node.consensus.groups) == {("-1", "8000000000000000")}
    assert sum(node.consensus.groups[("-1", "8000000000000000")].events.values()) == len(first["events"])


def test_a_checkpoint_keeps_the_live_groups_the_overflow_and_the_retired_totals(tmp_path: Path) -> None:
    blocks = list(shards.split_merge_day(block_every=600.0))[:400]
    path = tmp_path / "session-stats.log"
    template = shards._template()
    path.write_bytes(b"".join(shards.block_line(template, wc, s, i, t) + b"\n" for i, (t, wc, s) in enumerate(blocks)))
    limits = Limits(max_shards_per_node=3)
    before, _ = read(path, limits)
    node = before.nodes["n1"]
    assert node.bounds.retired
    assert node.bounds.overflow["shard"] > 0
    saved = orjson.loads(orjson.dumps(node.to_json()))
    after = NodeState("n1", "default", EventClock(10, time.monotonic), limits=limits)
    after.restore(saved)
    assert after.bounds.live == node.bounds.live
    assert after.bounds.retired == node.bounds.retired
    assert after.bounds.overflow == node.bounds.overflow
    assert after.bounds.capped == node.bounds.capped


def test_a_network_group_leaves_once_no_node_has_its_shard_live_and_no_slot_is_left() -> None:
    run = RunNodes()
    node = run.nodes["n1"] = NodeState("n1", "r", EventClock(10, time.monotonic), run.network)
    kept, gone, busy = (("0", f"{s:016X}") for s in (shards.ROOT, *shards.children(shards.ROOT)))
    node.bounds.admit(kept, 100.0)
    for key in (kept, gone, busy):
        run.network.session(f"session {key[1]}", Session(*key, 0, 2, 1, 2, 4))
    run.network.sessions[f"session {busy[1]}"].slots[7] = NetworkSlot()  # a slot still to be measured
    run.retire_network_groups()
    assert set(run.network_groups) == {kept, busy}
    assert set(run.network.sessions) == {f"session {kept[1]}", f"session {busy[1]}"}


def test_serve_takes_the_limits_flags_and_says_what_is_wrong_with_a_bad_one() -> None:
    help_text = cli_run("serve", "--help").stdout
    for flag in ("--limits.workchains", "--limits.max-shard-depth", "--limits.max-shards-per-node", "--poll-interval"):
        assert flag in help_text
    wrong = cli_run("serve", "--session-logs", "x", "--limits.workchains", "0,basechain")
    assert wrong.returncode == 2
    assert "is not a comma-separated list of integers" in wrong.stderr
    too_deep = cli_run("serve", "--session-logs", "x", "--limits.max-shard-depth", "61")
    assert too_deep.returncode == 2
