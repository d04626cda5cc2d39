"""The slot model of one consensus session as one node saw it, and the phase durations it yields.

Events arrive in batches flushed about 5 s after their first event, not in time order across batches, and every
phase is a pair of events of one slot: so a slot collects its events as they come, in any order, and a phase is
measured as soon as both of its events are there. What needs every event of a slot (its start estimate, the
end-to-end time, the interval to the previous finalized slot, its timeline entry) waits until the slot is
*retired*: `RETIRE_SECONDS` of event time after its last event, when no batch can still bring one.

Phases (ton-formats.md §5; seconds):

| phase | from | to |
|---|---|---|
| collation | collateStarted | collateFinished (own collations; a start pairs with the next finish) |
| validation | validationStarted | validationFinished |
| received_to_validated | candidateReceived | validationFinished |
| notarize_vote | candidateReceived | voted(notarize), this node's vote |
| finalize_vote | certObserved(notarize) | voted(finalize), this node's vote |
| notarization | candidateReceived | certObserved(notarize) |
| finalization | certObserved(notarize) | certObserved(finalize) |
| accept | certObserved(finalize) | blockAccepted |
| slot | slot start: the earliest event or vote of the slot (not certificates) | certObserved(finalize) |
| finalization_interval | certObserved(finalize) of the previous finalized slot | certObserved(finalize) |
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ton_exporter.parsers import consensus_events as ce

RETIRE_SECONDS = 15.0

PHASES: tuple[str, ...] = (
    "collation",
    "validation",
    "received_to_validated",
    "notarize_vote",
    "finalize_vote",
    "notarization",
    "finalization",
    "accept",
    "slot",
    "finalization_interval",
)

# Each pair-phase: (name, attribute of its first event, attribute of its second event).
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("validation", "validation_started", "validation_finished"),
    ("received_to_validated", "received", "validation_finished"),
    ("notarize_vote", "received", "voted_notarize"),
    ("finalize_vote", "cert_notarize", "voted_finalize"),
    ("notarization", "received", "cert_notarize"),
    ("finalization", "cert_notarize", "cert_finalize"),
    ("accept", "cert_finalize", "accepted"),
)

# The pairs each event field takes part in: after an event, only those are checked.
PAIRS_BY_FIELD: dict[str, tuple[tuple[str, str, str], ...]] = {
    name: tuple(p for p in PAIRS if name in p[1:]) for name in {f for p in PAIRS for f in p[1:]}
}

COUNTS: tuple[str, ...] = (
    "slots",
    "finalized",
    "skipped",
    "empty",
    "collations",
    "unexpected_collator",
    "unfinished_collations",
    "drifted_collations",
)


@dataclass(slots=True)
class Slot:
    number: int
    start: float = math.inf  # earliest event or vote of the slot (certificates excluded)
    last: float = -math.inf  # latest event of any kind
    received: float | None = None
    empty: bool = False
    validation_started: float | None = None
    validation_finished: float | None = None
    voted_notarize: float | None = None
    voted_finalize: float | None = None
    voted_skip: float | None = None
    cert_notarize: float | None = None
    cert_finalize: float | None = None
    cert_skip: float | None = None
    accepted: float | None = None
    collation: tuple[float, float] | None = None  # own collation: start, finish
    measured: set[str] = field(default_factory=set)
    counted: bool = False


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One retired slot, for the slot-timeline series: when it started and how long each part took."""

    slot: int
    start: float
    leader: int
    outcome: int  # 1 finalized, 2 skipped, 0 neither
    parts: dict[str, float]


class PhaseSink:
    """Where a session's measurements go (the consensus group of its node, workchain and shard)."""

    def observe(self, phase: str, seconds: float, at: float) -> None: ...

    def count(self, what: str, at: float, n: int = 1, label: str = "") -> None: ...

    def timeline(self, entry: TimelineEntry) -> None: ...


class NetworkSink:
    """Where votes go when every node's file is read by one exporter (network.py)."""

    def vote(self, session: ce.Session, slot: int, vote_type: str, ts: float) -> None: ...

    def certificate(self, slot: int, vote_type: str, ts: float) -> None: ...

    def collated(self, slot: int, ts: float) -> None: ...


