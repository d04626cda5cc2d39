"""A recorded run repeated as one long session: what the demo replays and what the live tests append.

Repetition k of a run moves every event time (`collated_at`, `validated_at`, `ts`) by k periods, every block seqno
by k times the run's highest seqno (the chain goes on where it stopped), and every consensus slot (`slot`,
`target_slot`) by k times the run's slot span rounded up to a whole leader cycle (slots_per_leader_window x
total_validators), so that each slot keeps its leader. Session ids stay: the repetitions are one continuing
session, whose `consensus.stats.id` event only its very first batch carries, as the engine writes it.

A repetition therefore has exactly the events of the run: per repetition, every consensus count (slots, votes,
collations, unfinished collations, ...) equals the run's. The one figure that links repetitions is the
finalization interval, which measures from the previous repetition's last finalized slot to the first one of the
next (one observation more per repetition than the run alone gives; the gap spans the slots whose batch the
engine lost at the end of the run, ton-formats.md §5).
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SLOT_KEYS = frozenset(("slot", "target_slot"))
TIME_KEYS = ("collated_at", "validated_at")
SESSION_ID_EVENT = "consensus.stats.id"


def event_times(record: dict[str, Any]) -> list[float]:
    """The event times a record carries: its row's time, or its batch's event times."""
    if "collated_at" in record:
        return [record["collated_at"]]
    if "validated_at" in record:
        return [record["validated_at"]]
    return [e["ts"] for e in record.get("events", ())]


def write_times(records: Iterable[dict[str, Any]]) -> list[float]:
    """When the engine wrote each line of one node's file: after all its events, and after the line before."""
    written = -math.inf
    out = []
    for record in records:
        written = max([written, *event_times(record)])
        out.append(written)
    return out


def run_period(records: dict[str, list[dict[str, Any]]]) -> float:
    """Whole seconds from the run's first event to a second after its last line was written (every node)."""
    first = min(t for node in records.values() for r in node for t in event_times(r))
    last = max(max(write_times(node)) for node in records.values())
    return float(math.ceil(last - first + 1))


@dataclass(frozen=True)
class Continuation:
    period: float  # seconds between the starts of two repetitions
    seqnos: int  # block seqnos added per repetition
    slots: int  # consensus slots added per repetition

    @classmethod
    def of(cls, records: Iterable[dict[str, Any]], period: float) -> "Continuation":
        """The shifts that make repetitions of `records` (every node's records of one run) one session."""
        seqno, slot, cycle = 0, -1, 1
        for record in records:
            block_id = record.get("block_id")
            if isinstance(block_id, dict):
                seqno = max(seqno, int(block_id["seqno"]))
            for item in record.get("events", ()):
                event = item["event"]
                if event["@type"] == SESSION_ID_EVENT:
                    cycle = math.lcm(cycle, event["slots_per_leader_window"] * event["total_validators"])
                slot = max(slot, _max_slot(event))
        span = slot + 1
        return cls(period, seqno, -(-span // cycle) * cycle)

    def apply(self, record: dict[str, Any], repetition: int) -> dict[str, Any]:
        """`record` as repetition `repetition` (0: unchanged) has it; changed in place and returned."""
        if repetition == 0:
            return record
        shift = repetition * self.period
        for key in TIME_KEYS:
            if key in record:
                record[key] = round(record[key] + shift, 6)
        if "events" in record:
            record["events"] = [item for item in record["events"] if item["event"].get("@type") != SESSION_ID_EVENT]
            for item in record["events"]:
                item["ts"] = round(item["ts"] + shift, 6)
                _shift_ids(item["event"], repetition * self.slots, repetition * self.seqnos)
        else:
            _shift_ids(record, 0, repetition * self.seqnos)
        return record


def _max_slot(node: Any) -> int:
    found = -1
    if isinstance(node, dict):
        for key, value in node.items():
            found = max(found, value if key in SLOT_KEYS and type(value) is int else _max_slot(value))
    elif isinstance(node, list):
        for value in node:
            found = max(found, _max_slot(value))
    return found


def _shift_ids(node: Any, slots: int, seqnos: int) -> None:
    """Add `slots` to every slot number and `seqnos` to every block seqno (`seqno`, never `cc_seqno`) in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if type(value) is int:
                if key in SLOT_KEYS:
                    node[key] = value + slots
                elif key == "seqno":
                    node[key] = value + seqnos
            elif isinstance(value, dict | list):
                _shift_ids(value, slots, seqnos)
    elif isinstance(node, list):
        for value in node:
            _shift_ids(value, slots, seqnos)
