"""Upstream's next format, before it lands (SYNTHETIC lines from tests/upstream_next.py, made from the real files
in the exact shape of upstream's writers): overload attribution of collated blocks (PR #2488) and collation
delegation (branch `collators`). Every figure is checked against a count from the generated lines with json
alone, and every figure the real data already gave stays the same."""

from collections import Counter
from pathlib import Path

import orjson

from tests.conftest import FakeWall, real_lines
from tests.metrics_text import Samples, scrape, total
from tests.upstream_next import collator_lines, delegating_leader_lines, overload_lines
from ton_exporter.aggregation.measures import LIMIT_CATEGORIES, OVERLOAD_REASONS
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern

NEW_FAMILIES = (
    "tonex_collation_overload_reason_blocks_total",
    "tonex_collation_split_wanted_blocks_total",
    "tonex_collation_peak_limit_class_blocks_total",
    "tonex_window_collation_split_wanted_blocks",
    "tonex_window_collation_split_wanted_observations",
    "tonex_window_collation_peak_limit_class",
    "tonex_window_collation_peak_limit_class_observations",
    "tonex_consensus_delegated_collations_total",
    "tonex_consensus_delegated_leader_slots_total",
    "tonex_window_consensus_delegated_leader_slots",
)
VOLATILE = ("tonex_source_", "tonex_exporter_", "process_", "python_", "tonex_scrape_", "tonex_build_info")


def metrics(tmp_path: Path, lines: list[bytes], name: str) -> Samples:
    target = tmp_path / name / "node1" / "session-logs"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\n".join(lines) + b"\n")
    wall = FakeWall()
    exporter = Exporter([SourcePattern(str(target), "node1")], run="next", from_start=True, wall=wall)
    exporter.poll_once()
    wall.now += 100  # every slot retired
    return scrape(exporter.registry)


def stable(samples: Samples) -> Samples:
    """The samples the real data gave before the new format: neither new families nor the exporter's own."""
    return {k: v for k, v in samples.items() if not k[0].startswith((*NEW_FAMILIES, *VOLATILE))}


def records(lines: list[bytes]) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in lines]


def test_overload_reason_split_wanted_and_peak_class_are_counted_per_workchain_and_nothing_else_moves(
    tmp_path: Path,
) -> None:
    original = real_lines(1)
    lines = overload_lines(original)
    reasons: Counter[tuple[str, str]] = Counter()
    classes: Counter[tuple[str, str]] = Counter()
    split: Counter[str] = Counter()
    for record in records(lines):
        if record.get("@type") != "validatorStats.collatedBlock":
            continue
        workchain = str(record["block_id"]["workchain"])  # type: ignore[index]
        limits = record["block_limits"]
        reasons[(workchain, OVERLOAD_REASONS[limits["overload_reason"]])] += 1  # type: ignore[index]
        classes[(workchain, LIMIT_CATEGORIES[limits["peak_block_limit_class"]])] += 1  # type: ignore[index]
        split[workchain] += limits["want_split"] is True  # type: ignore[index]
    assert len(reasons) > 5  # the rule spreads the real blocks over the values
    assert sum(split.values()) > 0

    samples = metrics(tmp_path, lines, "next")
    for workchain in ("-1", "0"):
        for reason in OVERLOAD_REASONS:
            got = total(samples, "tonex_collation_overload_reason_blocks_total", workchain=workchain, category=reason)
            assert got == reasons[(workchain, reason)], (workchain, reason)
        for category in LIMIT_CATEGORIES:
            got = total(
                samples, "tonex_collation_peak_limit_class_blocks_total", workchain=workchain, category=category
            )
            assert got == classes[(workchain, category)], (workchain, category)
        assert total(samples, "tonex_collation_split_wanted_blocks_total", workchain=workchain) == split[workchain]

    today = metrics(tmp_path, original, "today")
    assert not [k for k in today if k[0].startswith(NEW_FAMILIES[:3])]  # today's lines: no series at all
    assert stable(samples) == stable(today)


def collations_by_leader(lines: list[bytes]) -> tuple[Counter[tuple[str, str]], Counter[str], int]:
    """From the raw lines: collations (collateFinished by target_slot, collatedEmpty by id.slot) per (workchain,
    slot leader); slots of the node's own leader windows with a candidate, per workchain; the node's idx."""
    sessions: dict[str, tuple[str, int, int, int]] = {}
    collated: set[tuple[str, int]] = set()
    received: set[tuple[str, int]] = set()
    for record in records(lines):
        if record.get("@type") != "consensus.stats.events":
            continue
        sid = str(record["id"])
        for item in record["events"]:  # type: ignore[attr-defined]
            event = item["event"]
            kind = event["@type"]
            if kind == "consensus.stats.id":
                sessions[sid] = (
                    str(event["workchain"]),
                    event["idx"],
                    event["total_validators"],
                    event["slots_per_leader_window"],
                )
            elif kind == "consensus.stats.collateFinished":
                collated.add((sid, event["target_slot"]))
            elif kind == "consensus.stats.collatedEmpty":
                collated.add((sid, event["id"]["slot"]))
            elif kind == "consensus.stats.candidateReceived":
                received.add((sid, event["id"]["slot"]))
    by_leader: Counter[tuple[str, str]] = Counter()
    for sid, slot in collated:
        workchain, _, validators, per_window = sessions[sid]
        by_leader[(workchain, str(slot // per_window % validators))] += 1
    own: Counter[str] = Counter()
    idx = {s[1] for s in sessions.values()}
    assert len(idx) == 1
    for sid, slot in received:
        workchain, node_idx, validators, per_window = sessions[sid]
        if slot // per_window % validators == node_idx:
            own[workchain] += 1
    return by_leader, own, idx.pop()


def test_a_dedicated_collators_collations_count_as_delegated_by_leader_never_as_an_unexpected_leaders(
    tmp_path: Path,
) -> None:
    by_leader, _, _ = collations_by_leader(real_lines(1))
    assert sum(by_leader.values()) > 10
    samples = metrics(tmp_path, collator_lines(real_lines(1)), "collator")
    for (workchain, leader), n in by_leader.items():
        got = total(samples, "tonex_consensus_delegated_collations_total", workchain=workchain, leader_idx=leader)
        assert got == n, (workchain, leader)
    assert total(samples, "tonex_consensus_delegated_collations_total") == sum(by_leader.values())
    assert total(samples, "tonex_consensus_unexpected_leader_collations_total") == 0
    assert total(samples, "tonex_consensus_collations_total") == 0
    today = metrics(tmp_path, real_lines(1), "today")
    assert total(today, "tonex_consensus_collations_total") == sum(by_leader.values())


def test_a_leader_that_delegated_its_windows_shows_its_slots_as_delegated(tmp_path: Path) -> None:
    _, own, _ = collations_by_leader(real_lines(1))
    assert sum(own.values()) > 10
    samples = metrics(tmp_path, delegating_leader_lines(real_lines(1)), "leader")
    for workchain in ("-1", "0"):
        got = total(samples, "tonex_consensus_delegated_leader_slots_total", workchain=workchain)
        assert got == own[workchain], workchain
    assert total(samples, "tonex_consensus_collations_total") == 0
    assert total(samples, "tonex_consensus_unexpected_leader_collations_total") == 0
    today = metrics(tmp_path, real_lines(1), "today")
    assert total(today, "tonex_consensus_delegated_leader_slots_total") == 0
