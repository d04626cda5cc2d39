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

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from ton_exporter.parsers import consensus_events as ce

RETIRE_SECONDS = 15.0


def _block_name(block_id: object) -> str | None:
    """`workchain:shard:seqno` as TON prints a block (the shard as `%016X` of its unsigned 64-bit value), for an
    exemplar; None for an id that names no block (the name is only a pointer: the slot is measured regardless)."""
    if type(block_id) is not dict:
        return None
    workchain, shard, seqno = block_id.get("workchain"), block_id.get("shard"), block_id.get("seqno")
    if type(workchain) is not int or type(seqno) is not int:
        return None
    shard_hex = _SHARD_HEX.get(shard) if type(shard) is str or type(shard) is int else None
    if shard_hex is None:
        if type(shard) is str:
            try:
                number = int(shard)
            except ValueError:
                return None
        elif type(shard) is int:
            number = shard
        else:
            return None
        shard_hex = f"{number & 0xFFFFFFFFFFFFFFFF:016X}"
        if len(_SHARD_HEX) < 1024:  # a network has a handful of shards; anything else is formatted each time
            _SHARD_HEX[shard] = shard_hex
    return f"{workchain}:{shard_hex}:{seqno}"


_SHARD_HEX: dict[object, str] = {}  # shard as the event has it (a string of a TL long, or a number) -> %016X


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
# Vote kind -> vote type -> slot key.
_VOTE_KEYS: dict[str, dict[str, Mark]] = {
    kind: {vote_type: (VOTED if kind == ce.VOTED else CERTIFIED)[short] for vote_type, short in ce.VOTE_TYPES.items()}
    for kind in (ce.VOTED, ce.CERT_OBSERVED)
}
_SKIP_KEYS = frozenset(("voted:skip", "cert:skip"))  # a skip vote names its slot directly, not by a block id
_KNOWN_EVENTS = frozenset(ce.EVENT_TYPES)
_LAST: Mark = "_last"  # latest event of any kind in the slot
_NOT_START = frozenset(("cert:notarize", "cert:finalize", "cert:skip", _LAST))  # a slot starts with its own events

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

    def take(self, retired: "Retired") -> None:
        """Everything one retirement measured for this sink, in the order it was measured."""
        retired.replay(self)


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

    def add_events(self, items: list[Any], rejected: Counter[str]) -> tuple[float, list[str]]:
        """Record each event of a batch in its slot; return the newest event time and the types of the events
        read (UNKNOWN for a type not in ce.EVENT_TYPES). An event without ts, event or @type, or with an
        impossible ts, is counted in `rejected` by its reason; one that lacks what its type needs, as bad_field.
        One loop with the slot update inline: this runs for every consensus event."""
        slots = self.slots
        kinds: list[str] = []
        newest = -math.inf
        for item in items:
            try:
                ts = item["ts"]
                event = item["event"]
                kind = event["@type"]
                if not 0 < ts < math.inf:
                    raise ValueError
                kinds.append(kind if kind in _KNOWN_EVENTS else ce.UNKNOWN)
            except (KeyError, TypeError, ValueError, AttributeError):
                rejected[ce.event_error(item)] += 1
                continue
            if ts > newest:  # noqa: PLR1730  (a comparison, not a call: once per event)
                newest = ts
            try:
                votes = _VOTE_KEYS.get(kind)
                if votes is not None:  # most events are votes and certificates
                    vote = event["vote"]
                    key = votes[vote["@type"]]
                    number = vote["slot"] if key in _SKIP_KEYS else vote["id"]["slot"]
                elif kind in _EVENT_KEYS:
                    key = _EVENT_KEYS[kind]
                    number = event["id"]["slot"]
                    if kind == ce.CANDIDATE_RECEIVED:
                        self._received(number, event, ts)
                    elif kind == ce.COLLATED_EMPTY:
                        self._record(number, "empty", ts)
                elif kind == ce.COLLATE_STARTED:
                    number, key = event["target_slot"], "collate_started"
                elif kind == ce.COLLATE_FINISHED:
                    number, key = event["target_slot"], "collate_finished"  # upstream pairs start and finish by it
                    if event["id"]["slot"] != number:
                        self._record(number, "collate_drifted", ts)
                else:
                    continue
                if type(number) is not int or number < 0:  # _record, inline
                    raise ValueError("slot")
                slot = slots.get(number)
                if slot is None:
                    slots[number] = {key: ts, _LAST: ts}
                    continue
                previous = slot.get(key)
                if previous is None or ts < previous:
                    slot[key] = ts
                if ts > slot[_LAST]:  # noqa: PLR1730
                    slot[_LAST] = ts
            except (KeyError, TypeError, ValueError, AttributeError, IndexError):
                rejected["bad_field"] += 1
        return newest, kinds

    def _received(self, number: Any, event: dict[str, Any], ts: float) -> None:
        """What candidateReceived says besides its slot: who produced the candidate, whether it is empty, and
        `workchain:shard:seqno` of its block (`consensus.stats.block{id}`) for exemplars. An empty candidate
        (`consensus.stats.empty{}`) or an unreadable id names no block, and is never rejected for that."""
        collator = event.get("is_collator")
        if collator is False:
            self._record(number, "received_remote", ts)  # another node produced it
        elif collator is True:
            self._record(number, "received_own", ts)  # this node produced it (the leader, or its collator)
        block = event.get("block")
        if type(block) is dict:
            if block.get("@type") == "consensus.stats.empty":
                self._record(number, "empty", ts)
            if type(number) is int and number not in self.blocks:  # the first candidate names the slot
                name = _block_name(block.get("id"))
                if name is not None:
                    self.blocks[number] = name

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

    def retire(self, now: float, everything: bool = False, into: "Retired | None" = None) -> None:
        """Close the slots no batch can still add to, in slot order, into `into` (a batch of the sink's; the
        caller hands it over), or straight to the sink."""
        cutoff = now - RETIRE_SECONDS
        done = sorted(n for n, s in self.slots.items() if everything or s[_LAST] < cutoff)
        if not done:
            return
        retired = Retired() if into is None else into
        for number in done:
            self._close(number, self.slots.pop(number), self.blocks.pop(number, None), retired)
        if into is None:
            self.sink.take(retired)

    def _close(self, number: int, slot: Slot, block: str | None, out: "Retired") -> None:
        """What the slot's own session knows: its collation, leader, start and previous finalization. The pair
        phases and per-slot counts, which need only the slot, are measured by the sink over the whole batch."""
        names = (block, str(number)) if block is not None else None
        out.slots.append(slot)
        out.names.append(names)
        collation = self._collation(number, slot, names, out)
        self._delegated(number, slot, out)
        start = _start(slot)
        finalized = slot.get("cert:finalize")
        if finalized is not None:
            if start <= finalized:
                out.observed["slot"].append((finalized - start, finalized, names))
            if self.last_finalized is not None and finalized > self.last_finalized:
                out.observed["finalization_interval"].append((finalized - self.last_finalized, finalized, names))
            self.last_finalized = finalized
        out.timeline.append((self, number, slot, start, collation))
        if self.network is not None and self.session is not None:
            self.network.slot(self.session, number, slot)

    def _collation(self, number: int, slot: Slot, names: Names | None, out: "Retired") -> tuple[float, float] | None:
        """The slot's own collation: collateStarted and collateFinished (or collatedEmpty) of the slot, paired by
        target slot as TON's consensus explorer does; a start without a finish is counted unfinished."""
        started, finished = slot.get("collate_started"), slot.get("collate_finished")
        if finished is None:
            if started is not None:
                out.count("unfinished_collations", started)
            return None
        if "collate_drifted" in slot:
            out.count("drifted_collations", finished)
        session = self.session
        if session is not None:
            leader = self._leader(number)
            if session.idx < 0:  # a dedicated collator (idx -1: no validator): the leader delegated the slot to it
                out.labelled.append(("delegated_collations", str(leader), finished))
            else:
                out.labelled.append(("collations", str(session.idx), finished))
                if leader not in (-1, session.idx):
                    out.count("unexpected_collator", finished)
        if started is None or finished < started:
            return None
        out.observed["collation"].append((finished - started, finished, names))
        return (started, finished)

    def _delegated(self, number: int, slot: Slot, out: "Retired") -> None:
        """A slot of this validator's own leader window whose candidate another node produced and this node never
        collated: the leader delegated it (upstream's collation delegation, a dedicated collator collates)."""
        session = self.session
        remote = slot.get("received_remote")
        if remote is None or session is None or session.idx < 0 or self._leader(number) != session.idx:
            return
        if "collate_started" not in slot and "collate_finished" not in slot:
            out.count("delegated_leader_slots", remote)

    def _leader(self, number: int) -> int:
        session = self.session
        if session is None or not session.slots_per_leader_window or not session.total_validators:
            return -1
        return number // session.slots_per_leader_window % session.total_validators

    def timeline_entry(
        self, number: int, slot: Slot, start: float, collation: tuple[float, float] | None
    ) -> TimelineEntry:
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


