"""Everything aggregated for one node: its block groups, its consensus counts, its text logs and its event clock.

The (workchain, shard) groups of the stores are admitted, capped and retired by the node's `SeriesBounds`
(series_bounds.py): a group idle for the idle timeout leaves all stores at once, its block counts kept in the
retired totals. A node that has read nothing for the idle timeout (wall time) is `idle`: its series leave
/metrics, its state stays, and they come back, continuing, with its next line.
"""

import math
from collections import Counter
from typing import Any

from ton_exporter.aggregation.block_groups import LAYOUTS, BlockGroup
from ton_exporter.aggregation.consensus import ConsensusState
from ton_exporter.aggregation.event_clock import WINDOW_SECONDS, EventClock, window_start
from ton_exporter.aggregation.limits import DEFAULT_LIMITS, Limits
from ton_exporter.aggregation.measures import COLLATED, VALIDATED
from ton_exporter.aggregation.network import NetworkConsensus
from ton_exporter.aggregation.series_bounds import SeriesBounds
from ton_exporter.aggregation.text_log import TextLogState
from ton_exporter.parsers.session_stats import BlockRow


class NodeState:
    def __init__(
        self,
        name: str,
        run: str,
        clock: EventClock,
        network: NetworkConsensus | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.name = name
        self.run = run
        self.clock = clock
        self.limits = limits
        self.bounds = SeriesBounds(name, limits)
        self.blocks: dict[str, dict[tuple[str, str], BlockGroup]] = {COLLATED: {}, VALIDATED: {}}
        self.consensus = ConsensusState(network, self.bounds)
        self.text_log = TextLogState(self.bounds)
        self.late_records = 0
        self.last_active = clock.wall()  # wall time of the last line read from any of the node's files
        self._pruned_before: int | None = None

    def add_block(self, source: str, row: BlockRow, oldest_window: int | None) -> None:
        groups = self.blocks[source]
        key = self.bounds.admit((row.workchain, row.shard), row.time)
        group = groups.get(key)
        if group is None:
            group = groups[key] = BlockGroup(LAYOUTS[source])
        window = int(row.time // 60) * 60
        if oldest_window is not None and window < oldest_window:
            self.late_records += 1
            group.add(row, None)
        else:
            group.add(row, window)

    def complete_window(self) -> int | None:
        """The newest window no line can change: complete by the event clock, with every slot in it retired."""
        window = self.clock.complete_window()
        open_since = self.consensus.earliest_open()
        if window is not None and open_since is not None:
            window = min(window, window_start(open_since) - WINDOW_SECONDS)
        return window

    def touch(self) -> None:
        """A line was read from one of the node's files."""
        self.last_active = self.clock.wall()

    def idle(self) -> bool:
        return self.clock.wall() - self.last_active > self.limits.idle_timeout

    def end_batch(self, newest_event: float) -> None:
        """After a batch of lines: advance the event clock, forget windows no gauge will show again, retire idle
        groups."""
        self.touch()
        if newest_event > -math.inf:
            self.clock.observe(newest_event)
            self.consensus.retire(self.clock.now())
            self.retire_idle_groups()
        oldest = self.complete_window()
        if oldest is not None and oldest != self._pruned_before:
            self._pruned_before = oldest
            for groups in self.blocks.values():
                for group in groups.values():
                    group.prune(oldest)
            self.consensus.prune(oldest)

    def flush(self) -> None:
        """Bring everything up to date for a scrape or a checkpoint."""
        for groups in self.blocks.values():
            for group in groups.values():
                group.flush()
        if self.clock.newest > -math.inf:
            self.consensus.retire(self.clock.now())
            self.retire_idle_groups()

    def retire_idle_groups(self) -> None:
        """Groups the node's data has left behind by the idle timeout leave every store (series_bounds.py)."""
        for key in self.bounds.idle(self.clock.newest):
            if self.consensus.in_use(key):
                continue  # a session still counts into it: it retires once the session's slots have
            blocks: Counter[str] = Counter()
            collated = self.blocks[COLLATED].pop(key, None)
            if collated is not None:
                collated.flush()
                blocks["collated"] = collated.rows
            validated = self.blocks[VALIDATED].pop(key, None)
            if validated is not None:
                validated.flush()
                invalid = int(validated.sum["invalid"])
                blocks["validated"] = validated.rows - invalid
                blocks["invalid"] = invalid
            group = self.consensus.groups.pop(key, None)
            if group is not None:
                blocks["accepted"] = group.counts["accepted"]
            self.bounds.retire(key, blocks)

    def to_json(self) -> dict[str, object]:
        """Cumulative state for a checkpoint (flushed first); rows kept for windows are not part of it."""
        self.flush()
        return {
            "newest_event": self.clock.newest if self.clock.newest > -math.inf else None,
            "late_records": self.late_records,
            "blocks": {
                source: [{"workchain": wc, "shard": shard, **g.to_json()} for (wc, shard), g in groups.items()]
                for source, groups in self.blocks.items()
            },
            "consensus": self.consensus.to_json(),
            "text_log": self.text_log.to_json(),
            "bounds": self.bounds.to_json(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        newest = data.get("newest_event")
        if newest is not None:
            self.clock.observe(float(newest))
        self.late_records = int(data["late_records"])
        self.bounds.restore(data.get("bounds", {}))  # absent in checkpoints written before groups retired
        for source, groups in data["blocks"].items():
            for entry in groups:
                key = (str(entry["workchain"]), str(entry["shard"]))
                group = self.blocks[source].setdefault(key, BlockGroup(LAYOUTS[source]))
                group.restore(entry)
        self.consensus.restore(data["consensus"])
        if "text_log" in data:  # absent in checkpoints written before text logs were read
            self.text_log.restore(data["text_log"])
        since = newest if newest is not None else -math.inf
        for key in (*self.blocks[COLLATED], *self.blocks[VALIDATED], *self.consensus.groups):
            self.bounds.adopt(key, float(since))
