"""Event time and the 60 s windows of the window gauges.

A window is `[s, s + 60)` with `s = floor(t / 60) * 60` of the record's own time (`collated_at`, `validated_at`,
`ts`), like the stat-visualizer's buckets. The gauges show one window per node: the newest *complete* one.

A window is complete once the node's event clock has passed its end by `lateness` seconds, long enough for the
consensus batches that are flushed about 5 s after their first event, and once every consensus slot with an
event in it is retired (slots.py, about 15 s after its last event; NodeState.complete_window).

The event clock is the newest event time read from the node's files, advanced by wall-clock time while nothing
newer arrives: a live node moves it with every line, a node that stopped writing lets it run on (its windows close
and then show no activity), and an old file read from the start shows its own windows without waiting for the
wall clock to reach them.
"""

import math
import time
from collections.abc import Callable

WINDOW_SECONDS = 60
DEFAULT_LATENESS_SECONDS = 10.0


def window_start(t: float) -> int:
    return int(t // WINDOW_SECONDS) * WINDOW_SECONDS


class EventClock:
    def __init__(self, lateness: float = DEFAULT_LATENESS_SECONDS, wall: Callable[[], float] = time.monotonic) -> None:
        self.lateness = lateness
        self._wall = wall
        self.newest = -math.inf
        self._newest_seen_at = 0.0

    def observe(self, t: float) -> None:
        if t > self.newest:
            self.newest = t
            self._newest_seen_at = self._wall()

    def wall(self) -> float:
        return self._wall()

    def now(self) -> float:
        """The node's event clock: newest event time plus the wall time since it was read."""
        return self.newest + (self._wall() - self._newest_seen_at)

    def complete_window(self) -> int | None:
        """Start of the newest complete window, or None before the first event."""
        if self.newest == -math.inf:
            return None
        return window_start(self.now() - WINDOW_SECONDS - self.lateness)
