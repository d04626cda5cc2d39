"""`ton-exporter slowest-blocks` on the SYNTHETIC sample: the blocks made slow on purpose come out on top, with the
spans computed from the raw lines with awk (first compression start = line time - time_sec, last decompression
end = line time, over all nodes)."""

import csv
import gzip
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

SAMPLE = Path(__file__).parent / "fixtures" / "text-logs"
LOGS = str(SAMPLE / "node*" / "log*")

# (block id prefix, span in seconds), from awk over the sample
SLOWEST = [
    ("(0,8000000000000000,4002):884E342D", 2.712413),  # fetched in full by node3 2.3 s after its broadcast
    ("(0,8000000000000000,4003):4DD9867E", 1.654266),  # the public broadcast reached node3 1.4 s late
    ("(-1,8000000000000000,1005):1CA64095", 0.926195),  # node2 took 0.9 s to decompress the candidate
    ("(0,8000000000000000,4004):706F4435", 0.858830),
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ton_exporter", "slowest-blocks", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def report(*args: str) -> dict[str, Any]:
    result = run(*args, "--format", "json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_json_ranks_the_slow_blocks_first() -> None:
    data = report(LOGS, "--top", "4")
    assert data["inputs"]["nodes"] == ["node1", "node2", "node3", "node4"]
    assert len(data["inputs"]["files"]) == 12
    assert (data["inputs"]["benchmark_lines"], data["inputs"]["malformed_lines"]) == (131, 0)
    assert (data["blocks"], data["ranked_blocks"]) == (10, 10)
    got = [
        (b["block_id"][: len(prefix)], b["span_seconds"])
        for b, (prefix, _) in zip(data["slowest"], SLOWEST, strict=True)
    ]
    assert got == [(prefix, pytest.approx(span, abs=2e-6)) for prefix, span in SLOWEST]
    assert [b["rank"] for b in data["slowest"]] == [1, 2, 3, 4]


def test_stage_breakdowns_show_where_the_time_went() -> None:
    first, _, third, _ = report(LOGS, "--top", "4")["slowest"]
    stages = {(s["type"], s["called_from"]): s for s in first["stages"]}
    assert stages[("block_full", "none")]["span_seconds"] == pytest.approx(0.072354, abs=2e-6)
    assert stages[("block_full", "none")]["last_node"] == "node3"
    assert stages[("block_broadcast", "public")]["span_seconds"] == pytest.approx(0.076194, abs=2e-6)
    assert stages[("block_broadcast", "public")]["decompressions"] == 3
    assert stages[("block_broadcast", "custom")]["span_seconds"] == pytest.approx(0.064955, abs=2e-6)
    candidate = {(s["type"], s["called_from"]): s for s in third["stages"]}[("candidate", "validator_session")]
    assert candidate["span_seconds"] == pytest.approx(0.926195, abs=2e-6)
    assert (candidate["last_node"], candidate["decompress_seconds_max"]) == ("node2", 0.9)


def test_each_stage_is_placed_from_the_block_s_first_compression_start() -> None:
    first = report(LOGS, "--top", "1")["slowest"][0]
    stages = {(s["type"], s["called_from"]): s for s in first["stages"]}
    # the block's span ends with node3's full fetch: that stage ends where the block does (awk: 2.712413 s)
    assert stages[("block_full", "none")]["end_offset_seconds"] == pytest.approx(2.712413, abs=2e-6)
    assert stages[("block_full", "none")]["start_offset_seconds"] == pytest.approx(2.712413 - 0.072354, abs=2e-6)
    assert min(s["start_offset_seconds"] for s in first["stages"] if s["compressions"]) == 0
    for s in first["stages"]:
        if s["span_seconds"] is not None:
            assert s["end_offset_seconds"] - s["start_offset_seconds"] == pytest.approx(s["span_seconds"], abs=2e-6)
    table = run(LOGS, "--top", "1").stdout
    block_full = next(line.split() for line in table.splitlines() if line.startswith("  block_full "))
    assert block_full[4:8] == ["2640.1", "ms", "2712.4", "ms"]  # start +, end +


def test_signatures_fit_an_80_column_terminal_and_name_every_combination() -> None:
    data = report(LOGS)
    section = run(LOGS).stdout.split("\nSignatures")[1].splitlines()[1:]
    assert section
    assert all(len(line) <= 80 for line in section), max(section, key=len)
    text = " ".join(section).replace(",", " ")
    for index, s in enumerate(data["signatures"], 1):
        assert f"S{index}  {s['blocks']} block" in text
        for combination in s["signature"].split(" + "):
            op, _, compression = combination.partition("/")
            assert op in text
            assert compression in text.split()


def test_signatures_list_the_op_and_compression_combinations() -> None:
    data = report(LOGS)
    assert sum(s["blocks"] for s in data["signatures"]) == 10
    first = data["slowest"][0]["signature"].split(" + ")
    assert "serialize_block_full/compressed" in first
    assert "deserialize_block_full/compressed" in first
    assert "compress_candidate_data/compressed" in first  # node4, the older build, produced it
    everything = {combo for s in data["signatures"] for combo in s["signature"].split(" + ")}
    assert "serialize_block_broadcast/compressedV2_ImprovedStructureLZ4" in everything  # logged without "_"
    assert not any(combo.startswith("serialize_block_broadcast/compressedV2I") for combo in everything)


def test_table_and_csv() -> None:
    table = run(LOGS, "--top", "3")
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].startswith("12 files of 4 nodes")
    ranks = [line.split()[:3] for line in lines if line[:2] in ("1 ", "2 ", "3 ")]
    assert ranks == [
        ["1", "(0,8000000000000000,4002):884E342D…", "2712.4"],
        ["2", "(0,8000000000000000,4003):4DD9867E…", "1654.3"],
        ["3", "(-1,8000000000000000,1005):1CA64095…", "926.2"],
    ]
    assert "By type and called_from" in table.stdout
    assert "Signatures" in table.stdout

    result = run(LOGS, "--top", "2", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {row["rank"] for row in rows} == {"1", "2"}
    assert len(rows) == sum(len(block["stages"]) for block in report(LOGS, "--top", "2")["slowest"])
    assert float(rows[0]["block_span_seconds"]) == pytest.approx(2.712413, abs=2e-6)


def test_node_names_compressed_inputs_and_malformed_lines(tmp_path: Path) -> None:
    shutil.copy(SAMPLE / "node1" / "log", tmp_path / "a.log")
    (tmp_path / "b.log.gz").write_bytes(gzip.compress((SAMPLE / "node2" / "log").read_bytes()))
    (tmp_path / "c.log").write_bytes(
        b"[ 2][t 1][2026-07-16 10:00:09.000000001][payload.cpp:40]\tBroadcast_benchmark serialize_candidate "
        b"block_id=ab time_sec=0.1 compression=compressed\n"
    )
    data = report(f"alpha={tmp_path / 'a.log'}", str(tmp_path / "*.gz"), str(tmp_path / "c.log"))
    assert data["inputs"]["nodes"] == ["alpha", "b", "c"]
    # 32 + 39 benchmark lines in node1's and node2's logs (grep -c), and the malformed one
    assert (data["inputs"]["benchmark_lines"], data["inputs"]["malformed_lines"]) == (32 + 39 + 1, 1)


def test_progress_and_mistakes() -> None:
    assert run(LOGS, "--format", "csv").stderr == ""  # small input: no progress bar
    assert "reading logs" in run(LOGS, "--format", "csv", "--progress").stderr
    missing = run("/no/such/log")
    assert missing.returncode == 2
    assert "no file matches /no/such/log" in missing.stderr
    assert run().returncode == 2


def test_logs_without_benchmark_lines_say_so_and_exit_2(tmp_path: Path) -> None:
    """Empty tables would read as "no slow block"."""
    (tmp_path / "node1").mkdir()
    (tmp_path / "node1" / "log").write_text("[ 3][t 1][2026-07-16 10:00:00.000000000][manager.cpp:1][!x]\tstarted\n")
    result = run(str(tmp_path / "node*" / "log"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ton-exporter: error: no Broadcast_benchmark lines in 1 file(s): nothing to rank (are these an engine's text "
        "logs?)"
    ]
