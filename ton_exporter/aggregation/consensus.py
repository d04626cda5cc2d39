"""What `consensus.stats.events` batches add up to: counts, the slot model's phases, and slot timelines.

A batch carries its session id, never the workchain: that comes from the session's `consensus.stats.id` event,
which only its first batch has, so sessions are remembered across lines (and restarts). Events of a session whose
first batch was never read are counted under workchain and shard "unknown", and the session is counted as
unidentified. Each session has its slot model (slots.py); when the exporter reads several nodes of a session,
their votes also feed the network view (network.py).

A malformed event is skipped and counted (`rejected_events`), the rest of its batch is used.
"""

import math
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ton_exporter.aggregation.buckets import INTERVAL_BUCKETS, LATENCY_BUCKETS
from ton_exporter.aggregation.distribution import Distribution
from ton_exporter.aggregation.network import NetworkConsensus
from ton_exporter.aggregation.series_bounds import OTHER, SeriesBounds
from ton_exporter.aggregation.slots import Closed, Names, Observation, PhaseSink, Retired, SessionSlots, TimelineEntry
from ton_exporter.parsers import consensus_events as ce
from ton_exporter.parsers.shard_ids import DEFAULT_RULES

MAX_SESSIONS = 10_000
TIMELINE_SLOTS = 64  # the newest retired slots exported as timeline series (see collector.py)
# The interval between finalized slots is the slot time give or take milliseconds: a finer grid there (buckets.py).
PHASE_BUCKETS = {"finalization_interval": INTERVAL_BUCKETS}
PhaseExemplar = tuple[float, Names, float]
"""(seconds, (block as workchain:shard:seqno, slot), the event time that ended the phase)"""


