"""Per node: which (workchain, shard) groups are live, the cap on them, the overflow, and which retire.

A group is what one (node, workchain, shard) has in the stores (its collated and validated blocks, its consensus
counts); its series are the group's. Invariants:

* every key of the node's stores is in `live`, with the newest event time of the data it got;
* at most `max_shards_per_node` live keys carry a real shard; a new shard past the cap is counted under the
  workchain's overflow group (`shard="overflow"`; the workchain itself is checked, so bounded), in `overflow`
  (a self-metric) and logged once per node and label;
* a group retires when the node's data has moved on by the idle timeout without it (by event time: a file read
  from its start retires the shards of its past as it goes), unless it is the newest group of its workchain (a
  stalled workchain keeps its series, and the alerts on them keep firing);
* before a group leaves, its block counts are added to `retired`, so that live + retired never goes back.
"""

import logging
from collections import Counter

from ton_exporter.aggregation.limits import Limits

log = logging.getLogger("ton_exporter.limits")

OVERFLOW = "overflow"
OTHER = "other"
ACTIONS_PER_WINDOW = 64
"""time_stats action names (normalised, numbers -> N) shown per group and window; a build has about 40."""
UNKNOWN = "unknown"
OVERFLOW_LABELS = ("shard", "component", "leader_idx")
"""Labels whose values past the cap are counted in tonex_series_overflow_total (time_stats actions, shown only in
window gauges, are summed into action="other" past ACTIONS_PER_WINDOW, not counted: a window is computed again as
rows arrive)."""
RETIRED_KINDS = ("collated", "validated", "invalid", "accepted")
"""Blocks of retired groups: tonex_collated_blocks_total, tonex_validated_blocks_total{result="valid"} and
{result="invalid"}, tonex_accepted_blocks_total."""

Key = tuple[str, str]


class SeriesBounds:
    def __init__(self, node: str, limits: Limits) -> None:
        self.node = node
        self.limits = limits
        self.live: dict[Key, float] = {}
        self.capped = 0  # live keys with a real shard (not overflow, not unknown)
        self.overflow: Counter[str] = Counter()
        self.retired: Counter[tuple[str, str]] = Counter()  # (workchain, kind) -> blocks
        self.retired_groups = 0

    def admit(self, key: Key, t: float) -> Key:
        """The key to count a record of `key` at event time `t` under: `key` itself, or its overflow group."""
        last = self.live.get(key)
        if last is not None:
            if t > last:
                self.live[key] = t
            return key
        if key[1] not in (OVERFLOW, UNKNOWN):
            if self.capped >= self.limits.max_shards_per_node:
                self.count_overflow("shard", f"{key[0]}:{key[1]}")
                return self.admit((key[0], OVERFLOW), t)
            self.capped += 1
        self.live[key] = t
        return key

    def adopt(self, key: Key, t: float) -> None:
        """A group restored from a checkpoint (the cap applies to new keys only)."""
        if key not in self.live:
            self.live[key] = t
            if key[1] not in (OVERFLOW, UNKNOWN):
                self.capped += 1

    def count_overflow(self, label: str, value: str, n: int = 1) -> None:
        first = label not in self.overflow
        self.overflow[label] += n
        if first:
            cap = self.limits.max_shards_per_node if label == "shard" else self.limits.max_label_values
            log.warning(
                "label values past the cap are counted in the overflow series",
                extra={
                    "node": self.node,
                    "label": label,
                    "value": value[:80],
                    "cap": cap,
                    "note": "later ones are only counted (tonex_series_overflow_total)",
                },
            )

    def idle(self, newest: float) -> list[Key]:
        """Keys whose newest data is older than the node's by the idle timeout, but the newest of each workchain."""
        cutoff = newest - self.limits.idle_timeout
        newest_of: dict[str, Key] = {}
        for key, t in self.live.items():
            kept = newest_of.get(key[0])
            if kept is None or t > self.live[kept]:
                newest_of[key[0]] = key
        keep = set(newest_of.values())
        return [key for key, t in self.live.items() if t < cutoff and key not in keep]

    def retire(self, key: Key, blocks: Counter[str]) -> None:
        """Forget `key`, keeping its block counts (RETIRED_KINDS) in the node's retired totals."""
        if self.live.pop(key, None) is None:
            return
        if key[1] not in (OVERFLOW, UNKNOWN):
            self.capped -= 1
        self.retired_groups += 1
        for kind, n in blocks.items():
            self.retired[(key[0], kind)] += n
        log.debug("idle group retired", extra={"node": self.node, "workchain": key[0], "shard": key[1]})

    def to_json(self) -> dict[str, object]:
        return {
            "live": [[wc, shard, t] for (wc, shard), t in self.live.items()],
            "overflow": dict(self.overflow),
            "retired": [[wc, kind, n] for (wc, kind), n in self.retired.items()],
            "retired_groups": self.retired_groups,
        }

    def restore(self, data: dict[str, object]) -> None:
        live, overflow, retired = data.get("live", []), data.get("overflow", {}), data.get("retired", [])
        if not isinstance(live, list) or not isinstance(overflow, dict) or not isinstance(retired, list):
            raise ValueError("series bounds of the wrong type")
        for wc, shard, t in live:
            self.adopt((str(wc), str(shard)), float(t))
        self.overflow.update({str(k): int(v) for k, v in overflow.items()})
        for wc, kind, n in retired:
            self.retired[(str(wc), str(kind))] += int(n)
        self.retired_groups += int(data.get("retired_groups", 0))  # type: ignore[call-overload]
