"""Counts from `consensus.stats.events` batches: events by type, accepted blocks, votes and certificates.

A batch carries its session id, never the workchain: that comes from the session's `consensus.stats.id` event,
which only its first batch has, so sessions are remembered across lines. Events of a session whose first batch
was never read are counted under workchain and shard "unknown", and the session is counted as unidentified.
"""

import math
from collections import Counter
from dataclasses import dataclass, field

from ton_exporter.parsers import consensus_events as ce

MAX_SESSIONS = 10_000
_KNOWN_EVENTS = frozenset(ce.EVENT_TYPES)


@dataclass(slots=True)
class ConsensusGroup:
    """Counters of one (node, workchain, shard), and per event-time window the counts the window gauges show."""

    events: Counter[str] = field(default_factory=Counter)
    votes: Counter[str] = field(default_factory=Counter)
    certificates: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    windows: dict[int, Counter[str]] = field(default_factory=dict)

    def count_in_window(self, ts: float, oldest_window: int | None, key: str) -> None:
        window = int(ts // 60) * 60
        if oldest_window is not None and window < oldest_window:
            return
        counts = self.windows.get(window)
        if counts is None:
            counts = self.windows[window] = Counter()
        counts[key] += 1

    def prune(self, oldest_kept: int) -> None:
        for window in [w for w in self.windows if w < oldest_kept]:
            del self.windows[window]


class ConsensusState:
    def __init__(self) -> None:
        self.sessions: dict[str, ce.Session] = {}
        self.unidentified: set[str] = set()
        self.groups: dict[tuple[str, str], ConsensusGroup] = {}
        self.rejected_events: Counter[str] = Counter()

    def add_batch(self, batch: ce.Batch, oldest_window: int | None) -> float:
        """Count one batch; return its newest event time (-inf if none). Malformed events are counted, skipped."""
        session = self.sessions.get(batch.session_id) or self._identify(batch)
        key = (session.workchain, session.shard) if session else (ce.UNKNOWN, ce.UNKNOWN)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = ConsensusGroup()
        types: list[str] = []
        newest = -math.inf
        for item in batch.events:
            try:
                ts, kind, event = ce.unpack(item)
            except ce.EventError as e:
                self.rejected_events[e.reason] += 1
                continue
            newest = max(newest, ts)
            types.append(kind if kind in _KNOWN_EVENTS else ce.UNKNOWN)
            if kind == ce.BLOCK_ACCEPTED:
                group.accepted += 1
                group.count_in_window(ts, oldest_window, "accepted")
            elif kind == ce.VOTED:
                vote = ce.vote_type(event)
                group.votes[vote] += 1
                group.count_in_window(ts, oldest_window, "vote:" + vote)
            elif kind == ce.CERT_OBSERVED:
                vote = ce.vote_type(event)
                group.certificates[vote] += 1
                group.count_in_window(ts, oldest_window, "cert:" + vote)
        group.events.update(types)
        return newest

    def _identify(self, batch: ce.Batch) -> ce.Session | None:
        try:
            session = ce.find_session(batch.events)
        except ce.EventError as e:
            self.rejected_events[e.reason] += 1
            session = None
        if session is None:
            if len(self.unidentified) < MAX_SESSIONS:
                self.unidentified.add(batch.session_id)
            return None
        if len(self.sessions) >= MAX_SESSIONS:
            self.sessions.pop(next(iter(self.sessions)))
        self.sessions[batch.session_id] = session
        self.unidentified.discard(batch.session_id)
        return session

    def prune(self, oldest_kept: int) -> None:
        for group in self.groups.values():
            group.prune(oldest_kept)
