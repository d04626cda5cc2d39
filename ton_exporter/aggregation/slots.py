"""The slot model of one consensus session as one node saw it, and what it yields when a slot is done.

Events arrive in batches flushed about 5 s after their first event, not in time order across batches. So each
event only records its time in its slot (the earliest one, if an event repeats); everything is measured when the
slot is *retired*: `RETIRE_SECONDS` of event time after its last event, when no batch can still bring one. Then
the slot's phases are observed, its counts counted, its timeline entry made, and its votes handed to the network
view (network.py). Metrics of a slot therefore appear about 15 s after the slot; in exchange each event costs one
dictionary update and every slot is measured once, with all its events.

Phases (ton-formats.md §5; seconds):

| phase | from | to |
|---|---|---|
| collation | collateStarted | collateFinished or collatedEmpty of the same target slot (own collations) |
| validation | validationStarted | validationFinished |
| received_to_validated | candidateReceived | validationFinished |
| notarize_vote | candidateReceived | voted(notarize), this node's vote |
| finalize_vote | certObserved(notarize) | voted(finalize), this node's vote |
| notarization | candidateReceived | certObserved(notarize) |
| finalization | certObserved(notarize) | certObserved(finalize) |
| accept | certObserved(finalize) | blockAccepted |
| slot | slot start: the earliest event or vote of the slot (not certificates) | certObserved(finalize) |
| finalization_interval | certObserved(finalize) of the previous finalized slot | certObserved(finalize) |

Counts per slot: a slot (candidate received or skip certificate), finalized, skipped, empty candidate, accepted
block, one per vote and certificate type; per own collation: by leader index, unexpected leader, drift
(collateFinished whose candidate is of another slot than its target slot); and collation starts never finished.

Collation delegation (upstream branch `collators`, dd805ca9, unmerged in July 2026): a dedicated collator node is
no validator, so its `consensus.stats.id` has idx -1 (simplex/pool.cpp), and it writes collateStarted,
collateFinished or collatedEmpty and candidateReceived(is_collator=true) for the windows leaders delegate to it
(window-producer.cpp). Its collations count as delegated, by the slot's leader, never as collations by an
unexpected leader. A validator's own leader slot whose candidate arrived from another node (is_collator=false)
and that it never collated counts as a delegated leader slot.

A collation is paired within its slot, never across slots: start and finish carry the same `target_slot`
(validator/consensus/block-producer.cpp publishes both for one `slot` variable), so a slot that retires holds
both or knows the finish never came. Pairing across slots (a start with the next finish) would depend on which
slots are still open when a retirement runs, which is what made live reading lose collations that reading a
file at once found.
"""

from dataclasses import dataclass
from typing import Any, Literal

from ton_exporter.parsers import consensus_events as ce

RETIRE_SECONDS = 15.0


def _shard_hex(shard: object) -> str | None:
    """The shard as TON prints it (`%016X` of its unsigned 64-bit value), for an exemplar's block name; None for a
    value that is no shard (the name is only a pointer: the slot is measured regardless)."""
    if isinstance(shard, bool) or not isinstance(shard, int | str):
        return None
    try:
        return f"{int(shard) & 0xFFFFFFFFFFFFFFFF:016X}"
    except ValueError:
        return None


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

# What a slot remembers, each at the first time it happened: its events, this node's votes (voted:), the
# certificates it saw (cert:), and _last, its latest event of any kind. A typo in a key is a type error.
Mark = Literal[
    "received",
    "received_own",
    "received_remote",
    "empty",
    "validation_started",
    "validation_finished",
    "accepted",
    "collate_started",
    "collate_finished",
    "collate_drifted",
    "voted:notarize",
    "voted:finalize",
    "voted:skip",
    "cert:notarize",
    "cert:finalize",
    "cert:skip",
    "_last",
]
VOTED: dict[str, Mark] = {"notarize": "voted:notarize", "finalize": "voted:finalize", "skip": "voted:skip"}
CERTIFIED: dict[str, Mark] = {"notarize": "cert:notarize", "finalize": "cert:finalize", "skip": "cert:skip"}
_CERTIFICATES = frozenset(CERTIFIED.values())

# Each pair-phase: (name, key of its first event, key of its second event).
PAIRS: tuple[tuple[str, Mark, Mark], ...] = (
    ("validation", "validation_started", "validation_finished"),
    ("received_to_validated", "received", "validation_finished"),
    ("notarize_vote", "received", "voted:notarize"),
    ("finalize_vote", "cert:notarize", "voted:finalize"),
    ("notarization", "received", "cert:notarize"),
    ("finalization", "cert:notarize", "cert:finalize"),
    ("accept", "cert:finalize", "accepted"),
)

