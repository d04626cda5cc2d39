"""The text-log pipeline of one file: td log lines in, the node's text-log state updated.

Every line ends in exactly one place:

* a line with a td prefix is counted by level and component (parsed); if its message is a `Broadcast_benchmark`,
  its values go into the benchmark histograms, or, if the message is malformed, the line is rejected
  (`bad_benchmark`);
* a line without a prefix continues the entry before it when that entry may still be open: td writes a
  multi-line message as it is, and only its first line has a prefix. In a coloured log (stderr) an entry ends with
  `ESC[0m` before its newline, so an entry is known to be closed; in a plain log (`-l`, `--async-logname`) it never
  is. Such a line is counted as a continuation (parsed). Otherwise (after a closed entry, or as the first line
  read from a file) it is raw output, not td's: rejected (`no_prefix`, or `empty_line` if empty);
* a prefixed line whose message is `Obtained certificate for <vote>` is also counted by workchain and vote
  (parsers/certificate_lines.py);
* a line that is not UTF-8 is rejected (`not_utf8`).

Blocks of lines are handled in bulk: one `findall` over the whole block gives the (level, component) of every
line, another the fields of every benchmark message, which are then grouped by label values and folded into the
histograms a column at a time. Only when the counts show a line that is not a prefixed line (after at most a
leading colour code) or a benchmark message of the usual shape, or bytes that are not UTF-8, is the block walked
line by line.
"""

import math
import re
from collections import Counter
from collections.abc import Callable
from itertools import groupby
from operator import itemgetter

from ton_exporter.aggregation.broadcast_spans import BroadcastSpans
from ton_exporter.aggregation.node import NodeState
from ton_exporter.aggregation.series_bounds import OTHER
from ton_exporter.aggregation.text_log import BenchmarkKey, TextLogState
from ton_exporter.parsers import broadcast_benchmark as bb
from ton_exporter.parsers import certificate_lines as cl
from ton_exporter.parsers import timing_lines as tl
from ton_exporter.parsers.td_prefix import (
    ANSI,
    COLOUR_END,
    LEVEL_AND_FILE,
    PREFIX,
    level_name,
    parse_timestamp,
    strip_colour,
)
from ton_exporter.sources.file_stats import FileStats

_BENCH_AT_MESSAGE = b"]\t" + bb.MARKER
_BENCH_KEY = itemgetter(0, 1, 3)  # op, called_from, compression of a `bb.FAST` match
_NON_ASCII = re.compile(rb"[\x80-\xff]")
LABEL_CACHE = 4096  # raw (level, file) pairs remembered; a flood of components past it is decoded line by line
LINE_BY_LINE = 32  # blocks this small that the fast path cannot take are walked line by line


