"""The bounds on label values that come from the data (docs/series-bounds.md), in one small typed model.

`serve` fills it from its `--limits.*` flags; a configuration file can fill the same fields. Defaults:

* workchains -1 and 0: the masterchain and the basechain, the only ones any TON network runs;
* shard depth 8 (256 shards per workchain): TON's format allows prefixes of up to 60 bits, but networks split a
  workchain into a handful of shards (a 4-bit prefix, 16 shards, is the most reported so far); 8 leaves room
  and still rejects the random 64-bit value a corrupt line carries (depth ~63);
* 32 (workchain, shard) groups per node: the masterchain and a basechain of 16 shards, plus the parents or
  children of a wave of splits or merges younger than the idle timeout. A group costs ~580 series and ~5 ms of
  scrape (docs/series-bounds.md, measured), so 32 groups are ~19,000 series and ~160 ms; set 16 for < 100 ms;
* 256 values per node of each other label taken from the data (a text log's component, a time_stats action, a
  consensus validator index): a build logs from about a hundred source files;
* 10 minutes idle before a group or node leaves /metrics: well above a scrape interval (15 s), the window
  gauges' reach (60 s + lateness) and the 5 m ranges of the recording rules, so its last value has been scraped
  and `increase()` has seen every count before the series goes.
"""

from dataclasses import dataclass, field

from ton_exporter.parsers.shard_ids import TON_MAX_DEPTH, ShardRules

DEFAULT_WORKCHAINS = (-1, 0)
DEFAULT_MAX_SHARD_DEPTH = 8
DEFAULT_MAX_SHARDS_PER_NODE = 32
DEFAULT_MAX_LABEL_VALUES = 256
DEFAULT_IDLE_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class Limits:
    workchains: tuple[int, ...] = DEFAULT_WORKCHAINS
    max_shard_depth: int = DEFAULT_MAX_SHARD_DEPTH
    max_shards_per_node: int = DEFAULT_MAX_SHARDS_PER_NODE
    max_label_values: int = DEFAULT_MAX_LABEL_VALUES
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS
    rules: ShardRules = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.workchains:
            raise ValueError("at least one workchain must be allowed")
        if not 0 <= self.max_shard_depth <= TON_MAX_DEPTH:
            raise ValueError(f"max shard depth must be within 0..{TON_MAX_DEPTH}")
        if self.max_shards_per_node < 1 or self.max_label_values < 1:
            raise ValueError("caps must be at least 1")
        if not self.idle_timeout > 0:
            raise ValueError("the idle timeout must be positive")
        object.__setattr__(self, "rules", ShardRules(self.workchains, self.max_shard_depth))


DEFAULT_LIMITS = Limits()