# Per-slot counts: (count name, the key whose presence counts it).
SLOT_COUNTS: tuple[tuple[str, Mark], ...] = (
    ("finalized", "cert:finalize"),
    ("skipped", "cert:skip"),
    ("empty", "empty"),
    ("accepted", "accepted"),
    ("vote:notarize", "voted:notarize"),
    ("vote:finalize", "voted:finalize"),
    ("vote:skip", "voted:skip"),
    ("cert:notarize", "cert:notarize"),
    ("cert:finalize", "cert:finalize"),
    ("cert:skip", "cert:skip"),
)

_EVENT_KEYS: dict[str, Mark] = {
    ce.CANDIDATE_RECEIVED: "received",
    ce.VALIDATION_STARTED: "validation_started",
    ce.VALIDATION_FINISHED: "validation_finished",
    ce.BLOCK_ACCEPTED: "accepted",
    ce.COLLATED_EMPTY: "collate_finished",  # an empty candidate ends the collation too (and counts as empty)
}
_VOTE_KEYS: dict[tuple[str, str], Mark] = {
    (kind, vote_type): (VOTED if kind == ce.VOTED else CERTIFIED)[short]
    for kind in (ce.VOTED, ce.CERT_OBSERVED)
    for vote_type, short in ce.VOTE_TYPES.items()
}
_VOTE_KINDS = frozenset((ce.VOTED, ce.CERT_OBSERVED))
_LAST: Mark = "_last"  # latest event of any kind in the slot

Slot = dict[Mark, float]
Names = tuple[str, str]
"""(the block as workchain:shard:seqno, the slot number): an exemplar's labels"""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One retired slot, for the slot-timeline series: when it started and how long each part took."""

    slot: int
    start: float
    leader: int
    outcome: int  # 1 finalized, 2 skipped, 0 neither
    parts: dict[str, float]


class PhaseSink:
    """Where a session's measurements go (the consensus group of its node, workchain and shard). `names`, when
    given, names what was measured (block `workchain:shard:seqno` and slot) for the histograms' exemplars."""

    def observe(self, phase: str, seconds: float, at: float, names: "Names | None" = None) -> None: ...

    def count(self, what: str, at: float, n: int = 1, label: str = "") -> None: ...

    def timeline(self, entry: TimelineEntry) -> None: ...


class NetworkSink:
    """Where a retired slot's votes go when one exporter reads several nodes of the session (network.py)."""

    def slot(self, session: ce.Session, number: int, slot: Slot) -> None: ...


