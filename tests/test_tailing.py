"""Tailing real files through rotation, truncation and restarts: the counts exported equal the lines written.

Each test writes lines the way the engine does (open, append one line, close), moves files around the way
logrotate or an operator does, lets the exporter look (`poll_once`, what the serve loop runs on every wake-up),
and compares what /metrics says with what was written.
"""

import itertools
import os
from pathlib import Path

import orjson
import pytest

from tests.conftest import real_lines
from tests.metrics_text import scrape, total
from ton_exporter.app import Exporter
from ton_exporter.sources import tracker
from ton_exporter.sources.discovery import SourcePattern

ROWS = [line for line in real_lines(1) if b"consensus.stats.events" not in line[:40]]  # 92 block rows


class Writer:
    """Appends real rows to a path, one open/write/close per line, and counts them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written = 0
        self._rows = itertools.cycle(ROWS)

    def lines(self, n: int) -> None:
        for _ in range(n):
            with open(self.path, "ab") as f:
                f.write(next(self._rows) + b"\n")
        self.written += n

    def raw(self, data: bytes) -> None:
        with open(self.path, "ab") as f:
            f.write(data)


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    (tmp_path / "node1").mkdir()
    return tmp_path / "node1" / "session-logs"


def exporter_for(*specs: str, **kwargs: object) -> Exporter:
    return Exporter([SourcePattern(spec, "node1") for spec in specs], **kwargs)  # type: ignore[arg-type]


def parsed(exporter: Exporter) -> float:
    samples = scrape(exporter.registry)
    assert total(samples, "tonex_source_lines_rejected_total") == 0
    return total(samples, "tonex_source_lines_parsed_total")


def blocks(exporter: Exporter) -> float:
    samples = scrape(exporter.registry)
    return total(samples, "tonex_collated_blocks_total") + total(samples, "tonex_validated_blocks_total")


def reading(log_path: Path, lines: int) -> tuple[Writer, Exporter]:
    """`lines` written, then an exporter that has read them from the start: where most scenarios begin."""
    writer = Writer(log_path)
    writer.lines(lines)
    exporter = exporter_for(str(log_path), from_start=True)
    exporter.poll_once()
    return writer, exporter


def test_rename_rotation_then_a_new_file(log_path: Path) -> None:
    writer, exporter = reading(log_path, 30)
    writer.lines(7)  # written to the old file, not read yet when it is renamed
    log_path.rename(log_path.with_name("session-logs.1"))
    writer.lines(11)  # the new file
    exporter.poll_once()
    assert parsed(exporter) == writer.written == 48
    assert blocks(exporter) == 48
    assert total(scrape(exporter.registry), "tonex_source_rotations_total") == 1


def test_copytruncate(log_path: Path) -> None:
    writer, exporter = reading(log_path, 20)
    writer.lines(9)  # not read yet: logrotate copies them, then empties the file
    copy = log_path.with_name("session-logs.1")
    copy.write_bytes(log_path.read_bytes())
    os.truncate(log_path, 0)
    writer.lines(4)
    exporter.poll_once()
    exporter.poll_once()
    assert parsed(exporter) == writer.written == 33
    assert total(scrape(exporter.registry), "tonex_source_truncations_total") == 1


def test_truncate_to_zero(log_path: Path) -> None:
    writer, exporter = reading(log_path, 15)
    os.truncate(log_path, 0)
    writer.lines(20)  # more than before: the file is longer than the old offset again
    exporter.poll_once()
    assert parsed(exporter) == writer.written == 35
    assert total(scrape(exporter.registry), "tonex_source_truncations_total") == 1


def test_delete_and_recreate(log_path: Path) -> None:
    writer, exporter = reading(log_path, 12)
    writer.lines(5)
    log_path.unlink()  # the exporter still holds it open and reads it to its end
    writer.lines(8)
    exporter.poll_once()
    assert parsed(exporter) == writer.written == 25


def test_a_file_that_does_not_exist_at_start(log_path: Path) -> None:
    exporter = exporter_for(str(log_path))  # from the end, as by default: but the file is new
    exporter.poll_once()
    assert total(scrape(exporter.registry), "tonex_source_lines_parsed_total") == 0
    writer = Writer(log_path)
    writer.lines(10)
    exporter.poll_once()
    assert parsed(exporter) == 10


def test_a_partial_last_line_is_completed_later(log_path: Path) -> None:
    writer = Writer(log_path)
    writer.lines(3)
    line = ROWS[5]
    writer.raw(line[:1000])  # the engine killed mid-write, or a slow disk
    exporter = exporter_for(str(log_path), from_start=True)
    exporter.poll_once()
    assert parsed(exporter) == 3  # the half line is neither parsed nor rejected
    writer.raw(line[1000:] + b"\n")
    exporter.poll_once()
    assert parsed(exporter) == 4


def test_a_line_of_several_megabytes(log_path: Path) -> None:
    batch = orjson.loads(real_lines(1)[42])  # a consensus batch: 121 events
    batch["events"] = batch["events"] * 120  # 14,520 events, about 4 MB
    big = orjson.dumps(batch)
    assert len(big) > 3_000_000
    writer, exporter = reading(log_path, 2)
    for piece in range(0, len(big), 700_000):  # written in pieces, read in between
        writer.raw(big[piece : piece + 700_000])
        exporter.poll_once()
    writer.raw(b"\n")
    writer.lines(2)
    exporter.poll_once()
    samples = scrape(exporter.registry)
    assert total(samples, "tonex_source_lines_parsed_total") == 5
    assert total(samples, "tonex_consensus_events_total") == 121 * 120


def test_a_burst_of_100k_lines(log_path: Path) -> None:
    lines = [
        b'{"@type":"validatorStats.stats","success":true,"timestamp":%d.5}' % (1781457600 + i) for i in range(100_000)
    ]
    exporter = exporter_for(str(log_path))
    exporter.poll_once()
    with open(log_path, "ab") as f:  # one burst: the exporter sees it all at once
        f.write(b"\n".join(lines) + b"\n")
    exporter.poll_once()
    samples = scrape(exporter.registry)
    assert total(samples, "tonex_source_records_total", type="validatorStats.stats") == 100_000
    assert total(samples, "tonex_source_lines_rejected_total") == 0


def test_two_rotations_between_two_reads(log_path: Path) -> None:
    writer, exporter = reading(log_path, 10)
    writer.lines(3)
    rotate(log_path)
    writer.lines(6)  # a file the exporter never sees at the path
    rotate(log_path)
    writer.lines(4)
    exporter.poll_once()
    assert parsed(exporter) == writer.written == 23
    assert sorted(p.name for p in log_path.parent.iterdir()) == ["session-logs", "session-logs.1", "session-logs.2"]


def rotate(path: Path, keep: int = 5) -> None:
    """logrotate's rename scheme: .4 -> .5, ..., .1 -> .2, the file -> .1."""
    for n in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            older.rename(path.with_name(f"{path.name}.{n + 1}"))
    path.rename(path.with_name(f"{path.name}.1"))


