"""Fuzzing: arbitrary bytes and mutated real lines through the line splitter and the parsers.

Whatever comes in, no exception escapes, and every line ends up in exactly one place: parsed (counted by type)
or rejected (counted by reason). Each example is a batch of 10 to 30 lines, so the three tests feed at least
3 x 4,000 x 10 = 120,000 lines. The runs are derandomised, so CI sees the same cases every time.
"""

import json
import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import real_lines
from tests.fuzzing import FUZZ, Mutation, flip, insert, truncate
from ton_exporter.aggregation.event_clock import EventClock
from ton_exporter.aggregation.node import NodeState
from ton_exporter.exposition.collector import ExporterCollector
from ton_exporter.pipeline import SessionStatsPipeline
from ton_exporter.sources.file_stats import FileStats
from ton_exporter.sources.line_splitter import LineSplitter

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("quiet_log")]  # slow: not in ./dev test --quick

REAL = real_lines(1) + real_lines(2)


def run_lines(stream: bytes, chunks: list[int], max_line: int = 1 << 20, render: bool = False) -> tuple[FileStats, int]:
    """Feed `stream` in pieces through a splitter and a pipeline (and render the metrics if asked); return the
    stats and the number of lines the splitter handed out."""
    stats = FileStats("fuzz", "n")
    node = NodeState("n", "r", EventClock(wall=lambda: 0.0))
    pipeline = SessionStatsPipeline(node, stats)
    splitter = LineSplitter(stats, max_line)
    handed_out = 0
    position = 0
    for size in [*chunks, len(stream)]:
        piece = stream[position : position + max(size, 1)]
        if not piece:
            break
        chunk = splitter.feed(piece, position)
        position += len(piece)
        if chunk is not None:
            handed_out += len(chunk[1])
            pipeline.feed(*chunk)
    if render:
        list(ExporterCollector(lambda: [node], lambda: [stats], "fuzz").collect())
    return stats, handed_out


def assert_every_line_accounted(stats: FileStats, handed_out: int, newlines: int) -> None:
    oversize = stats.rejected["oversize_line"]
    assert handed_out + oversize == newlines
    assert stats.lines_parsed + sum(stats.rejected.values()) - oversize == handed_out
    assert sum(stats.records.values()) == stats.lines_parsed


EXAMPLES = 4_000
MIN_LINES, MAX_LINES = 10, 30


@settings(FUZZ, max_examples=EXAMPLES)
@given(
    st.lists(st.binary(max_size=300), min_size=MIN_LINES, max_size=MAX_LINES),
    st.lists(st.integers(1, 2000), max_size=5),
)
def test_arbitrary_bytes(lines: list[bytes], chunks: list[int]) -> None:
    stream = b"\n".join(lines) + b"\n"
    stats, handed_out = run_lines(stream, chunks, max_line=200)
    assert_every_line_accounted(stats, handed_out, stream.count(b"\n"))


ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    2**70,
    -(2**64),
    1e300,
    -0.0,
    0.5,
    "",
    "x",
    "-1",
    "0",
    "18446744073709551615",
    "1e5",
    "nan",
    "total=1 x=2",
    "total=0.1 preinit=oops",
    "{{\n\t{a:1->2(0.5)}\n}",
    "{{\n}",
    [],
    {},
    [1, "a"],
    {"@type": "validatorStats.somethingNew"},
    {"@type": 5},
    [{"ts": "x"}],
    [{"ts": 1.0, "event": {}}],
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:3]):
            out += _paths(child, (*prefix, index))
    return out


def _json_edit(line: bytes, rng: random.Random) -> bytes:
    """Replace or delete one value anywhere in the record (the first events of a batch included)."""
    record = orjson.loads(line)
    path = rng.choice(_paths(record))
    parent = record
    for step in path[:-1]:
        parent = parent[step]
    if rng.random() < 0.4 and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = rng.choice(ODD_VALUES)
    return json.dumps(record, separators=(",", ":")).encode()  # json: integers beyond 64 bits too


MUTATIONS: list[Mutation] = [flip, truncate, insert, _json_edit, _json_edit]


@settings(FUZZ, max_examples=EXAMPLES)
@given(
    st.lists(st.integers(0, 2**32 - 1), min_size=MIN_LINES, max_size=MAX_LINES),
    st.lists(st.integers(1, 50_000), max_size=3),
    st.integers(0, 19),
)
def test_mutated_real_lines(seeds: list[int], chunks: list[int], render: int) -> None:
    """Each seed picks a real line and one mutation (a byte flipped, a cut, bytes inserted, a value replaced or a
    key deleted anywhere in the record)."""
    lines = []
    for seed in seeds:
        rng = random.Random(seed)
        line = rng.choice(REAL)
        lines.append(rng.choice(MUTATIONS)(line, rng).replace(b"\n", b" "))
    stream = b"\n".join(lines) + b"\n"
    stats, handed_out = run_lines(stream, chunks, render=render == 0)
    assert_every_line_accounted(stats, handed_out, len(lines))


@settings(FUZZ, max_examples=EXAMPLES)
@given(
    st.lists(st.binary(max_size=50).map(lambda b: b.replace(b"\n", b"")), min_size=MIN_LINES, max_size=MAX_LINES),
    st.lists(st.integers(1, 60), max_size=8),
    st.integers(5, 40),
    st.booleans(),
)
def test_line_splitter_hands_out_exactly_the_complete_lines(
    lines: list[bytes], chunks: list[int], max_line: int, partial_tail: bool
) -> None:
    stream = b"".join(line + b"\n" for line in lines) + (b"tail-without-newline" if partial_tail else b"")
    stats = FileStats("fuzz", "n")
    splitter = LineSplitter(stats, max_line)
    out: list[tuple[int, bytes]] = []
    position = 0
    for size in [*chunks, len(stream)]:
        piece = stream[position : position + size]
        if not piece:
            break
        chunk = splitter.feed(piece, position)
        position += len(piece)
        if chunk is not None:
            offset, got = chunk
            out.append((offset, got[0]))
            out += [(-1, line) for line in got[1:]]
    expected = [line for line in lines if len(line) <= max_line]
    assert [line for _, line in out] == expected
    # a partial last line already longer than the limit is dropped (and counted) at once, not buffered
    oversize_tail = partial_tail and len(b"tail-without-newline") > max_line
    assert stats.rejected["oversize_line"] == len(lines) - len(expected) + oversize_tail
    starts = [sum(len(x) + 1 for x in lines[:i]) for i, line in enumerate(lines) if len(line) <= max_line]
    first_of_chunks = [offset for offset, _ in out if offset >= 0]
    assert set(first_of_chunks) <= set(starts)
