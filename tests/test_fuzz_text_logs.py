"""Fuzzing the text-log pipeline with mutated lines of the SYNTHETIC sample: no exception escapes, every line ends
in exactly one place (parsed or rejected by reason), and the bulk path, whatever the block boundaries, counts
exactly what walking the lines one by one counts. 1,000 examples of 10 to 60 lines: about 35,000 lines."""

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzzing import FUZZ, Mutation, flip, truncate
from ton_exporter.aggregation.event_clock import EventClock
from ton_exporter.aggregation.node import NodeState
from ton_exporter.sources.file_stats import FileStats
from ton_exporter.text_log_pipeline import TextLogPipeline

SAMPLE = Path(__file__).parent / "fixtures" / "text-logs"
LINES = [line for path in sorted(SAMPLE.glob("node*/log*")) for line in path.read_bytes().split(b"\n")[:-1]]
BENCHMARKS = [line for line in LINES if b"Broadcast_benchmark" in line]
pytestmark = pytest.mark.usefixtures("quiet_log")


def _field(line: bytes, rng: random.Random) -> bytes:
    """Break, drop or reorder a benchmark field."""
    words = line.split(b" ")
    i = rng.randrange(len(words))
    choice = rng.randrange(3)
    if choice == 0:
        del words[i]
    elif choice == 1:
        words[i] = words[i].split(b"=")[0] + b"=" + rng.choice([b"", b"x", b"-1", b"1e-3", b"nan", b"\xff"])
    else:
        rng.shuffle(words)
    return b" ".join(words)


def _prefix(line: bytes, rng: random.Random) -> bytes:
    """Damage the td prefix or its colour codes."""
    tab = line.find(b"\t")
    head, tail = line[: max(tab, 0)], line[max(tab, 0) :]
    return rng.choice([tail, head.replace(b"[", b"(", 1) + tail, b"\x1b[1;3" + line, line + b"\x1b[0"])


MUTATIONS: list[Mutation] = [flip, truncate, _field, _field, _prefix]


def feed(lines: list[bytes], cuts: list[int], line_by_line: bool) -> tuple[NodeState, FileStats]:
    node = NodeState("n", "r", EventClock(wall=lambda: 0.0))
    stats = FileStats("fuzz", "n", "text_log")
    pipeline = TextLogPipeline(node, stats)
    if line_by_line:
        for line in lines:
            pipeline._feed_lines(0, [line])
        return node, stats
    start = 0
    for cut in [*sorted(min(cut, len(lines)) for cut in cuts), len(lines)]:
        if cut > start:
            pipeline.feed(0, lines[start:cut])
            start = cut
    return node, stats


@settings(FUZZ, max_examples=1_000)
@given(
    st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 3)), min_size=10, max_size=60),
    st.lists(st.integers(1, 59), max_size=4),
)
def test_mutated_sample_lines(seeds: list[tuple[int, int]], cuts: list[int]) -> None:
    """Each seed picks a sample line (a benchmark line half the time) and mutates it unless its second number is
    0 or 1, so about half the lines stay sound."""
    lines = []
    for seed, keep in seeds:
        rng = random.Random(seed)
        line = rng.choice(BENCHMARKS if rng.random() < 0.5 else LINES)
        lines.append(line if keep < 2 else rng.choice(MUTATIONS)(line, rng).replace(b"\n", b" "))
    bulk, bulk_stats = feed(lines, cuts, line_by_line=False)
    single, single_stats = feed(lines, cuts, line_by_line=True)
    assert bulk_stats.lines_parsed + sum(bulk_stats.rejected.values()) == len(lines)
    assert bulk_stats.rejected == single_stats.rejected
    assert bulk_stats.lines_parsed == single_stats.lines_parsed
    assert (bulk.text_log.lines, bulk.text_log.continuations) == (single.text_log.lines, single.text_log.continuations)
    assert bulk.text_log.benchmarks.keys() == single.text_log.benchmarks.keys()
    for key, series in bulk.text_log.benchmarks.items():
        other = single.text_log.benchmarks[key]
        for name in ("seconds", "compressed", "original", "ratio"):
            mine, theirs = getattr(series, name), getattr(other, name)
            assert (mine.counts, mine.count) == (theirs.counts, theirs.count), (key, name)
            assert mine.sum == pytest.approx(theirs.sum, rel=1e-12), (key, name)