def test_rotated_copies_are_not_read_again_after_being_closed(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracker, "IDLE_CLOSE_SECONDS", 0.0)
    writer, exporter = reading(log_path, 10)
    rotate(log_path)
    writer.lines(5)
    for _ in range(3):  # the rotated copy is closed, then seen again by the next looks
        exporter.poll_once()
    assert parsed(exporter) == 15
    assert len(exporter.tracker.open) == 1


def test_existing_rotated_copies_are_history_when_starting_from_the_end(log_path: Path) -> None:
    writer = Writer(log_path)
    writer.lines(10)
    rotate(log_path)
    writer.lines(4)
    exporter = exporter_for(str(log_path))  # from the end: neither the file nor its copy is read
    exporter.poll_once()
    writer.lines(6)
    exporter.poll_once()
    assert parsed(exporter) == 6


def test_globs_and_directories_pick_up_files_that_appear_later(tmp_path: Path) -> None:
    exporter = Exporter([SourcePattern(str(tmp_path / "node*" / "session-logs"))])
    exporter.poll_once()
    writers = {}
    for n in (1, 2, 3):
        (tmp_path / f"node{n}").mkdir()
        writers[n] = Writer(tmp_path / f"node{n}" / "session-logs")
        writers[n].lines(n * 4)
        exporter.poll_once()
    samples = scrape(exporter.registry)
    per_node = {n: total(samples, "tonex_source_lines_parsed_total", node=f"node{n}") for n in (1, 2, 3)}
    assert per_node == {1: 4, 2: 8, 3: 12}

    directory = Exporter([SourcePattern(str(tmp_path / "node2"))], from_start=True)
    directory.poll_once()
    assert parsed(directory) == 8
