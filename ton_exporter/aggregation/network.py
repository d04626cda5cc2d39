"""The network view of consensus, when one exporter reads the files of several nodes of a session (central mode).

A node's file has only its own votes. With every node's file, the moment a slot was notarized (or finalized) by
the network is known: all validators' votes of that kind sorted by time, their weights summed, the first vote
where the sum reaches `total_weight * 2 / 3 + 1` (simplex/pool.cpp:328). If some nodes' files are missing the sum
may never get there: the earliest certificate any node observed stands in (ton-formats.md §5). From those:

| phase | from | to |
|---|---|---|
| notarize | the leader's collateFinished | notarize reached |
| finalize | notarize reached | finalize reached |

Candidate propagation (CON-08): from the producer's own candidateReceived (is_collator=true) to each other
node's candidateReceived (is_collator=false) of the slot, one observation per receiving node read. It compares
the clocks of two machines (NTP): a receipt before the production (a clock behind) is left out, not clamped.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ton_exporter.aggregation.slots import RETIRE_SECONDS, NetworkSink, PhaseSink, Slot
from ton_exporter.parsers import consensus_events as ce

NETWORK_PHASES = ("notarize", "finalize")


Pair = tuple[float | None, float | None]
Handed = tuple[ce.Session, int, Pair, Pair, float | None, float | None, float | None, float]
"""What a node's retired slot brings to the network view: (session, slot number, voted and certObserved times by
NETWORK_PHASES, collateFinished, own and others' candidateReceived, its last event time)"""


@dataclass(slots=True)
class NetworkSlot:
    votes: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # vote type -> (ts, weight)
    certificates: dict[str, float] = field(default_factory=dict)  # vote type -> earliest ts
    collated: float | None = None
    produced: float | None = None  # the producer's own candidateReceived
    arrivals: list[float] = field(default_factory=list)  # other nodes' candidateReceived, one per node
    last: float = -math.inf
    retired_by: set[int] = field(default_factory=set)  # validator indexes of the nodes that retired it


class NetworkSession(NetworkSink):
    """Slots of one session, merged from the nodes that retire them (each does so 15 s after its last event,
    by its own event clock). A merged slot is measured once every node reading the session has retired it, or,
    for a node that never has it (an observer, a lost batch), once the slowest node's clock is another
    RETIRE_SECONDS past it. Either way only when a round of reading is over (NetworkConsensus.settle): while a
    backlog is read, a node whose file comes later has not had its turn yet."""

    def __init__(self, total_weight: int, sink: PhaseSink) -> None:
        self.threshold = total_weight * 2 // 3 + 1
        self.sink = sink
        self.voters: set[int] = set()
        self.readers: set[int] = set()
        self.slots: dict[int, NetworkSlot] = {}
        self.pending: list[Handed] = []  # retired by a node, not merged yet

    def slot(self, session: ce.Session, number: int, slot: Slot) -> None:
        """A node retired a slot: what the network view needs of it is kept until the next `retire`, which
        merges it only if the session has two readers by then. With one reader nothing is measured anyway (a
        vote needs two voters' files, and voters are readers), so the usual case, one node's files, costs a
        small tuple per slot until the round of reading is over, not a merged slot."""
        get = slot.get
        voted = (get("voted:notarize"), get("voted:finalize"))  # NETWORK_PHASES order
        if voted != (None, None):
            self.voters.add(session.idx)
        certified = (get("cert:notarize"), get("cert:finalize"))
        own, remote = get("received_own"), get("received_remote")
        self.pending.append(
            (session, number, voted, certified, get("collate_finished"), own, remote, max(slot.values()))
        )

    def _merge(self, retired: Handed) -> None:
        session, number, voted, certified, collated, own, remote, last = retired
        merged = self.slots.get(number)
        if merged is None:
            merged = self.slots[number] = NetworkSlot()
        merged.retired_by.add(session.idx)
        for vote, ts in zip(NETWORK_PHASES, voted, strict=True):
            if ts is not None:
                merged.votes.setdefault(vote, []).append((ts, session.weight))
        for vote, ts in zip(NETWORK_PHASES, certified, strict=True):
            if ts is not None:
                merged.certificates[vote] = min(ts, merged.certificates.get(vote, math.inf))
        if collated is not None:
            merged.collated = collated
        if own is not None:
            merged.produced = own if merged.produced is None else min(merged.produced, own)
        if remote is not None:
            merged.arrivals.append(remote)
        merged.last = max(merged.last, last)

    def retire(self, before: float) -> None:
        """Measure the slots every reader has retired, and those whose last event is before `before`."""
        readers = self.readers
        pending, self.pending = self.pending, []
        if len(readers) < 2:
            return  # every slot is retired by all (one) readers, and measured by none: fewer than two voters
        for retired in pending:
            self._merge(retired)
        for number in [n for n, s in self.slots.items() if s.last < before or s.retired_by >= readers]:
            slot = self.slots.pop(number)
            if len(self.voters) < 2:
                continue  # one node's file: nothing a node's own view does not say already
            notarized = self._reached(slot, "notarize")
            finalized = self._reached(slot, "finalize")
            if slot.collated is not None and notarized is not None and notarized >= slot.collated:
                self.sink.observe("notarize", notarized - slot.collated, notarized)
            if notarized is not None and finalized is not None and finalized >= notarized:
                self.sink.observe("finalize", finalized - notarized, finalized)
            produced = slot.produced
            if produced is not None:
                for arrival in slot.arrivals:
                    if arrival >= produced:
                        self.sink.observe("propagation", arrival - produced, arrival)

    def _reached(self, slot: NetworkSlot, vote_type: str) -> float | None:
        total = 0
        for ts, weight in sorted(slot.votes.get(vote_type, ())):
            total += weight
            if total >= self.threshold:
                return min(ts, slot.certificates.get(vote_type, math.inf))
        return slot.certificates.get(vote_type)


class NetworkConsensus:
    """One `NetworkSession` per session id, shared by the nodes an exporter reads."""

    def __init__(self, sink_for: Callable[[str, str], PhaseSink]) -> None:
        self._sink_for = sink_for
        self.sessions: dict[str, NetworkSession] = {}
        self._clocks: dict[object, float] = {}  # per node reading the session: its event clock at its last retire

    def session(self, session_id: str, session: ce.Session) -> NetworkSession:
        """The network session of a node that reads `session` (its validator index is one of the readers)."""
        found = self.sessions.get(session_id)
        if found is None:
            sink = self._sink_for(session.workchain, session.shard)
            found = self.sessions[session_id] = NetworkSession(session.total_weight, sink)
        found.readers.add(session.idx)
        return found

    def advance(self, node: object, now: float, everything: bool = False) -> None:
        """A node has retired its slots up to its clock `now`."""
        self._clocks[node] = math.inf if everything else now

    def settle(self) -> None:
        """Measure what every node has retired; call it when a round of reading is over (see NetworkSession)."""
        if not self._clocks:
            return
        before = min(self._clocks.values()) - 2 * RETIRE_SECONDS
        for session in self.sessions.values():
            session.retire(before)
