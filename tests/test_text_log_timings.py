"""Collation and validation timing lines of the text logs (`collation took X s`, `validation took Xs`,
`collation failed in X s <status>`) become histograms by workchain, outcome and error class."""

import re
import shutil
import time
from pathlib import Path

import pytest

from tests.metrics_text import scrape, total
from ton_exporter.aggregation.event_clock import EventClock
from ton_exporter.aggregation.node import NodeState
from ton_exporter.app import Exporter
from ton_exporter.parsers import timing_lines
from ton_exporter.sources.discovery import SourcePattern
from ton_exporter.sources.file_stats import FileStats
from ton_exporter.text_log_pipeline import TextLogPipeline

SAMPLE = Path(__file__).parent / "fixtures" / "text-logs"
ANSI = re.compile(rb"\x1b\[[0-9;]*m")
LINE = re.compile(
    rb"\[!(collate|validateblock)\((-?\d+),[0-9a-f]+\)[^\]]*\]\t"
    rb"(collation took|validation took|collation failed in) ([0-9.]+) ?s(?: \[Error : (-?\d+) :)?"
)


def counted_from_the_files() -> dict[tuple[str, str, str, str], tuple[int, float]]:
    """(side, workchain, outcome, error) -> (lines, sum of seconds), by a regex of its own over the raw files."""
    out: dict[tuple[str, str, str, str], tuple[int, float]] = {}
    for path in SAMPLE.glob("node*/log*"):
        for line in ANSI.sub(b"", path.read_bytes()).split(b"\n"):
            match = LINE.search(line)
            if match is None:
                continue
            _, wc, kind, seconds, code = match.groups()
            side = "validation" if kind == b"validation took" else "collation"
            failed = kind == b"collation failed in"
            error = {b"652": "timeout", b"-666": "internal"}[code] if failed else "none"
            key = (side, wc.decode(), "failed" if failed else "ok", error)
            n, s = out.get(key, (0, 0.0))
            out[key] = (n + 1, s + float(seconds))
    return out


def test_the_sample_s_timing_lines_become_histograms_by_workchain_outcome_and_error(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "net", ignore=shutil.ignore_patterns("*.md"))
    exporter = Exporter([SourcePattern(str(tmp_path / "net" / "node*" / "log*"), None, "text_log")], from_start=True)
    exporter.poll_once()
    samples = scrape(exporter.registry)
    expected = counted_from_the_files()
    assert {k: v[0] for k, v in expected.items()} == {
        ("collation", "-1", "ok", "none"): 5,
        ("collation", "0", "ok", "none"): 5,
        ("collation", "-1", "failed", "timeout"): 1,
        ("collation", "-1", "failed", "internal"): 1,
        ("validation", "-1", "ok", "none"): 15,
        ("validation", "0", "ok", "none"): 15,
    }
    for (side, wc, outcome, error), (n, seconds) in expected.items():
        labels = {"workchain": wc} | ({"outcome": outcome, "error": error} if side == "collation" else {})
        name = f"tonex_text_log_{side}_seconds"
        assert total(samples, f"{name}_count", **labels) == n
        assert total(samples, f"{name}_sum", **labels) == pytest.approx(seconds)
    assert total(samples, "tonex_source_lines_rejected_total") == 0


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"collation took 0.071814 s", ("collation", "ok", "none", 0.071814)),
        (b"validation took 0.105083s", ("validation", "ok", "none", 0.105083)),
        (b"collation failed in 0.012000 s [Error : 653 : cancelled]", ("collation", "failed", "cancelled", 0.012)),
        (b"collation failed in 1.5 s [PosixError : No such file : 2 : open]", ("collation", "failed", "other", 1.5)),
        (b"collation failed in 0.2 s [Error : -667 : only masterchain]", ("collation", "failed", "internal", 0.2)),
    ],
)
def test_upstream_shapes_parse(message: bytes, expected: tuple[str, str, str, float]) -> None:
    line = b"[ 2][t 1][2026-07-16 10:00:01.0][collator.cpp:1][!collate(0,8000000000000000):4001]\t" + message
    timing = timing_lines.parse(line)
    assert (timing.side, timing.outcome, timing.error, timing.seconds, timing.workchain) == (*expected, "0")


def test_a_timing_line_of_another_shape_is_rejected_and_costs_no_good_line(tmp_path: Path) -> None:
    good = b"[ 2][t 1][2026-07-16 10:00:01.0][collator.cpp:6486][!collate(-1,8000000000000000):1]\tcollation took 0.5 s"
    bad = b"[ 2][t 1][2026-07-16 10:00:01.1][collator.cpp:6486]\tcollation took soon s"
    node = NodeState("n", "r", EventClock(10, time.monotonic))
    stats = FileStats("f", "n")
    TextLogPipeline(node, stats).feed(0, [good, bad, good])
    assert stats.rejected == {"bad_timing": 1}
    assert node.text_log.timings[("collation", "-1", "ok", "none")].count == 2
    assert stats.lines_parsed == 2
