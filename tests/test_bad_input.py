"""Bad input is counted by reason, logged once with file and offset, never fatal, and costs no good line."""

import logging
from pathlib import Path

import orjson
import pytest

from tests.conftest import FakeWall, real_lines
from tests.metrics_text import scrape, total, value
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern

GOOD = real_lines(1)
COLLATED_MISSING_ID = orjson.dumps({k: v for k, v in orjson.loads(GOOD[0]).items() if k != "block_id"})
COLLATED_BAD_BYTES = orjson.dumps(orjson.loads(GOOD[0]) | {"bytes": "many"})
VALIDATED_NAN = GOOD[1].replace(b'"total_time":0.003001', b'"total_time":NaN')

BAD_LINES: dict[str, bytes] = {
    "invalid_json": b'{"@type":"validatorStats.collatedBlock","block_id":{"workch',
    "not_utf8": b'{"@type":"validatorStats.stats","comment":"\xff\xfe"}',
    "unknown_type": b'{"@type":"validatorStats.somethingFromTheFuture","x":1}',
    "missing_field": COLLATED_MISSING_ID,
    "bad_field": COLLATED_BAD_BYTES,
    "empty_line": b"",
    "not_object": b"[1,2,3]",
    "missing_type": b'{"type":"validatorStats.collatedBlock"}',
}
LEGACY = b'{"@type":"validatorStats.stats","session_id":"x","timestamp":1781457660.5}'


def write_mixed(path: Path, huge_line_bytes: int) -> None:
    """All real lines of node1, with every kind of bad line (twice) between them."""
    bad = [*BAD_LINES.values(), VALIDATED_NAN, b"x" * huge_line_bytes, LEGACY]
    out = []
    for i, line in enumerate(GOOD):
        out.append(line)
        if i % 10 == 0:
            out.extend(bad)
    path.write_bytes(b"\n".join(out) + b"\n")


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[Exporter, Path]:
    path = tmp_path / "node1" / "session-logs"
    path.parent.mkdir()
    write_mixed(path, huge_line_bytes=3 * 1024 * 1024)
    wall = FakeWall()
    exporter = Exporter([SourcePattern(str(path), "node1")], from_start=True, max_line_bytes=1024 * 1024, wall=wall)
    exporter.poll_once()
    wall.now += 100  # every consensus slot retired (counted)
    return exporter, path


def test_every_good_line_survives_its_bad_neighbours(mixed: tuple[Exporter, Path]) -> None:
    samples = scrape(mixed[0].registry)
    records = {
        t: value(samples, "tonex_source_records_total", type=t)
        for t in ("validatorStats.collatedBlock", "validatorStats.validatedBlock", "consensus.stats.events")
    }
    assert records == {
        "validatorStats.collatedBlock": 32,
        "validatorStats.validatedBlock": 60,
        "consensus.stats.events": 4,
    }
    assert value(samples, "tonex_source_records_total", type="validatorStats.stats") == 10  # legacy: counted
    assert total(samples, "tonex_collated_blocks_total") == 32
    assert total(samples, "tonex_collated_transactions_total", workchain="-1") == 103
    assert total(samples, "tonex_accepted_blocks_total") == 52


def test_bad_lines_are_counted_by_reason(mixed: tuple[Exporter, Path]) -> None:
    samples = scrape(mixed[0].registry)
    rejected = {
        reason: value(samples, "tonex_source_lines_rejected_total", reason=reason)
        for reason in (*BAD_LINES, "oversize_line")
    }
    # 10 bad groups (lines 0, 10, ..., 90); the NaN line is invalid JSON too
    assert rejected == {**dict.fromkeys(BAD_LINES, 10), "invalid_json": 20, "oversize_line": 10}
    lines_read = value(samples, "tonex_source_lines_read_total")
    parsed = value(samples, "tonex_source_lines_parsed_total")
    assert parsed == 96 + 10
    assert lines_read == parsed + sum(rejected.values()) - 10  # oversize lines are never handed out as lines


def test_each_reason_is_logged_once_with_file_and_offset(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "session-logs"
    write_mixed(path, huge_line_bytes=128 * 1024)  # the longest real line is 34,576 bytes
    exporter = Exporter([SourcePattern(str(path), "n")], from_start=True, max_line_bytes=64 * 1024)
    with caplog.at_level(logging.WARNING, logger="ton_exporter"):
        exporter.poll_once()
    reasons = [r.__dict__["reason"] for r in caplog.records]
    assert sorted(reasons) == sorted({*BAD_LINES, "oversize_line"})
    first_bad = caplog.records[reasons.index("invalid_json")].__dict__
    assert first_bad["file"] == str(path)
    assert first_bad["offset"] == len(GOOD[0]) + 1  # right after the first good line


def test_malformed_events_inside_a_batch_cost_only_themselves(tmp_path: Path) -> None:
    batch = orjson.loads(GOOD[42])  # node1 line 43: the first masterchain batch, 121 events
    assert batch["@type"] == "consensus.stats.events"
    batch["events"].insert(5, {"ts": "yesterday", "event": {"@type": "consensus.stats.blockAccepted"}})
    batch["events"].insert(9, {"event": {}})
    path = tmp_path / "session-logs"
    path.write_bytes(orjson.dumps(batch) + b"\n")
    exporter = Exporter([SourcePattern(str(path), "n")], from_start=True)
    exporter.poll_once()
    samples = scrape(exporter.registry)
    assert value(samples, "tonex_consensus_events_rejected_total", reason="bad_field") == 1
    assert value(samples, "tonex_consensus_events_rejected_total", reason="missing_field") == 1
    assert total(samples, "tonex_consensus_events_total") == 121


def test_a_malformed_embedded_string_costs_only_its_own_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = orjson.loads(GOOD[0]) | {"work_time_real_stats": "total=0.1 preinit=oops", "time_stats": 17}
    path = tmp_path / "session-logs"
    path.write_bytes(b"\n".join([GOOD[0], orjson.dumps(broken), GOOD[2]]) + b"\n")
    exporter = Exporter([SourcePattern(str(path), "n")], from_start=True)
    with caplog.at_level(logging.WARNING, logger="ton_exporter"):
        exporter.poll_once()
        samples = scrape(exporter.registry)
    assert total(samples, "tonex_collated_blocks_total") == 3  # the line itself was used
    assert value(samples, "tonex_source_field_errors_total", field="work_time_real_stats") == 1
    assert value(samples, "tonex_source_field_errors_total", field="time_stats") == 1
    assert value(samples, "tonex_source_field_errors_total", field="work_time_cpu_stats") == 0
    warned = [r.__dict__ for r in caplog.records if r.getMessage() == "malformed field"]
    assert [(w["field"], w["offset"]) for w in warned] == [
        ("work_time_real_stats", len(GOOD[0]) + 1),
        ("time_stats", len(GOOD[0]) + 1),
    ]
    real = {
        dict(ls)["workchain"]: v
        for (n, ls), v in samples.items()
        if n == "tonex_collation_stage_seconds_total" and dict(ls)["stage"] == "preinit" and dict(ls)["clock"] == "real"
    }
    # line 2 is a copy of line 1 (masterchain) whose real stages were dropped; line 3 is a shard block
    assert real == {"-1": 0.000870, "0": 0.000069}