class SessionSlots:
    def __init__(self, session: ce.Session | None, sink: PhaseSink, network: NetworkSink | None = None) -> None:
        self.session = session
        self.sink = sink
        self.network = network
        self.slots: dict[int, Slot] = {}
        # The block of a slot's candidate (candidateReceived's block id), for exemplars; dropped with its slot.
        self.blocks: dict[int, str] = {}
        self.last_finalized: float | None = None

    def add(self, ts: float, kind: str, event: dict[str, Any]) -> None:
        """Record one event in its slot; KeyError, TypeError or ValueError if it lacks what its type needs."""
        key = _EVENT_KEYS.get(kind)
        if key is not None:
            number = event["id"]["slot"]
            if kind == ce.CANDIDATE_RECEIVED:
                if event.get("is_collator") is False:
                    self._record(number, "received_remote", ts)  # another node produced it
                elif event.get("is_collator") is True:
                    self._record(number, "received_own", ts)  # this node produced it (the leader, or its collator)
                block = event.get("block")
                if isinstance(block, dict) and block.get("@type") == "consensus.stats.empty":
                    self._record(number, "empty", ts)
                self._name_block(number, block)
            elif kind == ce.COLLATED_EMPTY:
                self._record(number, "empty", ts)
        elif kind in _VOTE_KINDS:
            vote = event["vote"]
            key = _VOTE_KEYS[(kind, vote["@type"])]
            number = vote["slot"] if key.endswith("skip") else vote["id"]["slot"]
        elif kind == ce.COLLATE_STARTED:
            number, key = event["target_slot"], "collate_started"
        elif kind == ce.COLLATE_FINISHED:
            number, key = event["target_slot"], "collate_finished"  # upstream pairs start and finish by it
            if event["id"]["slot"] != number:
                self._record(number, "collate_drifted", ts)
        else:
            return
        self._record(number, key, ts)

    def _name_block(self, number: Any, block: Any) -> None:
        """Remember `workchain:shard:seqno` of the slot's candidate (`consensus.stats.block{id}`); an empty
        candidate (`consensus.stats.empty{}`) or an unreadable id names no block, and is never rejected for that."""
        if type(number) is not int or not isinstance(block, dict):
            return
        block_id = block.get("id")
        if not isinstance(block_id, dict):
            return
        workchain, shard, seqno = block_id.get("workchain"), block_id.get("shard"), block_id.get("seqno")
        shard_name = _shard_hex(shard)
        if type(workchain) is int and type(seqno) is int and shard_name is not None:
            self.blocks.setdefault(number, f"{workchain}:{shard_name}:{seqno}")

    def _record(self, number: Any, key: Mark, ts: float) -> None:
        if type(number) is not int or number < 0:
            raise ValueError("slot")
        slot = self.slots.get(number)
        if slot is None:
            self.slots[number] = {key: ts, _LAST: ts}
            return
        previous = slot.get(key)
        if previous is None or ts < previous:
            slot[key] = ts
        slot[_LAST] = max(slot[_LAST], ts)

    def earliest_open(self) -> float | None:
        """The earliest event time of what is not retired yet: windows from its window on may still change."""
        return min((min(slot.values()) for slot in self.slots.values()), default=None)

    # --- retirement

    def retire(self, now: float, everything: bool = False) -> None:
        """Measure and forget the slots no batch can still add to, in slot order."""
        cutoff = now - RETIRE_SECONDS
        done = sorted(n for n, s in self.slots.items() if everything or s[_LAST] < cutoff)
        for number in done:
            self._close(number, self.slots.pop(number), self.blocks.pop(number, None))

    def _close(self, number: int, slot: Slot, block: str | None) -> None:
        sink = self.sink
        last = slot[_LAST]
        names = (block, str(number)) if block is not None else None
        for phase, first, second in PAIRS:
            begin, end = slot.get(first), slot.get(second)
            if begin is not None and end is not None and end >= begin:
                sink.observe(phase, end - begin, end, names)
        if "received" in slot or "cert:skip" in slot:
            sink.count("slots", slot.get("received", last))
        for name, key in SLOT_COUNTS:
            at = slot.get(key)
            if at is not None:
                sink.count(name, at)
        collation = self._collation(number, slot, names)
        self._delegated(number, slot)
        start = min((ts for key, ts in slot.items() if key not in _CERTIFICATES and key != _LAST), default=last)
        finalized = slot.get("cert:finalize")
        if finalized is not None:
            if start <= finalized:
                sink.observe("slot", finalized - start, finalized, names)
            if self.last_finalized is not None and finalized > self.last_finalized:
                sink.observe("finalization_interval", finalized - self.last_finalized, finalized, names)
            self.last_finalized = finalized
        sink.timeline(self._timeline(number, slot, start, collation))
        if self.network is not None and self.session is not None:
            self.network.slot(self.session, number, slot)

    def _collation(self, number: int, slot: Slot, names: Names | None) -> tuple[float, float] | None:
        """The slot's own collation: collateStarted and collateFinished (or collatedEmpty) of the slot, paired by
        target slot as TON's consensus explorer does; a start without a finish is counted unfinished."""
        started, finished = slot.get("collate_started"), slot.get("collate_finished")
        if finished is None:
            if started is not None:
                self.sink.count("unfinished_collations", started)
            return None
        if "collate_drifted" in slot:
            self.sink.count("drifted_collations", finished)
        session = self.session
        if session is not None:
            leader = self._leader(number)
            if session.idx < 0:  # a dedicated collator (idx -1: no validator): the leader delegated the slot to it
                self.sink.count("delegated_collations", finished, label=str(leader))
            else:
                self.sink.count("collations", finished, label=str(session.idx))
                if leader not in (-1, session.idx):
                    self.sink.count("unexpected_collator", finished)
        if started is None or finished < started:
            return None
        self.sink.observe("collation", finished - started, finished, names)
        return (started, finished)

    def _delegated(self, number: int, slot: Slot) -> None:
        """A slot of this validator's own leader window whose candidate another node produced and this node never
        collated: the leader delegated it (upstream's collation delegation, a dedicated collator collates)."""
        session = self.session
        remote = slot.get("received_remote")
        if remote is None or session is None or session.idx < 0 or self._leader(number) != session.idx:
            return
        if "collate_started" not in slot and "collate_finished" not in slot:
            self.sink.count("delegated_leader_slots", remote)

    def _leader(self, number: int) -> int:
        session = self.session
        if session is None or not session.slots_per_leader_window or not session.total_validators:
            return -1
        return number // session.slots_per_leader_window % session.total_validators

    def _timeline(self, number: int, slot: Slot, start: float, collation: tuple[float, float] | None) -> TimelineEntry:
        parts: dict[str, float] = {}
        if collation is not None:
            parts["collate"] = collation[1] - collation[0]
        ready = collation[1] if collation is not None else slot.get("received")
        notarized, finalized, accepted = slot.get("cert:notarize"), slot.get("cert:finalize"), slot.get("accepted")
        if ready is not None and notarized is not None:
            parts["notarize"] = max(notarized - ready, 0.0)
        if notarized is not None and finalized is not None:
            parts["finalize"] = finalized - notarized
        if finalized is not None and accepted is not None:
            parts["accept"] = accepted - finalized
        outcome = 1 if finalized is not None else 2 if "cert:skip" in slot else 0
        return TimelineEntry(number, start, self._leader(number), outcome, parts)