class TextLogPipeline:
    def __init__(self, node: NodeState, stats: FileStats, spans: Callable[[], BroadcastSpans] | None = None) -> None:
        self.node = node  # replaced when the run label switches (app.py)
        self.stats = stats
        self._spans = spans  # the current run's cross-node broadcast times (broadcast_spans.py), if kept
        self.entry_open = False  # whether the last line read may continue on the next one
        self._line_labels: dict[tuple[bytes, bytes], tuple[str, str]] = {}
        self._bench_labels: dict[tuple[bytes, bytes, bytes], BenchmarkKey] = {}

    @property
    def state(self) -> TextLogState:
        return self.node.text_log

    def feed(self, offset: int, lines: list[bytes]) -> None:
        """Process complete lines, the first of which starts at file offset `offset`. A block the fast path cannot
        take is halved until the halves without surprises can take it, so that one continuation line costs a few
        dozen lines walked one by one, not a whole block."""
        if not lines:
            return
        self.node.touch()
        block = b"\n".join(lines)
        if _is_utf8(block) and self._feed_block(block, len(lines)):
            self._feed_spans(block)
            self.stats.lines_parsed += len(lines)
            self.entry_open = not lines[-1].endswith(COLOUR_END)
            last = PREFIX.match(strip_colour(lines[-1]))
            if last is not None:
                self._saw_time(last.group(3))
        elif len(lines) <= LINE_BY_LINE:
            self._feed_lines(offset, lines)
            self._feed_spans(block)
        else:
            half = len(lines) // 2
            self.feed(offset, lines[:half])
            self.feed(offset + sum(map(len, lines[:half])) + half, lines[half:])

    def _feed_spans(self, block: bytes) -> None:
        """The run's cross-node broadcast times; once per line (from the leaves of `feed`)."""
        if self._spans is not None and _BENCH_AT_MESSAGE in block:
            self._spans().feed(self.node.name, block, self.node.clock.wall())

    def _feed_block(self, block: bytes, n_lines: int) -> bool:
        """The fast path: True if every line has a prefix and every benchmark message the usual shape (then all
        is counted), False to walk the block line by line (nothing counted yet)."""
        pairs = LEVEL_AND_FILE.findall(block)
        if len(pairs) != n_lines:
            return False
        benchmarks = bb.FAST.findall(block) if _BENCH_AT_MESSAGE in block else []
        if len(benchmarks) != block.count(_BENCH_AT_MESSAGE):
            return False
        timings = tl.FAST.findall(block) if any(m in block for m in tl.MARKERS) else []
        if len(timings) != sum(block.count(m) for m in tl.MARKERS):
            return False
        try:
            parsed = [self._checked(tl.timing(groups)) for groups in timings]
        except tl.TimingError:
            return False
        lines, labels = self.state.lines, self._line_labels
        for pair, n in Counter(pairs).items():
            key = labels.get(pair)
            if key is None:
                key = self.state.line_key(level_name(int(pair[0])), pair[1].decode())
                if key[1] != OTHER and len(labels) < LABEL_CACHE:  # past the cap: looked up (and counted) each time
                    labels[pair] = key
                elif key[1] == OTHER and self.state.bounds is not None:
                    self.state.bounds.count_overflow("component", pair[1].decode(), n - 1)
            lines[key] += n
        benchmarks.sort(key=_BENCH_KEY)
        for raw_key, group in groupby(benchmarks, _BENCH_KEY):
            self._observe_group(raw_key, list(group))
        for timing in parsed:
            self._observe_timing(timing)
        if cl.MARKER in block:
            certificates = self.state.certificates
            for workchain, vote in cl.FAST.findall(block):
                certificates[cl.labels(workchain, vote)] += 1
        return True

    def _checked(self, timing: tl.Timing) -> tl.Timing:
        """The timing, if its workchain may become a label (--limits.workchains); else TimingError (bad_timing)."""
        workchain = timing.workchain
        if workchain != tl.UNKNOWN_WORKCHAIN and workchain not in self.node.limits.rules.workchain_labels:
            raise tl.TimingError(f"workchain {workchain[:20]} is not allowed (--limits.workchains)")
        return timing

    def _observe_timing(self, timing: tl.Timing) -> None:
        key = (timing.side, timing.workchain, timing.outcome, timing.error)
        self.state.timing(key).observe(timing.seconds)

    def _observe_group(self, raw_key: tuple[bytes, bytes, bytes], group: list[tuple[bytes, ...]]) -> None:
        """Benchmarks of the fast path with the same op, called_from and compression (an absent called_from or
        original_size is b"")."""
        key = self._bench_labels.get(raw_key)
        if key is None:
            op, called_from, compression = (value.decode() for value in raw_key)
            key = self._bench_labels[raw_key] = bb.label_values(op, called_from or None, compression)
        series = self.state.series(key)
        _, _, seconds, _, originals, sizes = zip(*group, strict=True)
        compressed = list(map(int, sizes))
        series.seconds.observe_many(list(map(float, seconds)))
        if any(originals):
            pairs = [(int(o), c) for o, c in zip(originals, compressed, strict=True) if o]
            series.original.observe_many([float(o) for o, _ in pairs])
            series.ratio.observe_many([c / o for o, c in pairs if o > 0])
        series.compressed.observe_many(list(map(float, compressed)))

    def _feed_lines(self, offset: int, lines: list[bytes]) -> None:
        """The general path, line by line, for blocks with continuations, raw output or malformed lines."""
        stats, state = self.stats, self.state
        parsed = 0
        newest = -math.inf
        for raw in lines:
            line = ANSI.sub(b"", raw) if b"\x1b" in raw else raw
            closes_entry = raw.endswith(COLOUR_END)
            position, offset = offset, offset + len(raw) + 1
            if not _is_utf8(line):
                stats.reject("not_utf8", position, repr(line[:80]))
                self.entry_open = not closes_entry
                continue
            match = PREFIX.match(line)
            if match is None:
                if self.entry_open:
                    state.continuations += 1
                    parsed += 1
                    self.entry_open = not closes_entry
                else:
                    stats.reject("no_prefix" if line else "empty_line", position, line[:80].decode(errors="replace"))
                continue
            self.entry_open = not closes_entry
            message = match.end()
            if line.startswith(bb.MARKER, message):
                try:
                    benchmark = bb.parse(line[message:])
                except bb.BenchmarkError as e:
                    stats.reject(
                        "bad_benchmark", position, f"{e}: {line[message : message + 200].decode(errors='replace')}"
                    )
                    continue
                state.series(benchmark.labels).observe(
                    benchmark.time_sec, benchmark.original_size, benchmark.compressed_size
                )
            if tl.is_timing(line):
                try:
                    self._observe_timing(self._checked(tl.parse(line)))
                except tl.TimingError as e:
                    stats.reject(
                        "bad_timing", position, f"{e}: {line[message : message + 200].decode(errors='replace')}"
                    )
                    continue
            if cl.MARKER in line:
                certificate = cl.FAST.search(line)
                if certificate is not None:
                    state.certificates[cl.labels(*certificate.groups())] += 1
            level, time, component = match.group(1, 3, 4)
            state.lines[state.line_key(level_name(int(level)), component.decode())] += 1
            parsed += 1
            newest = max(newest, parse_timestamp(time))
        stats.lines_parsed += parsed
        if newest > -math.inf:
            stats.last_event_time = max(stats.last_event_time, newest)

    def _saw_time(self, time: bytes) -> None:
        self.stats.last_event_time = max(self.stats.last_event_time, parse_timestamp(time))


def _is_utf8(data: bytes) -> bool:
    """Only the lines with non-ASCII bytes are decoded: decoding a whole block costs as much as parsing it."""
    if data.isascii():
        return True
    position = 0
    while (match := _NON_ASCII.search(data, position)) is not None:
        end = data.find(b"\n", match.end())
        end = len(data) if end < 0 else end
        try:
            data[data.rfind(b"\n", 0, match.start()) + 1 : end].decode()
        except UnicodeDecodeError:
            return False
        position = end
    return True
