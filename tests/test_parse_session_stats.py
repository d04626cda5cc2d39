"""Parsing the real session stats: every line, and values checked against numbers computed by hand.

The expected numbers were computed from the files with jq-style one-off scripts (plain `json`, not our
parsers) and are written down here; ../shared/data/README.md lists several of them too.
"""

import math
from collections import Counter, defaultdict
from typing import Any

import orjson
import pytest

from tests.conftest import real_lines
from ton_exporter.aggregation.columns import Columns, collated_columns, validated_columns
from ton_exporter.parsers import consensus_events, record_types
from ton_exporter.parsers.errors import RecordError
from ton_exporter.parsers.perflog import action_durations
from ton_exporter.parsers.session_stats import (
    COLLATED_RAW,
    VALIDATED_RAW,
    collated_row,
    collated_row_general,
    validated_row,
    validated_row_general,
)
from ton_exporter.parsers.work_time import COLLATION


def parse_all(node: int) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for line in real_lines(node):
        record = orjson.loads(line)
        kind = record["@type"]
        if kind == record_types.COLLATED_BLOCK:
            out[kind].append(collated_row(record))
        elif kind == record_types.VALIDATED_BLOCK:
            out[kind].append(validated_row(record))
        elif kind == record_types.CONSENSUS_EVENTS:
            out[kind].append(consensus_events.batch(record))
        else:
            out[kind].append(record)
    return out


@pytest.mark.parametrize(("node", "collated", "validated", "batches"), [(1, 32, 60, 4), (2, 28, 60, 4)])
def test_every_line_of_both_files_parses(node: int, collated: int, validated: int, batches: int) -> None:
    parsed = parse_all(node)
    assert {k: len(v) for k, v in parsed.items()} == {
        record_types.COLLATED_BLOCK: collated,
        record_types.VALIDATED_BLOCK: validated,
        record_types.CONSENSUS_EVENTS: batches,
    }
    for row in parsed[record_types.COLLATED_BLOCK]:
        assert len(row.values) == len(COLLATED_RAW)
    for row in parsed[record_types.VALIDATED_BLOCK]:
        assert len(row.values) == len(VALIDATED_RAW)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        # per workchain: (collations, sum of transactions, sum of bytes, sum of collated_data_bytes)
        (1, {"-1": (16, 103, 107589, 16895), "0": (16, 1, 13084, 528)}),
        (2, {"-1": (14, 73, 82286, 15934), "0": (14, 0, 11102, 462)}),
    ],
)
def test_collated_totals_per_workchain(node: int, expected: dict[str, tuple[int, int, int, int]]) -> None:
    rows = parse_all(node)[record_types.COLLATED_BLOCK]
    for workchain, (count, transactions, size, collated_data) in expected.items():
        mine = [r for r in rows if r.workchain == workchain]
        columns = collated_columns(mine)
        assert columns.length == count
        assert sum(columns["transactions"]) == transactions
        assert sum(columns["bytes"]) == size
        assert sum(columns["collated_data_bytes"]) == collated_data
        assert {r.shard for r in mine} == {"8000000000000000"}


def test_validated_totals_are_the_same_on_both_nodes() -> None:
    for node in (1, 2):
        rows = parse_all(node)[record_types.VALIDATED_BLOCK]
        by_wc = Counter(r.workchain for r in rows)
        assert by_wc == {"-1": 30, "0": 30}
        assert sum(validated_columns([r for r in rows if r.workchain == "-1"])["bytes"]) == 189875
        assert sum(validated_columns([r for r in rows if r.workchain == "0"])["bytes"]) == 24186
        assert set(validated_columns(rows)["invalid"]) == {0}  # all valid: true


def test_time_stats_actions_summed_per_name_with_numbers_replaced() -> None:
    rows = parse_all(1)[record_types.COLLATED_BLOCK]
    totals: Counter[str] = Counter()
    for r in rows:
        if r.workchain == "0":
            totals.update(action_durations(r.perflog))
    # node1, workchain 0 collations: hand sums of the PerfLog durations per action
    assert totals["do_collate"] == pytest.approx(5.947511, abs=1e-9)
    assert totals["wait_block_data #N"] == pytest.approx(0.004272, abs=1e-9)
    assert totals["auxiliary wait_block_state N"] == pytest.approx(0.001103, abs=1e-9)
    validated = parse_all(1)[record_types.VALIDATED_BLOCK]
    # get_top_masterchain_state_block appears twice in a masterchain validation's PerfLog: both count
    mc = sum(
        action_durations(r.perflog).get("get_top_masterchain_state_block", 0.0)
        for r in validated
        if r.workchain == "-1"
    )
    assert mc == pytest.approx(0.007293, abs=1e-9)


def first(columns: Columns) -> dict[str, float]:
    return {name: column[0] for name, column in columns.data.items()}


