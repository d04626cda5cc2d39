"""The cross-node broadcast time of a block (LOG-05), live: the slowest-blocks definition (analysis/slowest_blocks.py)
over every node's text log one exporter reads (central mode).

Per block (its root hash, bb.block_key: a candidate and its block are one): the first compression start
(line time - time_sec of a serialize_/compress_ line) to the last decompression end (line time of a
deserialize_/decompress_ line), over all nodes and types. A block is measured once it has settled: no line of it
for SETTLE_SECONDS of log time on every node still logging (a node that has read nothing for QUIET_SECONDS of wall
time no longer holds the others back: its file is read to the end). A settled block without both stages in the logs
read is counted as unmeasured, as slowest-blocks counts it unranked. A line more than SETTLE_SECONDS of log time
away from every line of its block seen so far is another broadcast of the same block (a log replayed, a block sent
again much later): it opens a block of its own, measured on its own. A line of a block that settled already (a node
far behind) opens it again too: it settles as unmeasured unless both stages come again.

Blocks open at a time are bounded (MAX_OPEN): past it the oldest is settled early. The histogram and the unmeasured
count are saved in the checkpoint; open blocks are not (a block open at a restart is measured from the lines read
after it).
"""

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ton_exporter.aggregation.buckets import BROADCAST_BLOCK_BUCKETS
from ton_exporter.aggregation.distribution import Distribution
from ton_exporter.parsers import broadcast_benchmark as bb
from ton_exporter.parsers.td_prefix import _TIME, PREFIX, parse_timestamp, strip_colour

SETTLE_SECONDS = 10.0  # log time without a line of the block: the synthetic network's slowest fetch is 2.3 s late
QUIET_SECONDS = 5.0  # wall time without a line from a node: it has caught up and holds no block open
MAX_OPEN = 10_000

SPAN = re.compile(
    rb"(?:\x1b\[[0-9;]*m)?\[ *-?\d+\]\[t *\d+\]\[(" + _TIME + rb")\]\[[^\]:\t\n]+:\d+\]"
    rb"(?:\[#[^\t\n]*?\])?(?:\[![^\t\n]*?\])?(?:\[&[^\t\n]*?\])?\tBroadcast_benchmark ([^\s\x1b]+) "
    rb"block_id=([^\s\x1b]+)(?: called_from=[^\s\x1b]+)? time_sec=(\d+\.\d+) "
)
"""A benchmark line's time, op, block id and time_sec, in the shape of every known release (bb.FAST)."""


@dataclass(slots=True)
class OpenBlock:
    first_line: float
    last_line: float
    first_start: float = math.inf
    last_end: float = -math.inf

    def near(self, at: float) -> bool:
        return self.first_line - SETTLE_SECONDS <= at <= self.last_line + SETTLE_SECONDS


@dataclass
class BroadcastSpans:
    """One run's open blocks and the histogram of settled ones."""

    blocks: dict[str, list[OpenBlock]] = field(default_factory=dict)  # root hash -> its broadcasts, oldest first
    clocks: dict[str, tuple[float, float]] = field(default_factory=dict)  # node -> (newest line time, wall time)
    seconds: Distribution = field(default_factory=lambda: Distribution(BROADCAST_BLOCK_BUCKETS))
    unmeasured: int = 0

    def feed(self, node: str, block: bytes, wall: float) -> None:
        """The benchmark lines of a block of whole lines (called once per line: the pipeline's leaves)."""
        if bb.MARKER not in block:
            return
        records = _matched(block)
        if records is None:  # a line of another shape (colour codes inside, a marker in another message): one by one
            records = _one_by_one(block)
        newest = self.clocks.get(node, (-math.inf, 0.0))[0]
        for end, op, block_id, seconds in records:
            stage = bb.stage_of(op)
            if stage == bb.OTHER:
                continue
            entry = self._entry(bb.block_key(block_id), end)
            if stage == "compress":
                entry.first_start = min(entry.first_start, end - seconds)
            else:
                entry.last_end = max(entry.last_end, end)
            entry.first_line = min(entry.first_line, end)
            entry.last_line = max(entry.last_line, end)
            newest = max(newest, end)
        self.clocks[node] = (newest, wall)

    def _entry(self, key: str, at: float) -> OpenBlock:
        """The open broadcast of block `key` that a line at `at` belongs to, opened if there is none."""
        entries = self.blocks.get(key)
        if entries is None:
            entries = self.blocks[key] = []
            if len(self.blocks) > MAX_OPEN:  # the oldest block settles early
                for entry in self.blocks.pop(next(iter(self.blocks))):
                    self._measure(entry)
        for entry in entries:
            if entry.near(at):
                return entry
        entry = OpenBlock(at, at)
        entries.append(entry)
        return entry

    def settle(self, wall: float) -> None:
        """Measure the broadcasts no node still logging can add to."""
        logging = [t for t, seen in self.clocks.values() if wall - seen < QUIET_SECONDS]
        before = min(logging) - SETTLE_SECONDS if logging else math.inf
        for key in [k for k, entries in self.blocks.items() if any(e.last_line < before for e in entries)]:
            entries = self.blocks[key]
            for entry in [e for e in entries if e.last_line < before]:
                entries.remove(entry)
                self._measure(entry)
            if not entries:
                del self.blocks[key]

    def to_json(self) -> dict[str, Any]:
        return {"seconds": self.seconds.to_json(), "unmeasured": self.unmeasured}

    def restore(self, data: dict[str, Any]) -> None:
        if "seconds" in data:
            self.seconds.restore(data["seconds"])
            self.unmeasured = int(data.get("unmeasured", 0))

    def _measure(self, entry: OpenBlock) -> None:
        if entry.first_start < math.inf and entry.last_end > -math.inf:
            self.seconds.observe(entry.last_end - entry.first_start)
        else:
            self.unmeasured += 1


def _matched(block: bytes) -> list[tuple[float, str, str, float]] | None:
    """Each benchmark line's fields, matched at the start of the line of each marker (the marker is rare, so this
    looks at a few lines of a block, not all), or None if one of them has another shape."""
    out = []
    position = 0
    while (found := block.find(bb.MARKER, position)) >= 0:
        match = SPAN.match(block, block.rfind(b"\n", 0, found) + 1)
        if match is None:
            return None
        t, op, block_id, seconds = match.groups()
        out.append((parse_timestamp(t), op.decode(), block_id.decode(), float(seconds)))
        end = block.find(b"\n", found)
        position = len(block) if end < 0 else end  # one record a line, as slowest-blocks reads it
    return out


def _one_by_one(block: bytes) -> list[tuple[float, str, str, float]]:
    out = []
    for raw in block.split(b"\n"):
        line = strip_colour(raw)
        match = PREFIX.match(line)
        if match is None or not line.startswith(bb.MARKER, match.end()):
            continue
        try:
            b = bb.parse(line[match.end() :])
        except bb.BenchmarkError:
            continue  # rejected (bad_benchmark) by the pipeline, skipped by slowest-blocks
        out.append((parse_timestamp(match.group(3)), b.op, b.block_id, b.time_sec))
    return out
