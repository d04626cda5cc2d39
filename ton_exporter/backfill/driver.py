"""The backfill's event-time loop: the live exporter's pipelines fed a finished run's lines in the order and at
the event time they were written, sampled every `step` seconds of event time.

Live, a line reaches the exporter when the engine writes it, and a scrape at wall time T sees every line written
up to T. Here the files are merged by due time (inputs.py) and, before the first line due after T, the registry is
sampled at T: every sample sees exactly the lines due up to it, as a scrape at T would have.

The event clocks (aggregation/event_clock.py) measure lateness with a wall clock, which live mode advances by
itself. Here that clock is event time: `EventTime`, moved to each line's due time as it is fed and to T for the
sample at T, so that a 60 s window completes at the same event time as it would live, not at once (reading
faster than real time) nor never (the wall clock of today is far past the run).

After the last line, sampling goes on (event time running as the wall clock would) until every node shows the
window of its last event, as a live exporter left running would, then stops.
"""

import dataclasses
import heapq
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from ton_exporter.aggregation.event_clock import DEFAULT_LATENESS_SECONDS, window_start
from ton_exporter.aggregation.limits import DEFAULT_LIMITS
from ton_exporter.app import Exporter, Pipeline
from ton_exporter.backfill.inputs import MAX_JUMP_SECONDS, DueTimes, InputFile, Progress, read_chunks
from ton_exporter.exposition.run_families import RunsCollector
from ton_exporter.runs.registry import RunRegistry, new_run
from ton_exporter.sources.discovery import SourcePattern, stream_name
from ton_exporter.sources.line_splitter import DEFAULT_MAX_LINE_BYTES

DEFAULT_STEP_SECONDS = 15.0
MAX_TAIL_SECONDS = 600.0  # at most this long after the last line is sampled (the last window shows long before)


class EventTime:
    """The `wall` clock handed to the event clocks: event time, moved forward by the backfill only."""

    def __init__(self) -> None:
        # 0, not -inf: lines before the first dated one are fed before it is known, and the event clocks compute
        # window starts from it (an infinite time has none)
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, t: float) -> None:
        self.now = max(self.now, t)


class Source:
    """One file's lines, handed out in batches up to a due time."""

    def __init__(self, file: InputFile, pipeline: Pipeline, max_line_bytes: int, progress: Progress) -> None:
        self.file = file
        self.pipeline = pipeline
        self._due = DueTimes(file.format)
        self._chunks: Iterator[tuple[int, list[bytes]]] = read_chunks(
            file.path, pipeline.stats, max_line_bytes, progress
        )
        self._lines: list[bytes] = []
        self._index = 0
        self._offset = 0
        self.next_due: float | None = None  # due time of the next line; None when the file is read

    def start(self) -> bool:
        """Read up to the first line with a due time; False if the file has none (every line is fed at once)."""
        while self._fill():
            if self.next_due is not None:
                return True
            self._feed_undated()
        return False

    def _fill(self) -> bool:
        while self._index >= len(self._lines):
            chunk = next(self._chunks, None)
            if chunk is None:
                self.next_due = None
                return False
            self._offset, self._lines = chunk
            self._index = 0
        self.next_due = self._due.of(self._lines[self._index])
        return True

    def _feed_undated(self) -> None:
        """Lines before the first dated one (nothing to order them by): fed as they come."""
        line = self._lines[self._index]
        self.pipeline.feed(self._offset, [line])
        self._offset += len(line) + 1
        self._index += 1

    def take(self, bound: float) -> tuple[int, list[bytes], float]:
        """The next lines due up to `bound` (at least one), their first offset and the last one's due time."""
        lines, index, due = self._lines, self._index, self._due
        start, offset = index, self._offset
        last = self.next_due if self.next_due is not None else -math.inf
        index += 1
        next_due: float | None = None
        while index < len(lines):
            t = due.of(lines[index])
            if t is not None and t > bound:
                next_due = t
                break
            if t is not None:
                last = t
            index += 1
        batch = lines[start:index]
        self._index = index
        self._offset = offset + sum(map(len, batch)) + len(batch)
        if next_due is not None:
            self.next_due = next_due
        else:
            self._fill()
        return offset, batch, last


