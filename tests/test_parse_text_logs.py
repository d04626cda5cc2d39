"""The td prefix and `Broadcast_benchmark` parsers, on the forms of ton-formats.md §7-8."""

import calendar

import pytest

from ton_exporter.parsers import broadcast_benchmark as bb
from ton_exporter.parsers.td_prefix import LEVEL_AND_FILE, level_name, parse_line, parse_timestamp

ROOT = "5e1f" * 16
FILE_HASH = "9a07" * 16
BLOCK_ID = f"(0,8000000000000000,1234):{ROOT.upper()}:{FILE_HASH.upper()}"
T0 = calendar.timegm((2026, 7, 16, 10, 0, 1))


def test_nine_digit_timestamp_with_actor_and_comment() -> None:
    line = parse_line(
        b"[ 2][t 3][2026-07-16 10:00:01.123456789][full-node-serializer.cpp:84][!FullNodeShard][&WARNING]\t"
        b"Broadcast_benchmark serialize_block_broadcast block_id=x"
    )
    assert line is not None
    assert (line.level, line.level_name, line.thread, line.file, line.line) == (
        2,
        "warning",
        3,
        "full-node-serializer.cpp",
        84,
    )
    assert (line.tag, line.actor, line.comment) == (None, "FullNodeShard", "WARNING")
    assert line.time == pytest.approx(T0 + 0.123456789, abs=1e-6)
    assert line.message == "Broadcast_benchmark serialize_block_broadcast block_id=x"


def test_six_digit_timestamp_two_digit_thread_and_tag() -> None:
    line = parse_line(b"[ 3][t12][2026-05-30 12:00:00.000250][quic-server.cpp:752][#quic]\tconnection closed")
    assert line is not None
    assert (line.thread, line.tag, line.actor, line.comment) == (12, "quic", None, None)
    assert line.time == calendar.timegm((2026, 5, 30, 12, 0, 0)) + 0.00025
    assert line.message == "connection closed"


def test_consensus_actor_and_message_with_brackets() -> None:
    line = parse_line(
        b"[ 2][t 1][2026-07-16 10:00:01.5][pool.cpp:919][!valgroup(0,8000000000000000).0.SimplexPool]\t"
        b"Obtained certificate for [notarize]: VV.V"
    )
    assert line is not None
    assert line.actor == "valgroup(0,8000000000000000).0.SimplexPool"
    assert line.message == "Obtained certificate for [notarize]: VV.V"


def test_comment_holding_a_bracket_and_all_three_optional_parts() -> None:
    line = parse_line(b"[ 1][t 0][2026-07-16 10:00:01.000000][x.cpp:7][#tag][!actor][&v[0] > 1]\tmessage")
    assert line is not None
    assert (line.tag, line.actor, line.comment, line.message) == ("tag", "actor", "v[0] > 1", "message")


def test_colour_codes_are_removed_wherever_they_are() -> None:
    raw = b"\x1b[1;36m[ 3][t 5][2026-07-16 10:00:01.000000001][BusRuntime.h:207]\ton \x1b[1;90mbus\x1b[0m x\x1b[0m"
    line = parse_line(raw)
    assert line is not None
    assert (line.level_name, line.message) == ("info", "on bus x")
    assert LEVEL_AND_FILE.findall(raw) == [(b"3", b"BusRuntime.h")]


def test_levels_above_debug_and_older_epoch_timestamps() -> None:
    line = parse_line(b"[10][t 2][1580214542.366837502][adnl.cpp:1]\tvlog")
    assert line is not None
    assert (line.level, line.level_name) == (10, "verbose")
    assert line.time == pytest.approx(1580214542.366837502)
    assert [level_name(n) for n in range(6)] == ["fatal", "error", "warning", "info", "debug", "verbose"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"  key=value of a multi-line message",
        b"[ 3][t 1][2026-07-16 10:00:01.0][x.cpp:1] no tab after the prefix",
        b"[ 3][t 1][yesterday][x.cpp:1]\tbad time",
        b"Aborted (core dumped)",
    ],
)
def test_lines_without_a_prefix(raw: bytes) -> None:
    assert parse_line(raw) is None
    assert LEVEL_AND_FILE.findall(raw) == []


def test_timestamp_precisions_agree() -> None:
    assert parse_timestamp(b"2026-07-16 10:00:01") == T0
    assert parse_timestamp(b"2026-07-16 10:00:01.250000") == parse_timestamp(b"2026-07-16 10:00:01.250000000")
    assert parse_timestamp(b"2024-02-29 23:59:59.5") == calendar.timegm((2024, 2, 29, 23, 59, 59)) + 0.5