def test_first_collation_values_by_column() -> None:
    row = parse_all(1)[record_types.COLLATED_BLOCK][0]  # line 1: wc -1, seqno 1
    v = first(collated_columns([row]))
    assert row.time == 1781457654.843127
    assert (row.workchain, row.shard) == ("-1", "8000000000000000")
    assert v["total_time"] == 0.006413
    assert v["wait_externals_time"] == 0.000018
    assert v["other_wait_time"] == pytest.approx(0.006413 - 0.005750 - 0.000018)
    assert math.isnan(v["check_load_do_collate_time"])  # -1.000000: not measured
    assert v["queue.new_size"] == 2  # int64 string "2"
    assert v["shards"] == 1
    assert v["real.preinit"] == 0.000870
    assert v["cpu.create_block_candidate"] == 0.000188
    stages = sum(v[f"real.{s}"] for s in COLLATION.current_keys[1:])  # the 13 stages this release writes
    assert v["real.other"] == pytest.approx(0.005750 - stages)
    assert math.isnan(v["real.optimistic_apply"])  # a key of older releases: absent, not zero
    assert v["load.new_msgs"] == 0.018648


def test_check_load_is_measured_only_on_shard_rows() -> None:
    rows = parse_all(1)[record_types.COLLATED_BLOCK]
    mc = collated_columns([r for r in rows if r.workchain == "-1"])["check_load_total_time"]
    wc = collated_columns([r for r in rows if r.workchain == "0"])["check_load_total_time"]
    assert all(math.isnan(x) for x in mc)
    assert not any(math.isnan(x) for x in wc)
    assert min(wc) == 0.000695  # node1's first shard block; the others wait ~0.39 s


def test_the_one_limits_log_line_is_counted_by_kind() -> None:
    rows = parse_all(1)[record_types.COLLATED_BLOCK]
    hits = [(r.workchain, r.limit_log) for r in rows if r.limit_log]
    assert hits == [("0", ["INBOUND_EXT_MESSAGES"])]


def test_older_object_form_of_work_time_stats() -> None:
    record = orjson.loads(real_lines(1)[0])
    record["work_time_real_stats"] = {
        "@type": "validatorStats.collateWorkTimeStats",
        "total": 0.01,
        "optimistic_apply": 0.002,
        "trx_tvm": 0.003,
        "create_block": 0.001,
    }
    v = first(collated_columns([collated_row(record)]))
    assert v["real.optimistic_apply"] == 0.002
    assert v["real.trx_tvm"] == 0.003
    assert math.isnan(v["real.preinit"])
    assert v["real.other"] == pytest.approx(0.004)


def test_a_row_without_its_identity_or_with_a_mistyped_value_is_rejected() -> None:
    record = orjson.loads(real_lines(1)[0])
    del record["collated_at"]
    with pytest.raises(RecordError) as missing:
        collated_row(record)
    assert missing.value.reason == "missing_field"
    record = orjson.loads(real_lines(1)[0])
    record["bytes"] = "many"
    with pytest.raises(RecordError) as mistyped:
        collated_row(record)
    assert mistyped.value.reason == "bad_field"
    record = orjson.loads(real_lines(1)[1])
    record["block_stats"] = {"new_out_msg_queue_size": "x"}
    with pytest.raises(RecordError):
        validated_row(record | {"valid": "yes"})


def test_consensus_sessions_identified_from_their_first_batch() -> None:
    batches = parse_all(1)[record_types.CONSENSUS_EVENTS]
    found = [(b.session_id, consensus_events.find_session(b.events)) for b in batches]
    identified = {sid: s for sid, s in found if s is not None}
    assert len(identified) == 2  # only the first batch of each of the 2 sessions carries consensus.stats.id
    assert {
        (s.workchain, s.shard, s.idx, s.total_validators, s.weight, s.total_weight) for s in identified.values()
    } == {
        ("-1", "8000000000000000", 0, 2, 17, 34),
        ("0", "8000000000000000", 0, 2, 1, 2),
    }
    events: Counter[str] = Counter()
    for b in batches:
        for item in b.events:
            events[consensus_events.unpack(item)[1]] += 1
    assert sum(events.values()) == 475
    assert events[consensus_events.BLOCK_ACCEPTED] == 52
    assert events[consensus_events.COLLATE_STARTED] == 29


@pytest.mark.parametrize("node", [1, 2])
def test_fast_and_general_readers_agree_on_every_real_row(node: int) -> None:
    compared = 0
    for line in real_lines(node):
        for record in (orjson.loads(line),):
            kind = record["@type"]
            if kind == record_types.COLLATED_BLOCK:
                fast, general = collated_row(record), collated_row_general(record)
                columns = collated_columns
            elif kind == record_types.VALIDATED_BLOCK:
                fast, general = validated_row(record), validated_row_general(record)
                columns = validated_columns
            else:
                continue
            fast_values, general_values = first(columns([fast])), first(columns([general]))
            assert fast_values == pytest.approx(general_values, nan_ok=True, abs=1e-12)
            assert (fast.time, fast.workchain, fast.shard, fast.perflog) == (
                general.time,
                general.workchain,
                general.shard,
                general.perflog,
            )
            assert list(fast.msg_limits) == list(general.msg_limits)
            assert list(fast.limit_log) == list(general.limit_log)
            compared += 1
    assert compared == (92 if node == 1 else 88)
