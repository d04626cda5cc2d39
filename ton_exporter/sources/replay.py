"""The demo: the bundled real session stats, replayed into files with their timestamps shifted to now, forever.

The run lasted 11.7 s; loops follow each other without a gap (one every `period` seconds), each shifting every
event time (`collated_at`, `validated_at`, `ts`) so that the first loop starts now. Each loop renames the
consensus sessions, so it reads like a new network session. Lines are appended one open/write/close at a time, in
the original file order, when the wall clock reaches their shifted time, exactly as the engine writes them; a file
that grows past `rotate_bytes` is renamed away (rename rotation), which the tailer follows.
"""

import asyncio
import gzip
import math
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

BUNDLED = ("session-logs-node1.jsonl.gz", "session-logs-node2.jsonl.gz")


@dataclass
class ReplayLine:
    node: str
    record: dict[str, Any]
    due: float  # original time at which the engine wrote the line


def _times(record: dict[str, Any]) -> list[float]:
    if "collated_at" in record:
        return [record["collated_at"]]
    if "validated_at" in record:
        return [record["validated_at"]]
    return [e["ts"] for e in record.get("events", ())]


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
            written = -math.inf
            for record in node_records:
                written = max([written, *_times(record)])  # the engine writes a line after all its events
                self.lines.append(ReplayLine(node, record, written))
        self.lines.sort(key=lambda line: line.due)
        self.first = min(min(_times(line.record)) for line in self.lines)
        self.period = math.ceil(self.lines[-1].due - self.first + 1)
        self._originals = [(line.record, orjson.dumps(line.record)) for line in self.lines]

    def path(self, node: str) -> Path:
        return self.directory / node / "session-logs"

    def shift_for_loop(self, loop: int, start: float) -> float:
        return start - self.first + loop * self.period

    async def run(self, loops: int | None = None, history: float = 0.0) -> None:
        """Append the lines when their shifted time comes; with `history`, the replay began that many seconds
        ago: the lines of that past are written at once."""
        for node in {line.node for line in self.lines}:
            self.path(node).parent.mkdir(parents=True, exist_ok=True)
        start = time.time() - history
        loop = 0
        while loops is None or loop < loops:
            shift = self.shift_for_loop(loop, start)
            for line, (_, original) in zip(self.lines, self._originals, strict=True):
                delay = line.due + shift - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._append(line.node, shifted(original, shift, loop))
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
    """Move the record's event times by `shift` seconds and rename its consensus session, in place."""
    for key in ("collated_at", "validated_at"):
        if key in record:
            record[key] = round(record[key] + shift, 6)
    if "events" in record:
        record["id"] = f"{record['id']}{session_suffix}"
        for event in record["events"]:
            event["ts"] = round(event["ts"] + shift, 6)


def shifted(original: bytes, shift: float, loop: int) -> bytes:
    """The line with its event times moved by `shift` seconds and its session renamed for this loop."""
    record = orjson.loads(original)
    shift_record(record, shift, f"loop{loop}")
    return orjson.dumps(record)
