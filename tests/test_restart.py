"""Restarts: with --state.dir the exporter resumes where it stopped, even after SIGKILL; bad state is handled."""

import asyncio
import itertools
import os
import random
import threading
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import real_lines
from tests.metrics_text import Samples, parse, total, value
from tests.servers import ExporterProcess, http_get, wait_until
from ton_exporter.checkpoint import FILE_NAME, Checkpoint, StateStore

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

ROWS = [line for line in real_lines(1) if b"consensus.stats.events" not in line[:40]]
COLLATED = sum(1 for line in ROWS if b"collatedBlock" in line[:40])


def metrics(exporter: ExporterProcess) -> Samples:
    return parse(http_get(exporter.url + "/metrics")[2].decode())


def lines_parsed(exporter: ExporterProcess) -> float:
    return total(metrics(exporter), "tonex_source_lines_parsed_total")


def append(log: Path, rows: list[bytes]) -> Path:
    """Append whole lines to `log` (made with its directory if need be); the path, for chaining."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as f:
        f.write(b"\n".join(rows) + b"\n")
    return log


class SlowWriter(threading.Thread):
    """Appends real rows at a few hundred lines a second, one open/write/close per line, rotating now and then."""

    def __init__(self, path: Path, lines: int) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.lines = lines
        self.written = 0
        self.collated = 0

    def run(self) -> None:
        rng = random.Random(3)
        rows = itertools.cycle(ROWS)
        for i in range(self.lines):
            row = next(rows)
            with open(self.path, "ab") as f:
                f.write(row + b"\n")
            self.written += 1
            self.collated += b"collatedBlock" in row[:40]
            if i % 2000 == 1999:  # rename rotation now and then
                self.path.rename(self.path.with_name(f"session-logs.{i}"))
            time.sleep(rng.uniform(0, 0.004))


def start(tmp_path: Path, log: Path) -> ExporterProcess:
    return ExporterProcess(
        tmp_path, ["serve", "--from-start", "--state.dir", str(tmp_path / "state"), "--session-logs", str(log)]
    )


def test_sigkill_at_random_points_never_loses_or_doubles_a_line(tmp_path: Path) -> None:
    log = tmp_path / "node1" / "session-logs"
    log.parent.mkdir()
    writer = SlowWriter(log, 9000)
    rng = random.Random(11)
    exporter = start(tmp_path, log)
    writer.start()
    for _ in range(20):
        time.sleep(rng.uniform(0.1, 1.2))
        if rng.random() < 0.5:
            metrics(exporter)  # a scrape writes a checkpoint first; SIGKILL may land right after it
        exporter.kill()
        exporter = start(tmp_path, log)
    writer.join()
    try:
        wait_until(
            lambda: total(metrics(exporter), "tonex_source_lines_parsed_total") >= writer.written,
            60,
            f"the exporter to catch up with {writer.written} lines",
        )
        time.sleep(0.5)  # anything counted twice would show by now
        samples = metrics(exporter)
        assert total(samples, "tonex_source_lines_parsed_total") == writer.written == 9000
        assert total(samples, "tonex_collated_blocks_total") == writer.collated
        assert total(samples, "tonex_source_lines_rejected_total") == 0
        assert value(samples, "tonex_state_loads_total", result="restored") == 1
    finally:
        exporter.stop()


def test_a_corrupt_state_file_is_moved_aside_and_the_start_is_a_first_one(tmp_path: Path) -> None:
    log = append(tmp_path / "node1" / "session-logs", ROWS[:10])
    state = tmp_path / "state"
    state.mkdir()
    (state / "checkpoint.json").write_text('{"version": 1, "files": [{"dev": "x"')
    exporter = ExporterProcess(tmp_path, ["serve", "--state.dir", str(state), "--session-logs", str(log)])
    try:
        append(log, ROWS[10:15])
        wait_until(lambda: lines_parsed(exporter) == 5, 20, "5 new lines")
        samples = metrics(exporter)
        assert value(samples, "tonex_state_loads_total", result="corrupt") == 1
        assert value(samples, "tonex_state_loads_total", result="restored") == 0
        assert (state / "checkpoint.json.corrupt").read_text().startswith('{"version": 1')
        assert "saved state unusable" in exporter.output()
    finally:
        exporter.stop()


def test_a_clean_stop_saves_and_the_next_start_resumes(tmp_path: Path) -> None:
    log = append(tmp_path / "node1" / "session-logs", ROWS[:20])
    exporter = start(tmp_path, log)
    wait_until(lambda: lines_parsed(exporter) == 20, 20, "20 lines")
    exporter.stop()  # SIGTERM: saves
    append(log, ROWS[20:27])  # written while the exporter is down
    exporter = start(tmp_path, log)
    try:
        wait_until(lambda: lines_parsed(exporter) == 27, 20, "27 lines")
        samples = metrics(exporter)
        assert value(samples, "tonex_state_loads_total", result="restored") == 1
        assert value(samples, "tonex_source_watcher_info", mode="inotify") == 1
    finally:
        exporter.stop()


def test_saves_run_off_the_event_loop_and_the_newest_snapshot_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scrapes save before answering: the fsyncs must run in threads, side by side, and a save that ends after a
    newer one must not put its older snapshot back."""
    fsync_threads: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        fsync_threads.append(threading.current_thread().name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    store = StateStore(tmp_path)

    async def saves() -> str:
        await asyncio.gather(*(store.save_async(Checkpoint([], {}, {}, f"run{i}")) for i in range(8)))
        return threading.current_thread().name

    loop_thread = asyncio.run(saves())
    assert fsync_threads
    assert loop_thread not in fsync_threads
    assert 1 <= store.saves <= 8  # a save overtaken by a newer one is dropped, not installed
    assert store.save_errors == 0
    assert Checkpoint.from_json(orjson.loads(store.path.read_bytes())).run == "run7"
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME]  # no temporary file left behind