class SessionSlots:
    def __init__(self, session: ce.Session | None, sink: PhaseSink, network: NetworkSink | None = None) -> None:
        self.session = session
        self.sink = sink
        self.network = network
        self.slots: dict[int, Slot] = {}
        self.collate_starts: list[tuple[float, int]] = []  # own collations started, not finished yet
        self.last_finalized: float | None = None
        self._handlers: dict[str, Callable[[float, dict[str, Any]], None]] = {
            ce.COLLATE_STARTED: self._collate_started,
            ce.COLLATE_FINISHED: self._collate_finished,
            ce.COLLATED_EMPTY: self._collated_empty,
            ce.CANDIDATE_RECEIVED: self._candidate_received,
            ce.VALIDATION_STARTED: self._validation_started,
            ce.VALIDATION_FINISHED: self._validation_finished,
            ce.BLOCK_ACCEPTED: self._block_accepted,
            ce.VOTED: self._voted,
            ce.CERT_OBSERVED: self._cert_observed,
        }

    def add(self, ts: float, kind: str, event: dict[str, Any]) -> None:
        """One event; KeyError, TypeError or ValueError if it lacks what its type needs."""
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(ts, event)

    # --- events

    def _slot(self, number: Any, ts: float, vote_or_event: bool = True) -> Slot:
        if type(number) is not int or number < 0:
            raise ValueError("slot")
        slot = self.slots.get(number)
        if slot is None:
            slot = self.slots[number] = Slot(number)
        if vote_or_event and ts < slot.start:
            slot.start = ts
        slot.last = max(slot.last, ts)
        return slot

    def _collate_started(self, ts: float, event: dict[str, Any]) -> None:
        target = event["target_slot"]
        self._slot(target, ts)
        self.collate_starts.append((ts, target))

    def _collate_finished(self, ts: float, event: dict[str, Any]) -> None:
        number = event["id"]["slot"]
        slot = self._slot(number, ts)
        started = [s for s in self.collate_starts if s[0] <= ts]
        if started:
            begin = max(started)
            self.collate_starts.remove(begin)
            slot.collation = (begin[0], ts)
            self._measure(slot, "collation", ts - begin[0], ts)
            if begin[1] != number:
                self.sink.count("drifted_collations", ts)
        self._count_collation(slot, ts)
        if self.network is not None:
            self.network.collated(number, ts)

    def _collated_empty(self, ts: float, event: dict[str, Any]) -> None:
        slot = self._slot(event["id"]["slot"], ts)
        self._mark_empty(slot, ts)

    def _candidate_received(self, ts: float, event: dict[str, Any]) -> None:
        slot = self._slot(event["id"]["slot"], ts)
        if slot.received is None or ts < slot.received:
            slot.received = ts
        self._count_slot(slot, ts)
        block = event.get("block")
        if isinstance(block, dict) and block.get("@type") == "consensus.stats.empty":
            self._mark_empty(slot, ts)
        self._pairs(slot, "received")

    def _validation_started(self, ts: float, event: dict[str, Any]) -> None:
        slot = self._slot(event["id"]["slot"], ts)
        slot.validation_started = ts
        self._pairs(slot, "validation_started")

    def _validation_finished(self, ts: float, event: dict[str, Any]) -> None:
        slot = self._slot(event["id"]["slot"], ts)
        slot.validation_finished = ts
        self._pairs(slot, "validation_finished")

    def _block_accepted(self, ts: float, event: dict[str, Any]) -> None:
        slot = self._slot(event["id"]["slot"], ts)
        slot.accepted = ts
        self._pairs(slot, "accepted")

    def _voted(self, ts: float, event: dict[str, Any]) -> None:
        vote_type, number = _vote(event["vote"])
        slot = self._slot(number, ts)
        field_name = "voted_" + vote_type
        setattr(slot, field_name, ts)
        if self.network is not None and self.session is not None:
            self.network.vote(self.session, number, vote_type, ts)
        self._pairs(slot, field_name)

    def _cert_observed(self, ts: float, event: dict[str, Any]) -> None:
        vote_type, number = _vote(event["vote"])
        slot = self._slot(number, ts, vote_or_event=False)
        if getattr(slot, "cert_" + vote_type) is not None:
            return  # a certificate seen again
        field_name = "cert_" + vote_type
        setattr(slot, field_name, ts)
        if self.network is not None:
            self.network.certificate(number, vote_type, ts)
        if vote_type == "finalize":
            self.sink.count("finalized", ts)
        elif vote_type == "skip":
            self.sink.count("skipped", ts)
            self._count_slot(slot, ts)
        self._pairs(slot, field_name)

    # --- measurements

    def _pairs(self, slot: Slot, changed: str) -> None:
        """Measure the phases the changed field completes."""
        for phase, first, second in PAIRS_BY_FIELD.get(changed, ()):
            if phase not in slot.measured:
                begin, end = getattr(slot, first), getattr(slot, second)
                if begin is not None and end is not None:
                    self._measure(slot, phase, end - begin, end)

    def _measure(self, slot: Slot, phase: str, seconds: float, at: float) -> None:
        slot.measured.add(phase)
        if seconds >= 0:
            self.sink.observe(phase, seconds, at)

    def _count_slot(self, slot: Slot, ts: float) -> None:
        if not slot.counted:
            slot.counted = True
            self.sink.count("slots", ts)

    def _mark_empty(self, slot: Slot, ts: float) -> None:
        if not slot.empty:
            slot.empty = True
            self.sink.count("empty", ts)

    def _count_collation(self, slot: Slot, ts: float) -> None:
        session = self.session
        if session is None:
            return
        self.sink.count("collations", ts, label=str(session.idx))
        if session.slots_per_leader_window and session.total_validators:
            expected = slot.number // session.slots_per_leader_window % session.total_validators
            if expected != session.idx:
                self.sink.count("unexpected_collator", ts)

    # --- retirement

    def retire(self, now: float, everything: bool = False) -> list[Slot]:
        """Close the slots no batch can still add to; returns them in slot order."""
        done = sorted(
            (s for s in self.slots.values() if everything or s.last < now - RETIRE_SECONDS), key=lambda s: s.number
        )
        for slot in done:
            del self.slots[slot.number]
            self._close(slot)
        stale = [s for s in self.collate_starts if everything or s[0] < now - RETIRE_SECONDS]
        for start in stale:
            self.collate_starts.remove(start)
            self.sink.count("unfinished_collations", start[0])
        return done

    def _close(self, slot: Slot) -> None:
        if slot.cert_finalize is not None:
            if slot.start <= slot.cert_finalize:
                self.sink.observe("slot", slot.cert_finalize - slot.start, slot.cert_finalize)
            if self.last_finalized is not None and slot.cert_finalize > self.last_finalized:
                self.sink.observe("finalization_interval", slot.cert_finalize - self.last_finalized, slot.cert_finalize)
            self.last_finalized = slot.cert_finalize
        if slot.start < math.inf:
            self.sink.timeline(self._timeline(slot))

    def _timeline(self, slot: Slot) -> TimelineEntry:
        parts: dict[str, float] = {}
        if slot.collation is not None:
            parts["collate"] = slot.collation[1] - slot.collation[0]
        ready = slot.collation[1] if slot.collation is not None else slot.received
        if ready is not None and slot.cert_notarize is not None:
            parts["notarize"] = max(slot.cert_notarize - ready, 0.0)
        if slot.cert_notarize is not None and slot.cert_finalize is not None:
            parts["finalize"] = slot.cert_finalize - slot.cert_notarize
        if slot.cert_finalize is not None and slot.accepted is not None:
            parts["accept"] = slot.accepted - slot.cert_finalize
        session = self.session
        leader = (
            slot.number // session.slots_per_leader_window % session.total_validators
            if session and session.slots_per_leader_window and session.total_validators
            else -1
        )
        outcome = 1 if slot.cert_finalize is not None else 2 if slot.cert_skip is not None else 0
        return TimelineEntry(slot.number, slot.start, leader, outcome, parts)


def _vote(vote: dict[str, Any]) -> tuple[str, int]:
    kind = ce.VOTE_TYPES[vote["@type"]]
    number = vote["slot"] if kind == "skip" else vote["id"]["slot"]
    if type(number) is not int:
        raise ValueError("vote slot")
    return kind, number