@dataclass
class Summary:
    samples: int = 0
    first_event: float | None = None
    last_event: float | None = None
    first_sample: float | None = None
    last_sample: float | None = None
    skipped_gaps: int = 0
    nodes: list[str] = field(default_factory=list)


Sampler = Callable[[float], None]


class Backfill:
    def __init__(
        self,
        files: list[InputFile],
        *,
        run: str,
        metadata: dict[str, object],
        step: float = DEFAULT_STEP_SECONDS,
        lateness: float = DEFAULT_LATENESS_SECONDS,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self.step = step
        self.clock = EventTime()
        # A finished run's series do not go idle: its end is the end of the data, and the clock runs past it only
        # to complete the last windows (Prometheus's staleness ends the series after the last sample).
        never_idle = dataclasses.replace(DEFAULT_LIMITS, idle_timeout=math.inf)
        self.exporter = Exporter([], run=run, from_start=True, lateness=lateness, wall=self.clock, limits=never_idle)
        self.progress = Progress()
        # generators: nothing is opened or read before run()
        self.sources = [Source(f, self._pipeline(f), max_line_bytes, self.progress) for f in files]
        self.run_id = run
        self.runs = RunRegistry(None, clock=self.clock)
        self.run_metadata = {"run_id": run, "metadata": metadata | {"nodes": len(self.exporter.nodes)}}
        self.exporter.registry.register(RunsCollector(self.runs, self.exporter.run_nodes))
        self.summary = Summary(nodes=sorted(self.exporter.nodes))

    def _pipeline(self, f: InputFile) -> Pipeline:
        return self.exporter._stream_for(stream_name(f.path), SourcePattern(f.path, f.node, f.format))

    @property
    def registry(self) -> CollectorRegistry:
        return self.exporter.registry

    def run(self, sample: Sampler) -> Summary:
        """Feed every line in due order, calling `sample(t)` at every step of event time."""
        heap = [(s.next_due, i, s) for i, s in enumerate(self.sources) if s.start() and s.next_due is not None]
        heapq.heapify(heap)
        next_sample: float | None = None
        while heap:
            due, i, source = heap[0]
            if next_sample is None:
                next_sample = self._begin(due)
            while due > next_sample:
                next_sample = self._sample_and_step(sample, next_sample, due)
            bound = min(next_sample, *(entry[0] for entry in heap[1:3])) if len(heap) > 1 else next_sample
            offset, batch, last = source.take(bound)
            self.clock.advance(last)
            source.pipeline.feed(offset, batch)
            if source.next_due is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (source.next_due, i, source))
        if next_sample is not None:
            self._finish(sample, next_sample)
        return self.summary

    def _begin(self, first_due: float) -> float:
        self.clock.advance(first_due)
        self.summary.first_event = first_due
        self.runs.start(new_run(self.run_metadata, first_due))
        return math.ceil(first_due / self.step) * self.step

    def _sample_and_step(self, sample: Sampler, t: float, due: float) -> float:
        self._sample(sample, t)
        t += self.step
        if due - t > MAX_JUMP_SECONDS:  # a day without a line: no point sampling it all
            self.summary.skipped_gaps += 1
            t = math.ceil((due - MAX_TAIL_SECONDS) / self.step) * self.step
        return t

    def _sample(self, sample: Sampler, t: float) -> None:
        self.clock.advance(t)
        sample(t)
        self.summary.samples += 1
        if self.summary.first_sample is None:
            self.summary.first_sample = t
        self.summary.last_sample = t

    def _finish(self, sample: Sampler, t: float) -> None:
        """The files are read: the run ends at its last line; sample on until every last window shows."""
        last = self.clock.now
        self.summary.last_event = last
        self.runs.end(self.run_id)
        while True:
            self._sample(sample, t)
            if self._last_windows_shown() or t - last >= MAX_TAIL_SECONDS:
                return
            t += self.step

    def _last_windows_shown(self) -> bool:
        for node in self.exporter.nodes.values():
            if node.clock.newest == -math.inf:
                continue
            shown = node.complete_window()
            if shown is None or shown < window_start(node.clock.newest):
                return False
        return True