def _start(slot: Slot) -> float:
    """The earliest event or vote of the slot, certificates left out (its last event if it has nothing else).
    Nearly always the earliest value of all, which one C call finds; the exact filter only runs when a
    certificate ties it."""
    earliest = min(slot.values())
    get = slot.get
    if earliest != get("cert:notarize") and earliest != get("cert:finalize") and earliest != get("cert:skip"):
        return earliest
    return min([ts for key, ts in slot.items() if key not in _NOT_START], default=slot[_LAST])


Observation = tuple[float, float, Names | None]
"""(seconds, the event time that ended the phase, what was measured or None)"""
Closed = tuple[SessionSlots, int, Slot, float, tuple[float, float] | None]
"""(its session's model, slot number, slot, start, own collation): what a timeline entry is made from"""


class Retired:
    """The slots one retirement closed for one sink, in order, and what their sessions measured of them; the
    sink takes them at once (`PhaseSink.take`). The pair phases (PAIRS) and the per-slot counts (SLOT_COUNTS)
    need only the slot, so they are measured here over the whole batch, one pass per phase or count, instead of
    one call per measurement. Each phase's and each count's measurements come in slot order, as closing the
    slots one by one made them: the order a histogram's sum adds them in."""

    __slots__ = ("counted", "labelled", "names", "observed", "slots", "timeline")

    def __init__(self) -> None:
        self.slots: list[Slot] = []
        self.names: list[Names | None] = []
        self.observed: dict[str, list[Observation]] = {"collation": [], "slot": [], "finalization_interval": []}
        self.counted: dict[str, list[float]] = {}  # count name -> the event time of each one counted
        self.labelled: list[tuple[str, str, float]] = []  # (count name, leader_idx, event time), in order
        self.timeline: list[Closed] = []

    def count(self, what: str, at: float) -> None:
        ats = self.counted.get(what)
        if ats is None:
            self.counted[what] = [at]
        else:
            ats.append(at)

    def phases(self) -> list[tuple[str, list[Observation]]]:
        """Every phase measured, with its measurements in slot order."""
        slots, names = self.slots, self.names
        measured = [
            (
                phase,
                [
                    (end - begin, end, name)
                    for slot, name in zip(slots, names, strict=True)
                    if (begin := slot.get(first)) is not None and (end := slot.get(second)) is not None and end >= begin
                ],
            )
            for phase, first, second in PAIRS
        ]
        return measured + list(self.observed.items())

    def counts(self) -> list[tuple[str, list[float]]]:
        """Every unlabelled count, with the event time of each one counted, in slot order."""
        slots = self.slots
        counts = [("slots", [s.get("received", s[_LAST]) for s in slots if "received" in s or "cert:skip" in s])]
        counts += [(name, [s[key] for s in slots if key in s]) for name, key in SLOT_COUNTS]
        return counts + list(self.counted.items())

    def timeline_entries(self, newest: int | None = None) -> list[TimelineEntry]:
        """Timeline entries of the `newest` slots closed (all of them by default), oldest first."""
        closed = self.timeline if newest is None else self.timeline[-newest:] if newest > 0 else []
        return [model.timeline_entry(number, slot, start, made) for model, number, slot, start, made in closed]

    def replay(self, sink: PhaseSink) -> None:
        """Hand every measurement to `sink` one call at a time: the general path, which a sink that takes the
        batch in bulk (ConsensusGroup.take) must match (tests/test_slot_batches.py)."""
        for phase, measured in self.phases():
            for seconds, at, names in measured:
                sink.observe(phase, seconds, at, names)
        for what, ats in self.counts():
            for at in ats:
                sink.count(what, at)
        for what, label, at in self.labelled:
            sink.count(what, at, label=label)
        for entry in self.timeline_entries():
            sink.timeline(entry)