@dataclass(eq=False)
class ConsensusGroup(PhaseSink):
    """Everything counted for one (node, workchain, shard), or for the network view of one (workchain, shard)."""

    events: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)
    labelled: Counter[tuple[str, str]] = field(default_factory=Counter)
    phases: dict[str, Distribution] = field(default_factory=dict)
    windows: dict[int, Counter[str]] = field(default_factory=dict)
    phase_windows: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    # The newest retired slots, oldest first: entries, or what one is made from (slots.Closed) until it is read.
    timeline_closed: deque[TimelineEntry | Closed] = field(default_factory=lambda: deque(maxlen=TIMELINE_SLOTS))
    # Per phase and bucket, the slowest slot that fell in it: (seconds, (block, slot), time). OpenMetrics exemplars;
    # not saved across restarts (they name blocks, not totals), like the block histograms' (block_groups.py).
    exemplars: dict[str, list[PhaseExemplar | None]] = field(default_factory=dict)
    oldest_window: int | None = None  # windows before it are no longer kept (see event_clock.py)
    bounds: SeriesBounds | None = None  # caps the values of `labelled` (leader_idx); None: unbounded

    def observe(self, phase: str, seconds: float, at: float, names: Names | None = None) -> None:
        distribution = self.phases.get(phase)
        if distribution is None:
            distribution = self.phases[phase] = Distribution(PHASE_BUCKETS.get(phase, LATENCY_BUCKETS))
        distribution.observe(seconds)
        if names is not None:
            self._keep_exemplar(phase, distribution.bounds, seconds, names, at)
        window = int(at // 60) * 60  # window_start(), inline: this runs for every phase measured
        if self.oldest_window is None or window >= self.oldest_window:
            per_phase = self.phase_windows.get(window)
            if per_phase is None:
                per_phase = self.phase_windows[window] = {}
            values = per_phase.get(phase)
            if values is None:
                per_phase[phase] = [seconds]
            else:
                values.append(seconds)

    def _keep_exemplar(self, phase: str, bounds: tuple[float, ...], seconds: float, names: Names, at: float) -> None:
        kept = self.exemplars.get(phase)
        if kept is None:
            kept = self.exemplars[phase] = [None] * (len(bounds) + 1)
        k = bisect_left(bounds, seconds)  # the bucket Distribution.observe counted it in
        current = kept[k]
        if current is None or seconds > current[0]:
            kept[k] = (seconds, names, at)

    def count(self, what: str, at: float, n: int = 1, label: str = "") -> None:
        if label:
            key = (what, label)
            bounds = self.bounds
            if key not in self.labelled and bounds is not None and len(self.labelled) >= bounds.limits.max_label_values:
                bounds.count_overflow("leader_idx", label, n)
                key = (what, OTHER)
            self.labelled[key] += n
        else:
            self.counts[what] += n
        window = int(at // 60) * 60
        if self.oldest_window is None or window >= self.oldest_window:
            counts = self.windows.get(window)
            if counts is None:
                counts = self.windows[window] = Counter()
            counts[what] += n

    def timeline(self, entry: TimelineEntry) -> None:
        self.timeline_closed.append(entry)

    @property
    def timeline_ring(self) -> deque[TimelineEntry]:
        """The timeline entries of the newest retired slots, oldest first. Made when read: of the thousands of
        slots a backlog retires, only the last TIMELINE_SLOTS are ever shown."""
        ring = self.timeline_closed
        if ring and not all(type(entry) is TimelineEntry for entry in ring):
            ring = self.timeline_closed = deque(map(_entry, ring), maxlen=ring.maxlen)
        return ring  # type: ignore[return-value]  # every item is an entry now

    def take(self, retired: Retired) -> None:
        """`retired.replay(self)` in bulk: the same state, with one pass per phase and count, one window lookup
        per batch that falls in one window, and timeline entries made only for the slots the ring keeps."""
        for phase, measured in retired.phases():
            if measured:
                self._observe_all(phase, measured)
        for what, ats in retired.counts():
            if ats:
                self.counts[what] += len(ats)
                self._count_windows(what, ats)
        for what, label, at in retired.labelled:
            self.count(what, at, label=label)
        self.timeline_closed.extend(retired.timeline[-TIMELINE_SLOTS:])

    def _observe_all(self, phase: str, measured: list[Observation]) -> None:
        distribution = self.phases.get(phase)
        if distribution is None:
            distribution = self.phases[phase] = Distribution(PHASE_BUCKETS.get(phase, LATENCY_BUCKETS))
        values, ats, names = zip(*measured, strict=True)
        slowest = distribution.observe_all(values, names)
        if slowest:
            kept = self.exemplars.get(phase)
            if kept is None:
                kept = self.exemplars[phase] = [None] * (len(distribution.bounds) + 1)
            for k, i in slowest:
                current = kept[k]
                if current is None or values[i] > current[0]:
                    kept[k] = (values[i], names[i], ats[i])  # names[i] is not None (observe_all)
        for window, kept_values in self._by_window(ats, values):
            per_phase = self.phase_windows.get(window)
            if per_phase is None:
                per_phase = self.phase_windows[window] = {}
            in_window = per_phase.get(phase)
            if in_window is None:
                per_phase[phase] = list(kept_values)
            else:
                in_window.extend(kept_values)

    def _count_windows(self, what: str, ats: list[float]) -> None:
        for window, counted in self._by_window(ats, ats):
            counts = self.windows.get(window)
            if counts is None:
                counts = self.windows[window] = Counter()
            counts[what] += len(counted)

    def _by_window(self, ats: Sequence[float], values: Sequence[float]) -> list[tuple[int, Sequence[float]]]:
        """`values` grouped by the window of their `ats` (in order within each), windows no longer kept left out.
        A batch nearly always falls in one window: then one comparison of its first and last does."""
        oldest = self.oldest_window
        first, last = int(min(ats) // 60) * 60, int(max(ats) // 60) * 60
        if first == last:
            return [] if oldest is not None and first < oldest else [(first, values)]
        if last == first + 60:  # across one window's end: at < last is exactly "in the first window"
            pairs = list(zip(ats, values, strict=True))
            before = (first, [value for at, value in pairs if at < last])
            after = (last, [value for at, value in pairs if at >= last])
            return [w for w in (before, after) if oldest is None or w[0] >= oldest]
        grouped: dict[int, list[float]] = {}
        for at, value in zip(ats, values, strict=True):
            window = int(at // 60) * 60
            if oldest is None or window >= oldest:
                kept = grouped.get(window)
                if kept is None:
                    grouped[window] = [value]
                else:
                    kept.append(value)
        return list(grouped.items())

    def prune(self, oldest_kept: int) -> None:
        for window in [w for w in self.windows if w < oldest_kept]:
            del self.windows[window]
        for window in [w for w in self.phase_windows if w < oldest_kept]:
            del self.phase_windows[window]

    def to_json(self) -> dict[str, Any]:
        return {
            "events": dict(self.events),
            "counts": dict(self.counts),
            "labelled": [[what, label, n] for (what, label), n in self.labelled.items()],
            "phases": {name: d.to_json() for name, d in self.phases.items()},
        }

    def restore(self, data: dict[str, Any]) -> None:
        for name in ("events", "counts"):
            getattr(self, name).update({str(k): int(v) for k, v in data.get(name, {}).items()})
        for what, label, n in data.get("labelled", []):
            self.labelled[(str(what), str(label))] += int(n)
        for name, distribution in data.get("phases", {}).items():
            self.phases.setdefault(name, Distribution(PHASE_BUCKETS.get(name, LATENCY_BUCKETS))).restore(distribution)


class ConsensusState:
    def __init__(self, network: NetworkConsensus | None = None, bounds: SeriesBounds | None = None) -> None:
        self.bounds = bounds  # admits (and caps) the groups' keys (series_bounds.py); None: unbounded
        self.sessions: dict[str, ce.Session] = {}
        self.unidentified: set[str] = set()
        self.groups: dict[tuple[str, str], ConsensusGroup] = {}
        self.models: dict[str, SessionSlots] = {}
        self.rejected_events: Counter[str] = Counter()
        self.network = network

    def group(self, key: tuple[str, str]) -> ConsensusGroup:
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = ConsensusGroup(bounds=self.bounds)
        return group

    def add_batch(self, batch: ce.Batch, oldest_window: int | None) -> float:
        """Count one batch and feed its events to the session's slot model; return its newest event time."""
        session = self.sessions.get(batch.session_id) or self._identify(batch)
        key = (session.workchain, session.shard) if session else (ce.UNKNOWN, ce.UNKNOWN)
        if self.bounds is not None:
            key = self.bounds.admit(key, -math.inf)  # its event time is recorded below, once known
        group = self.group(key)
        group.oldest_window = oldest_window
        model = self.models.get(batch.session_id)
        if model is None:
            capped = session is not None and key != (session.workchain, session.shard)  # past the node's cap
            network = None if capped else self._network(batch, session)  # the network view: real shards only
            model = self.models[batch.session_id] = SessionSlots(session, group, network)
        newest, types = model.add_events(batch.events, self.rejected_events)
        group.events.update(types)
        if self.bounds is not None and newest > -math.inf:
            self.bounds.admit(key, newest)
        return newest

    def in_use(self, key: tuple[str, str]) -> bool:
        """A session with open slots still counts into the group of `key`."""
        group = self.groups.get(key)
        return group is not None and any(model.sink is group for model in self.models.values())

    def _network(self, batch: ce.Batch, session: ce.Session | None) -> Any:
        if self.network is None or session is None:
            return None
        return self.network.session(batch.session_id, session)

    def _identify(self, batch: ce.Batch) -> ce.Session | None:
        try:
            rules = self.bounds.limits.rules if self.bounds is not None else DEFAULT_RULES
            session = ce.find_session(batch.events, rules)  # RecordError(bad_workchain|bad_shard): batch rejected
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

    def earliest_open(self) -> float | None:
        return min((t for m in self.models.values() if (t := m.earliest_open()) is not None), default=None)

    def retire(self, now: float, everything: bool = False) -> None:
        """Close the slots no batch can still add to (see slots.py); forget sessions with nothing open. Each
        group takes what all its sessions closed at once, in session and slot order."""
        batches: dict[PhaseSink, Retired] = {}
        for session_id in list(self.models):
            model = self.models[session_id]
            retired = batches.get(model.sink)
            if retired is None:
                retired = batches[model.sink] = Retired()
            model.retire(now, everything, retired)
            if not model.slots:
                del self.models[session_id]
        for sink, retired in batches.items():
            if retired.slots:
                sink.take(retired)
        if self.network is not None:
            self.network.advance(self, now, everything)

    def prune(self, oldest_kept: int) -> None:
        for group in self.groups.values():
            group.prune(oldest_kept)

    def to_json(self) -> dict[str, object]:
        return {
            "sessions": {sid: list(s) for sid, s in self.sessions.items()},
            "unidentified": sorted(self.unidentified),
            "groups": [{"workchain": wc, "shard": shard, **g.to_json()} for (wc, shard), g in self.groups.items()],
            "rejected_events": dict(self.rejected_events),
        }

    def restore(self, data: dict[str, Any]) -> None:
        for sid, fields in data["sessions"].items():
            self.sessions[str(sid)] = ce.Session(str(fields[0]), str(fields[1]), *(int(x) for x in fields[2:]))
        self.unidentified.update(str(s) for s in data["unidentified"])
        for entry in data["groups"]:
            self.group((str(entry["workchain"]), str(entry["shard"]))).restore(entry)
        self.rejected_events.update({k: int(v) for k, v in data["rejected_events"].items()})


def _entry(item: TimelineEntry | Closed) -> TimelineEntry:
    if isinstance(item, TimelineEntry):
        return item
    model, number, slot, start, collation = item
    return model.timeline_entry(number, slot, start, collation)
