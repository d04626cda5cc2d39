"""A missed filesystem event never stalls a source: with every inotify event dropped (the watcher runs, its events
never arrive), appended lines are still read and a rotation is still followed, by the slower rediscovery timer."""

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import real_lines
from ton_exporter.app import Exporter, parse_source
from ton_exporter.sources.watcher import ChangeWatcher


def lines_read(exporter: Exporter) -> float:
    return sum(
        sample.value
        for family in exporter.registry.collect()
        if family.name == "tonex_source_lines_read"
        for sample in family.samples
        if sample.name == "tonex_source_lines_read_total"
    )


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def test_a_rotation_is_followed_when_no_event_arrives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dropped: list[object] = []
    monkeypatch.setattr(ChangeWatcher, "_deliver", lambda self, changes: dropped.append(changes))
    lines = real_lines(1)
    first, during, after = lines[:20], lines[20:40], lines[40:]
    log = tmp_path / "session-logs"
    log.write_bytes(b"\n".join(first) + b"\n")
    exporter = Exporter([parse_source(f"node1={log}", None)], from_start=True)

    async def scenario() -> None:
        poller = asyncio.create_task(exporter.poll_forever(0.1, use_inotify=True))
        try:
            await until(lambda: lines_read(exporter) == len(first), 15, "the first lines")
            with log.open("ab") as f:
                f.write(b"\n".join(during) + b"\n")
            log.rename(tmp_path / "session-logs.1")
            log.write_bytes(b"\n".join(after) + b"\n")
            await until(lambda: lines_read(exporter) == len(lines), 20, f"all {len(lines)} lines after the rotation")
            await until(lambda: bool(dropped), 10, "inotify to see (and drop) the changes")
            assert exporter.watch_mode == "inotify"  # followed by the timer, not by a fallback to polling
        finally:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)

    asyncio.run(scenario())
    exporter.close()
