"""Counts from `consensus.stats.events` batches: events by type, accepted blocks, votes and certificates.

A batch carries its session id, never the workchain: that comes from the session's `consensus.stats.id` event,
which only its first batch has, so sessions are remembered across lines. Events of a session whose first batch
was never read are counted under workchain and shard "unknown", and the session is counted as unidentified.

A batch is tallied with whole-list operations when it is well formed and falls in one 60 s window (almost
every batch: they span about 5 s); otherwise event by event, counting and skipping malformed events.
"""

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ton_exporter.parsers import consensus_events as ce

MAX_SESSIONS = 10_000
_KNOWN_EVENTS = frozenset(ce.EVENT_TYPES)
_VOTE_EVENTS = frozenset((ce.VOTED, ce.CERT_OBSERVED))


@dataclass(slots=True)
class ConsensusGroup:
    """Counters of one (node, workchain, shard), and per event-time window the counts the window gauges show."""

    events: Counter[str] = field(default_factory=Counter)
    votes: Counter[str] = field(default_factory=Counter)
    certificates: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    windows: dict[int, Counter[str]] = field(default_factory=dict)

    def prune(self, oldest_kept: int) -> None:
        for window in [w for w in self.windows if w < oldest_kept]:
            del self.windows[window]


@dataclass(slots=True)
class Tally:
    """What one batch adds: events by @type, (event, vote type) pairs, window counts, newest event time."""

    kinds: Counter[str] = field(default_factory=Counter)
    votes: Counter[tuple[str, str]] = field(default_factory=Counter)
    windows: dict[int, Counter[str]] = field(default_factory=dict)
    newest: float = -math.inf


class ConsensusState:
    def __init__(self) -> None:
        self.sessions: dict[str, ce.Session] = {}
        self.unidentified: set[str] = set()
        self.groups: dict[tuple[str, str], ConsensusGroup] = {}
        self.rejected_events: Counter[str] = Counter()

    def add_batch(self, batch: ce.Batch, oldest_window: int | None) -> float:
        """Count one batch; return its newest event time (-inf if none)."""
        session = self.sessions.get(batch.session_id) or self._identify(batch)
        key = (session.workchain, session.shard) if session else (ce.UNKNOWN, ce.UNKNOWN)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = ConsensusGroup()
        tally = _tally_at_once(batch.events) or self._tally_one_by_one(batch.events)
        for kind, n in tally.kinds.items():
            group.events[kind if kind in _KNOWN_EVENTS else ce.UNKNOWN] += n
        group.accepted += tally.kinds.get(ce.BLOCK_ACCEPTED, 0)
        for (kind, vote), n in tally.votes.items():
            (group.votes if kind == ce.VOTED else group.certificates)[vote] += n
        for window, counts in tally.windows.items():
            if oldest_window is None or window >= oldest_window:
                group.windows.setdefault(window, Counter()).update(counts)
        return tally.newest

    def _tally_one_by_one(self, events: list[Any]) -> Tally:
        tally = Tally()
        for item in events:
            try:
                ts, kind, event = ce.unpack(item)
            except ce.EventError as e:
                self.rejected_events[e.reason] += 1
                continue
            tally.kinds[kind] += 1
            tally.newest = max(tally.newest, ts)
            vote = ce.vote_type(event) if kind in _VOTE_EVENTS else None
            if vote is not None:
                tally.votes[(kind, vote)] += 1
            key = _window_key(kind, vote)
            if key is not None:
                tally.windows.setdefault(int(ts // 60) * 60, Counter())[key] += 1
        return tally

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

    def to_json(self) -> dict[str, object]:
        return {
            "sessions": {sid: list(s) for sid, s in self.sessions.items()},
            "unidentified": sorted(self.unidentified),
            "groups": [
                {
                    "workchain": wc,
                    "shard": shard,
                    "events": dict(g.events),
                    "votes": dict(g.votes),
                    "certificates": dict(g.certificates),
                    "accepted": g.accepted,
                }
                for (wc, shard), g in self.groups.items()
            ],
            "rejected_events": dict(self.rejected_events),
        }

    def restore(self, data: dict[str, Any]) -> None:
        for sid, fields in data["sessions"].items():
            self.sessions[str(sid)] = ce.Session(str(fields[0]), str(fields[1]), *(int(x) for x in fields[2:]))
        self.unidentified.update(str(s) for s in data["unidentified"])
        for entry in data["groups"]:
            group = self.groups.setdefault((str(entry["workchain"]), str(entry["shard"])), ConsensusGroup())
            group.events.update({k: int(v) for k, v in entry["events"].items()})
            group.votes.update({k: int(v) for k, v in entry["votes"].items()})
            group.certificates.update({k: int(v) for k, v in entry["certificates"].items()})
            group.accepted += int(entry["accepted"])
        self.rejected_events.update({k: int(v) for k, v in data["rejected_events"].items()})


def _window_key(kind: str, vote: str | None) -> str | None:
    if kind == ce.BLOCK_ACCEPTED:
        return "accepted"
    if vote is not None:
        return ("vote:" if kind == ce.VOTED else "cert:") + vote
    return None


def _tally_at_once(events: list[Any]) -> Tally | None:
    """None when anything is off (a malformed event, events in two windows): the careful path then runs."""
    try:
        kinds = [e["event"]["@type"] for e in events]
        stamps = [e["ts"] for e in events]
        first, newest = min(stamps), max(stamps)
        if type(first) is bool or not 0 < first <= newest < math.inf or first // 60 != newest // 60:
            return None
        votes_raw = Counter(
            [(k, e["event"]["vote"]["@type"]) for k, e in zip(kinds, events, strict=True) if k in _VOTE_EVENTS]
        )
        tally = Tally(Counter(kinds), Counter(), {}, float(newest))
    except (KeyError, TypeError, ValueError):
        return None
    counts: Counter[str] = Counter()
    accepted = tally.kinds.get(ce.BLOCK_ACCEPTED, 0)
    if accepted:
        counts["accepted"] = accepted
    for (kind, raw_vote), n in votes_raw.items():
        vote = ce.VOTE_TYPES.get(raw_vote, ce.UNKNOWN) if type(raw_vote) is str else ce.UNKNOWN
        tally.votes[(kind, vote)] += n
        counts[("vote:" if kind == ce.VOTED else "cert:") + vote] += n
    tally.windows[int(first // 60) * 60] = counts
    return tally
