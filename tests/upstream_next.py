"""SYNTHETIC session-stats lines in upstream's next format, made from the real files (never edited: copies).

Each transformation changes only what upstream's new writers change, so every line keeps the exact shape the
engine writes:

* `overload_lines` follows ton-blockchain/ton PR #2488 (refs/pull/2488/head, af2f4ed5 and its clang-format
  follow-up 2ec8ecff): `validatorStats.blockLimitsStatus` gains `overload_reason:int`, `want_split:Bool` and
  `peak_block_limit_class:int`, serialised after `limits_log` (TL JSON: ints as numbers, Bool as true/false).
  The values are assigned by a fixed rule from the block's seqno (the real files predate the fields).
* `collator_lines` and `delegating_leader_lines` follow the `collators` branch (dd805ca9): a dedicated collator
  is no validator, so `consensus.stats.id` carries idx -1 (validator/consensus/simplex/pool.cpp:
  `idx_.has_value() ? idx : -1` in stats.cpp), and it writes collateStarted / collateFinished / collatedEmpty
  and candidateReceived with is_collator=true (validator/consensus/window-producer.cpp); the leader that
  delegated its window writes no collation events and receives the candidate as any peer does
  (candidateReceived with is_collator=false, simplex/consensus.cpp).
"""

from typing import Any

import orjson

COLLATION_EVENTS = frozenset(
    ("consensus.stats.collateStarted", "consensus.stats.collateFinished", "consensus.stats.collatedEmpty")
)


def overload_reason(seqno: int) -> int:
    return seqno % 5


def want_split(seqno: int) -> bool:
    return seqno % 3 == 0


def peak_class(seqno: int) -> int:
    return (seqno // 2) % 5


def overload_lines(lines: list[bytes]) -> list[bytes]:
    out = []
    for line in lines:
        record = orjson.loads(line)
        if record.get("@type") == "validatorStats.collatedBlock":
            seqno = record["block_id"]["seqno"]
            limits = record["block_limits"]
            limits["overload_reason"] = overload_reason(seqno)
            limits["want_split"] = want_split(seqno)
            limits["peak_block_limit_class"] = peak_class(seqno)
        out.append(orjson.dumps(record))
    return out


def _events(lines: list[bytes], change: Any) -> list[bytes]:
    out = []
    for line in lines:
        record = orjson.loads(line)
        if record.get("@type") == "consensus.stats.events":
            record["events"] = [e for item in record["events"] if (e := change(item)) is not None]
        out.append(orjson.dumps(record))
    return out


def collator_lines(lines: list[bytes]) -> list[bytes]:
    """The real node's file as a dedicated collator's: the same collations, but idx -1 (no validator)."""

    def change(item: dict[str, Any]) -> dict[str, Any]:
        if item["event"]["@type"] == "consensus.stats.id":
            item["event"]["idx"] = -1
        return item

    return _events(lines, change)


def delegating_leader_lines(lines: list[bytes]) -> list[bytes]:
    """The real node's file as a leader that delegated every window: no collation events of its own, and its
    candidates received from the collator (is_collator=false)."""

    def change(item: dict[str, Any]) -> dict[str, Any] | None:
        event = item["event"]
        if event["@type"] in COLLATION_EVENTS:
            return None
        if event["@type"] == "consensus.stats.candidateReceived":
            event["is_collator"] = False
        return item

    return _events(lines, change)
