"""`consensus.stats.events` batches (ton-formats.md §3.5, §5).

A batch is `{id: session, events: [{ts, event: {@type, ...}}]}`. The batch is accepted when its envelope is sound;
each event is then checked on its own, so one malformed event costs only itself.
"""

import math
from typing import Any, NamedTuple

from ton_exporter.parsers.errors import RecordError
from ton_exporter.parsers.shard_ids import DEFAULT_RULES, ShardRules

SESSION_ID = "consensus.stats.id"
COLLATE_STARTED = "consensus.stats.collateStarted"
COLLATE_FINISHED = "consensus.stats.collateFinished"
COLLATED_EMPTY = "consensus.stats.collatedEmpty"
CANDIDATE_RECEIVED = "consensus.stats.candidateReceived"
VALIDATION_STARTED = "consensus.stats.validationStarted"
VALIDATION_FINISHED = "consensus.stats.validationFinished"
BLOCK_ACCEPTED = "consensus.stats.blockAccepted"
VOTED = "consensus.simplex.stats.voted"
CERT_OBSERVED = "consensus.simplex.stats.certObserved"

EVENT_TYPES: tuple[str, ...] = (
    SESSION_ID,
    COLLATE_STARTED,
    COLLATE_FINISHED,
    COLLATED_EMPTY,
    CANDIDATE_RECEIVED,
    VALIDATION_STARTED,
    VALIDATION_FINISHED,
    BLOCK_ACCEPTED,
    VOTED,
    CERT_OBSERVED,
)

VOTE_TYPES = {
    "consensus.simplex.notarizeVote": "notarize",
    "consensus.simplex.finalizeVote": "finalize",
    "consensus.simplex.skipVote": "skip",
}

UNKNOWN = "unknown"


class Batch(NamedTuple):
    session_id: str
    events: list[Any]


class Session(NamedTuple):
    """What a session's `consensus.stats.id` event says about it."""

    workchain: str
    shard: str
    idx: int
    total_validators: int
    weight: int
    total_weight: int
    slots_per_leader_window: int


def batch(record: dict[str, Any]) -> Batch:
    session_id, events = record.get("id"), record.get("events")
    if session_id is None or events is None:
        raise RecordError("missing_field", "consensus.stats.events without id or events")
    if type(session_id) is not str or type(events) is not list:
        raise RecordError("bad_field", "consensus.stats.events id or events of the wrong type")
    return Batch(session_id, events)


class EventError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unpack(item: Any) -> tuple[float, str, dict[str, Any]]:
    """(ts, @type, event) of one timestamped event, or EventError with a bounded reason."""
    try:
        ts = item["ts"]
        event = item["event"]
        kind = event["@type"]
    except (KeyError, TypeError):
        raise EventError("missing_field") from None
    if (type(ts) is not float and type(ts) is not int) or not 0 < ts < math.inf or type(kind) is not str:
        raise EventError("bad_field")
    return float(ts), kind, event


def event_error(item: Any) -> str:
    """Why `unpack` refuses an event (bad_field if it does not: the event failed a check made elsewhere)."""
    try:
        unpack(item)
    except EventError as e:
        return e.reason
    return "bad_field"


def vote_type(event: dict[str, Any]) -> str:
    vote = event.get("vote")
    kind = vote.get("@type") if isinstance(vote, dict) else None
    return VOTE_TYPES.get(kind, UNKNOWN) if isinstance(kind, str) else UNKNOWN


def session(event: dict[str, Any], rules: ShardRules = DEFAULT_RULES) -> Session:
    """The session identity in a `consensus.stats.id` event: EventError if it is malformed (the session stays
    unidentified), RecordError(bad_workchain | bad_shard) if its workchain or shard may not become a label (the
    whole batch is rejected, shard_ids.py)."""
    try:
        workchain, shard = rules.labels(event["workchain"], event["shard"])
        found = Session(
            workchain,
            shard,
            int(event["idx"]),
            int(event["total_validators"]),
            int(event.get("weight", 0)),
            int(event.get("total_weight", 0)),
            int(event.get("slots_per_leader_window", 0)),
        )
    except RecordError as e:
        if e.reason == "bad_field":
            raise EventError("bad_session_id") from None
        raise
    except (KeyError, TypeError, ValueError):
        raise EventError("bad_session_id") from None
    if not -1 <= found.idx < found.total_validators:  # idx is a label value (leader_idx): -1 = observer
        raise EventError("bad_session_id")
    return found


def find_session(events: list[Any], rules: ShardRules = DEFAULT_RULES) -> Session | None:
    """The identity from the `consensus.stats.id` event of a batch, if it has one."""
    for item in events:
        event = item.get("event") if isinstance(item, dict) else None
        if isinstance(event, dict) and event.get("@type") == SESSION_ID:
            return session(event, rules)
    return None
