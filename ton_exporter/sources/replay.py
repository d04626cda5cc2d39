"""The demo: the bundled real session stats, replayed into files with their timestamps shifted to now, forever.

The run lasted 11.7 s; loops follow each other without a gap (one every `period` seconds), and each continues the
one before as a long session would (continuation.py): later event times, block seqnos and consensus slots, the
same session ids, `consensus.stats.id` only in the very first batch. So every consensus count of the demo equals,
loop by loop, what the real files give (node1's shard session ends each loop with the collation whose finish the
engine lost, as the real file does). Lines are appended one open/write/close at a time, in the original file
order, when the wall clock reaches their shifted time, exactly as the engine writes them; a file that grows past
`rotate_bytes` is renamed away (rename rotation), which the tailer follows.
"""

import asyncio
import gzip
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from ton_exporter.sources.continuation import Continuation, event_times, run_period, write_times

BUNDLED = ("session-logs-node1.jsonl.gz", "session-logs-node2.jsonl.gz")


@dataclass
class ReplayLine:
    node: str
    record: dict[str, Any]
    due: float  # original time at which the engine wrote the line


def load_bundled() -> dict[str, list[dict[str, Any]]]:
    data = resources.files("ton_exporter") / "data"
    out = {}
    for name in BUNDLED:
        node = name.removeprefix("session-logs-").removesuffix(".jsonl.gz")
        with (data / name).open("rb") as f:
            out[node] = [orjson.loads(line) for line in gzip.decompress(f.read()).splitlines() if line]
    return out


class Replay:
    def __init__(self, directory: Path, records: dict[str, list[dict[str, Any]]], rotate_bytes: int) -> None:
        self.directory = directory
        self.rotate_bytes = rotate_bytes
        self.lines: list[ReplayLine] = []
        for node, node_records in records.items():
            for record, written in zip(node_records, write_times(node_records), strict=True):
                self.lines.append(ReplayLine(node, record, written))
        self.lines.sort(key=lambda line: line.due)
        self.first = min(min(event_times(line.record)) for line in self.lines)
        self.period = run_period(records)
        self.continuation = Continuation.of((r for rs in records.values() for r in rs), self.period)
        self._originals = [orjson.dumps(line.record) for line in self.lines]

    def path(self, node: str) -> Path:
        return self.directory / node / "session-logs"

    def shift_for_loop(self, loop: int, start: float) -> float:
        return start - self.first + loop * self.period

    def loop_lines(self, loop: int, start: float) -> Iterator[tuple[float, str, bytes]]:
        """(wall time due, node, line) of loop `loop` of a replay that started at `start`."""
        base = start - self.first
        for line, original in zip(self.lines, self._originals, strict=True):
            record = self.continuation.apply(orjson.loads(original), loop)
            shift_record(record, base, "")
            yield line.due + base + loop * self.period, line.node, orjson.dumps(record)

    async def run(self, loops: int | None = None, history: float = 0.0) -> None:
        """Append the lines when their shifted time comes; with `history`, the replay began that many seconds
        ago: the lines of that past are written at once."""
        for node in {line.node for line in self.lines}:
            self.path(node).parent.mkdir(parents=True, exist_ok=True)
        start = time.time() - history
        loop = 0
        while loops is None or loop < loops:
            for due, node, data in self.loop_lines(loop, start):
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._append(node, data)
            loop += 1

    def _append(self, node: str, data: bytes) -> None:
        path = self.path(node)
        try:
            if path.stat().st_size > self.rotate_bytes:
                path.replace(path.with_name(path.name + ".1"))
        except FileNotFoundError:
            pass
        with open(path, "ab") as f:
            f.write(data + b"\n")


def shift_record(record: dict[str, Any], shift: float, session_suffix: str) -> None:
    """Move the record's event times by `shift` seconds and rename its consensus session (`session_suffix`
    appended), in place."""
    for key in ("collated_at", "validated_at"):
        if key in record:
            record[key] = round(record[key] + shift, 6)
    if "events" in record:
        record["id"] = f"{record['id']}{session_suffix}"
        for event in record["events"]:
            event["ts"] = round(event["ts"] + shift, 6)
