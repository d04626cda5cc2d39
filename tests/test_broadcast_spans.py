"""LOG-05 live: the broadcast time of each block over every node's text log, in central mode, on SYNTHETIC logs of
four nodes (synthetic/text_logs.py, 300 blocks).

Expected values are computed here from the raw lines with a regex of this test's own (first compression start =
line time - time_sec, last decompression end = line time, per root hash, over all nodes), and checked against both
the exporter's histogram and what `ton-exporter slowest-blocks` reports for the same files.
"""

import json
import re
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import FakeWall
from tests.metrics_text import Samples, assert_histogram, scrape, total
from ton_exporter.aggregation.buckets import BROADCAST_BLOCK_BUCKETS
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern

pytestmark = pytest.mark.external  # runs slowest-blocks as a process: not in ./dev test --quick

BLOCKS = 300
TOP_ALL = ("--top", str(10 * BLOCKS), "--format", "json")
ANSI = re.compile(rb"\x1b\[[0-9;]*m")
LINE = re.compile(
    rb"^\[ *\d+\]\[t *\d+\]\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d+)\]\[[^\t]*\tBroadcast_benchmark (\S+) "
    rb"block_id=(\S+) .*?time_sec=([0-9.]+) "
)


def generate(directory: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "synthetic.text_logs", str(directory), "--blocks", str(BLOCKS), "--seed", "18"],
        check=True,
        timeout=120,
    )
    return directory


def raw_spans(directory: Path) -> list[float]:
    """Per block (root hash), first compression start to last decompression end, from the raw lines."""
    starts: dict[bytes, float] = {}
    ends: dict[bytes, float] = defaultdict(lambda: -1.0)
    for path in sorted(directory.glob("node*/log*")):
        for raw in path.read_bytes().split(b"\n"):
            found = LINE.match(ANSI.sub(b"", raw))
            if found is None:
                continue
            stamp, fraction, op, block_id, seconds = found.groups()
            whole = datetime.strptime(stamp.decode(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
            at = whole + float(b"0." + fraction)
            root = (block_id.split(b":")[1] if block_id.startswith(b"(") else block_id).lower()
            if op.startswith((b"serialize_", b"compress_")):
                starts[root] = min(starts.get(root, at), at - float(seconds))
            elif op.startswith((b"deserialize_", b"decompress_")):
                ends[root] = max(ends[root], at)
    return [ends[root] - start for root, start in starts.items() if root in ends]


def slowest_blocks_spans(directory: Path) -> list[float]:
    result = subprocess.run(
        [sys.executable, "-m", "ton_exporter", "slowest-blocks", str(directory / "node*" / "log*"), *TOP_ALL],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [float(b["span_seconds"]) for b in json.loads(result.stdout)["slowest"]]


def exported(directory: Path) -> Samples:
    wall = FakeWall()
    pattern = SourcePattern(str(directory / "node*" / "log*"), None, "text_log")
    exporter = Exporter([pattern], run="r", from_start=True, wall=wall)
    exporter.poll_once()
    wall.now += 60  # every node quiet: the blocks at the ends of the files settle too
    return scrape(exporter.registry)


def check(samples: Samples, spans: list[float]) -> None:
    assert_histogram(
        samples, "tonex_broadcast_block_seconds", spans, BROADCAST_BLOCK_BUCKETS, 1e-6 * len(spans), run="r"
    )


def test_every_blocks_broadcast_time_over_all_nodes_is_observed_once(tmp_path: Path) -> None:
    directory = generate(tmp_path / "logs")
    spans = raw_spans(directory)
    assert len(spans) == BLOCKS
    assert max(spans) > 1.0  # the generator's slow blocks are there
    check(exported(directory), spans)
    assert total(exported(directory), "tonex_broadcast_blocks_unmeasured_total", run="r") == 0


def test_it_equals_what_slowest_blocks_reports_for_the_same_files(tmp_path: Path) -> None:
    directory = generate(tmp_path / "logs")
    reported = sorted(slowest_blocks_spans(directory))
    assert reported == pytest.approx(sorted(raw_spans(directory)), abs=1e-6)  # slowest-blocks rounds to 1 µs
    samples = exported(directory)
    assert total(samples, "tonex_broadcast_block_seconds_count", run="r") == len(reported)
    assert total(samples, "tonex_broadcast_block_seconds_sum", run="r") == pytest.approx(sum(reported), abs=1e-3)


def test_read_live_in_two_halves_no_block_is_measured_before_every_nodes_lines_are_in(tmp_path: Path) -> None:
    """Every file cut at the same log time and read in two rounds: the first round settles only blocks 10 s of log
    time older than every node's newest line, so the totals equal one reading of the whole files."""
    directory = generate(tmp_path / "logs")
    spans = raw_spans(directory)
    live = tmp_path / "live"
    halves: dict[Path, bytes] = {}
    cut = b"2026-07-16 10:01:45"  # about half of the 300 blocks' 210 s
    for path in directory.glob("node*/log*"):
        data = path.read_bytes()
        at = next((i for i, line in enumerate(data.split(b"\n")) if (_stamp(line) or b"") >= cut), None)
        split = sum(len(line) + 1 for line in data.split(b"\n")[:at]) if at is not None else len(data)
        target = live / path.relative_to(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data[:split])
        halves[target] = data[split:]
    wall = FakeWall()
    exporter = Exporter(
        [SourcePattern(str(live / "node*" / "log*"), None, "text_log")], run="r", from_start=True, wall=wall
    )
    exporter.poll_once()
    early = total(scrape(exporter.registry), "tonex_broadcast_block_seconds_count", run="r")
    assert 0 < early < BLOCKS
    for target, rest in halves.items():
        with target.open("ab") as f:
            f.write(rest)
    exporter.poll_once()
    wall.now += 60
    check(scrape(exporter.registry), spans)


def _stamp(line: bytes) -> bytes | None:
    found = re.search(rb"\]\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", ANSI.sub(b"", line))
    return found.group(1) if found else None


def test_the_broadcast_times_survive_a_restart_from_the_checkpoint(tmp_path: Path) -> None:
    directory = generate(tmp_path / "logs")
    pattern = SourcePattern(str(directory / "node*" / "log*"), None, "text_log")
    wall = FakeWall()
    first = Exporter([pattern], run="r", from_start=True, state_dir=tmp_path / "state", wall=wall)
    first.poll_once()
    wall.now += 60
    first.settle_networks()
    first.close()
    second = Exporter([pattern], run="r", from_start=True, state_dir=tmp_path / "state", wall=FakeWall())
    second.poll_once()  # nothing new past the saved offsets
    check(scrape(second.registry), raw_spans(directory))