# --- Broadcast_benchmark


def test_block_broadcast_with_compressed_v2_without_underscore() -> None:
    b = bb.parse(
        f"Broadcast_benchmark serialize_block_broadcast block_id={BLOCK_ID} called_from=public time_sec=0.001234 "
        "compression=compressedV2ImprovedStructureLZ4 original_size=123456 compressed_size=45678".encode()
    )
    assert (b.op, b.stage, b.type, b.called_from) == (
        "serialize_block_broadcast",
        "compress",
        "block_broadcast",
        "public",
    )
    assert (b.time_sec, b.original_size, b.compressed_size) == (0.001234, 123456, 45678)
    assert b.labels == ("serialize_block_broadcast", "public", "compressedV2_ImprovedStructureLZ4")
    assert bb.block_key(b.block_id) == ROOT


def test_candidate_without_original_size() -> None:
    b = bb.parse(
        f"Broadcast_benchmark deserialize_candidate block_id={ROOT} called_from=validator_session time_sec=0.000800 "
        "compression=compressedV2_ImprovedStructureLZ4 compressed_size=60228".encode()
    )
    assert (b.stage, b.type, b.original_size, b.compressed_size) == ("decompress", "candidate", None, 60228)
    assert b.labels == ("deserialize_candidate", "validator_session", "compressedV2_ImprovedStructureLZ4")
    assert bb.block_key(b.block_id) == ROOT


def test_older_branch_candidate_data_and_block_full_without_called_from() -> None:
    old = bb.parse(
        f"Broadcast_benchmark compress_candidate_data block_id={ROOT.upper()} time_sec=0.001000 compression=compressed "
        "original_size=130000 compressed_size=60228".encode()
    )
    assert (old.stage, old.type, old.labels) == (
        "compress",
        "candidate_data",
        ("compress_candidate_data", "none", "compressed"),
    )
    full = bb.parse(
        b"Broadcast_benchmark deserialize_block_full block_id=x time_sec=0.5 compression=compressedV2 compressed_size=1"
    )
    assert full.labels == ("deserialize_block_full", "none", "compressedV2")


def test_fields_are_read_by_name_and_unknown_values_are_bounded() -> None:
    b = bb.parse(
        b"Broadcast_benchmark serialize_block_teleport compressed_size=5 compression=zstd block_id=x time_sec=1e-05 "
        b"called_from=moon extra=1"
    )
    assert (b.time_sec, b.compressed_size) == (1e-05, 5)
    assert b.labels == ("other", "other", "other")
    assert b.stage == "compress"


@pytest.mark.parametrize(
    "message",
    [
        b"Broadcast_benchmark serialize_candidate block_id=x time_sec=0.1 compression=compressed",
        b"Broadcast_benchmark serialize_candidate time_sec=0.1 compression=compressed compressed_size=5",
        b"Broadcast_benchmark serialize_candidate block_id=x time_sec=fast compression=compressed compressed_size=5",
        b"Broadcast_benchmark serialize_candidate block_id=x time_sec=inf compression=compressed compressed_size=5",
        b"Broadcast_benchmark serialize_candidate block_id=x time_sec=0.1 compression=none compressed_size=-5",
        b"Broadcast_benchmark serialize_candidate block_id=x time_sec=0.1 compression= compressed_size=5",
        b"Broadcast_benchmark ",
    ],
)
def test_malformed_messages(message: bytes) -> None:
    with pytest.raises(bb.BenchmarkError):
        bb.parse(message)


def test_fast_pattern_reads_what_parse_reads() -> None:
    message = (
        f"Broadcast_benchmark serialize_block_broadcast block_id={BLOCK_ID} called_from=fast-sync time_sec=0.001234 "
        "compression=compressed original_size=123456 compressed_size=45678"
    )
    line = f"\x1b[1;33m[ 2][t 3][2026-07-16 10:00:01.1][f.cpp:1][&WARNING]\t{message}\x1b[0m".encode()
    (fast,) = bb.FAST.findall(line)
    assert fast == (b"serialize_block_broadcast", b"fast-sync", b"0.001234", b"compressed", b"123456", b"45678")
    assert bb.FAST.findall(line.replace(b" original_size=123456", b""))[0][4] == b""
