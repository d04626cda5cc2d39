"""What we measure from collated and validated blocks: one declarative table, read by the store and the collector.

Each `Measure` names a quantity, the row columns that feed it (one column, or one per value of extra labels),
and how it is exposed:

* `buckets`: a classic histogram `tonex_<name>_<unit>` (deliberate buckets, see the constants below);
* `counter`: a counter `tonex_<name>_<unit>_total` of the summed values;
* `categories`: a counter `tonex_<name>_blocks_total{category}` of rows per value;
* `window`: 60 s window gauges `tonex_window_<name>_<unit>{agg}` for the aggregations listed, plus
  `tonex_window_<name>_observations` (see event_clock.py for which window they show).

`sparse` measures read per-row mappings (time_stats actions, limit log kinds, neighbour message limits) instead
of fixed columns; their extra label takes the mapping's keys, which the parsers keep bounded.

time_stats actions are exposed as window gauges only, the catalogue's avg and max per window (COL-11, VAL-08):
the PerfLog of a row is parsed only when a scrape shows its window. Parsing every PerfLog as it is read would
double the cost of ingesting a row, for counters no chart needs.
"""

from dataclasses import dataclass, field
from typing import Literal

from ton_exporter.aggregation.buckets import LATENCY_BUCKETS
from ton_exporter.aggregation.columns import COLLATED_COLUMNS, VALIDATED_COLUMNS
from ton_exporter.parsers.session_stats import LIMIT_LOG_KINDS
from ton_exporter.parsers.work_time import COLLATION_STAGES, VALIDATION_STAGES

COLLATED = "collated"
VALIDATED = "validated"

AMMS = ("avg", "min", "max", "sum")
AMM = ("avg", "min", "max")
# Exact quantiles of the window's values (aggregation/quantiles.py), for the latencies per-node panels headline.
QUANTILE_AGGS = ("p50", "p95", "p99")
AMMSQ = AMMS + QUANTILE_AGGS

# Shard collations wait ~0.4 s for external messages; masterchain collations and validations take 1-10 ms.
TIME_BUCKETS = LATENCY_BUCKETS
# Blocks range from under 1 KiB (empty shard blocks) to the 2 MiB hard limit; powers of two resolve both ends.
BYTES_BUCKETS = tuple(float(2**i) for i in range(9, 23))
TRANSACTION_BUCKETS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0)
QUEUE_BUCKETS = (0.0, 1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0)
LOAD_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.5)

# crypto/block/block.h ParamLimits: cl_underload = 0 ... cl_hard = 4.
LIMIT_CATEGORIES = ("underload", "normal", "soft", "medium", "hard")
# validatorStats.blockLimitsStatus.overload_reason (upstream PR #2488, collator.cpp check_block_overload).
OVERLOAD_REASONS = ("none", "load", "out_msg_queue", "long_collation", "dispatch_queue")


# The per-row mappings a sparse measure reads (see above): time_stats actions, limit log kinds, neighbour limits.
Sparse = Literal["actions", "limit_log", "msg_limits"]


@dataclass(frozen=True)
class Measure:
    name: str
    unit: str
    help: str
    source: str
    columns: dict[tuple[str, ...], str] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    counter: bool = False
    categories: tuple[str, ...] | None = None
    window: tuple[str, ...] = ()
    sparse: Sparse | None = None

    @property
    def full_name(self) -> str:
        return f"{self.name}_{self.unit}" if self.unit else self.name


def _one(column: str) -> dict[tuple[str, ...], str]:
    return {(): column}


def _stage_columns(stages: tuple[str, ...], with_wait_externals: bool) -> dict[tuple[str, ...], str]:
    columns: dict[tuple[str, ...], str] = {}
    for clock in ("real", "cpu"):
        for stage in (*stages, "other"):
            columns[(stage, clock)] = f"{clock}.{stage}"
    if with_wait_externals:
        columns[("wait_externals", "real")] = "wait_externals_time"
    columns[("other_wait", "real")] = "other_wait_time"
    return columns


def _ssc(kind: str) -> dict[tuple[str, ...], str]:
    return {(k,): f"ssc.{k}_{kind}" for k in ("small", "hit", "miss")}


C, V = COLLATED, VALIDATED

MEASURES: tuple[Measure, ...] = (
    # --- collation times (COL-07..10)
    Measure(
        "collation_total",
        "seconds",
        "Collation query wall time, waits included (total_time).",
        C,
        _one("total_time"),
        buckets=TIME_BUCKETS,
        window=AMMSQ,
    ),
    Measure(
        "collation_work",
        "seconds",
        "Collation work wall time (work_time).",
        C,
        _one("work_time"),
        buckets=TIME_BUCKETS,
        window=AMMSQ,
    ),
    Measure(
        "collation_cpu_work",
        "seconds",
        "Collation work CPU time (cpu_work_time).",
        C,
        _one("cpu_work_time"),
        buckets=TIME_BUCKETS,
        window=AMMSQ,
    ),
    Measure(
        "collation_wait_externals",
        "seconds",
        "Time a collation waited for external messages.",
        C,
        _one("wait_externals_time"),
        buckets=TIME_BUCKETS,
        window=AMMSQ,
    ),
    Measure(
        "collation_check_load",
        "seconds",
        "Check-load times of a collation; rows where they were not measured (-1) are skipped.",
        C,
        {("do_collate",): "check_load_do_collate_time", ("total",): "check_load_total_time"},
        labels=("phase",),
        window=("avg", "max"),
    ),
    # --- stacked stage times (COL-01..06) and PerfLog actions (COL-11)
    Measure(
        "collation_stage",
        "seconds",
        "Collation time per stage: work stages and `other` from work_time_{real,cpu}_stats, plus the waits "
        "(wait_externals, other_wait) that make the real stack add up to total_time.",
        C,
        _stage_columns(COLLATION_STAGES, with_wait_externals=True),
        labels=("stage", "clock"),
        counter=True,
        window=("avg", "max", "sum"),
    ),
    Measure(
        "collation_action",
        "seconds",
        "Collation time_stats durations summed per action name per block (numbers in names become N).",
        C,
        labels=("action",),
        window=("avg", "max", "sum"),
        sparse="actions",
    ),
    # --- block (BLK-01..10)
    Measure(
        "collation_block", "bytes", "Size of collated blocks.", C, _one("bytes"), buckets=BYTES_BUCKETS, window=AMMS
    ),
    Measure(
        "collation_collated_data",
        "bytes",
        "Size of the collated data of collated blocks.",
        C,
        _one("collated_data_bytes"),
        buckets=BYTES_BUCKETS,
        window=AMMS,
    ),
    Measure(
        "collation_estimated_block",
        "bytes",
        "Collator's block size estimate (block_limits.bytes).",
        C,
        _one("limits.bytes"),
        window=AMM,
    ),
    Measure(
        "collation_estimated_collated_data",
        "bytes",
        "Collator's collated data size estimate (block_limits.collated_data_bytes).",
        C,
        _one("limits.collated_data_bytes"),
        window=AMM,
    ),
    Measure(
        "collation_block_transactions",
        "",
        "Transactions per collated block.",
        C,
        _one("transactions"),
        buckets=TRANSACTION_BUCKETS,
    ),
    Measure(
        "collated_transactions",
        "",
        "Transactions in collated blocks.",
        C,
        _one("transactions"),
        counter=True,
        window=AMMS,
    ),
    Measure(
        "collation_shards",
        "",
        "Shards in the shard configuration of collated masterchain blocks.",
        C,
        _one("shards"),
        window=("avg", "max"),
    ),
    Measure(
        "collation_gas",
        "",
        "Gas used by collated blocks (block_limits.gas).",
        C,
        _one("limits.gas"),
        counter=True,
        window=("avg", "max", "sum"),
    ),
    Measure(
        "collation_lt_delta",
        "",
        "Logical time delta of collated blocks (block_limits.lt_delta).",
        C,
        _one("limits.lt_delta"),
        window=("avg", "max"),
    ),
    Measure(
        "collation_limit_category",
        "",
        "Block limit category of collated blocks: 0 underload, 1 normal, 2 soft, 3 medium, 4 hard.",
        C,
        {(k,): f"limits.cat_{k}" for k in ("bytes", "gas", "lt_delta", "collated_data_bytes")},
        labels=("limit",),
        categories=LIMIT_CATEGORIES,
        window=("avg", "max"),
    ),
    # --- upstream's next format (PR #2488): absent from today's records, so these have no series on them
    Measure(
        "collation_overload_reason",
        "",
        "Collated blocks by why they set the overload bit (block_limits.overload_reason): none, load (a limit "
        "reached soft), out_msg_queue (force split), long_collation, dispatch_queue; other for an unknown code.",
        C,
        _one("limits.overload_reason"),
        categories=OVERLOAD_REASONS,
    ),
    Measure(
        "collation_split_wanted",
        "blocks",
        "Collated blocks whose collator decided want_split (block_limits.want_split).",
        C,
        _one("limits.want_split"),
        counter=True,
        window=("sum",),
    ),
    Measure(
        "collation_peak_limit_class",
        "",
        "Running-max block limit class of collated blocks (block_limits.peak_block_limit_class): 0 underload, "
        "1 normal, 2 soft, 3 medium, 4 hard.",
        C,
        _one("limits.peak_class"),
        categories=LIMIT_CATEGORIES,
        window=("avg", "max"),
    ),
    Measure(
        "collation_limit_hits",
        "",
        "Lines of block_limits.limits_log, by the limit that stopped a stage.",
        C,
        labels=("kind",),
        counter=True,
        window=("sum",),
        sparse="limit_log",
    ),
    Measure(
        "collation_retries",
        "",
        "Collations that succeeded on a retry (attempt > 0).",
        C,
        _one("retry"),
        counter=True,
        window=("sum",),
    ),
    # --- external messages (THR-06)
    Measure(
        "collation_ext_messages",
        "",
        "External messages seen by collations, by outcome.",
        C,
        {(k,): f"ext_msgs.{k}" for k in ("total", "filtered", "accepted", "rejected")},
        labels=("kind",),
        counter=True,
        window=AMMS,
    ),
    # --- queues (QUE-01..09)
    Measure(
        "collation_out_queue",
        "messages",
        "Outbound message queue size after the block.",
        C,
        _one("queue.new_size"),
        buckets=QUEUE_BUCKETS,
        window=AMM,
    ),
    Measure(
        "collation_out_queue_growth",
        "messages",
        "Outbound message queue growth per block.",
        C,
        _one("queue.growth"),
        window=AMM,
    ),
    Measure(
        "collation_out_queue_cleaned",
        "messages",
        "Messages cleaned from the outbound queue.",
        C,
        _one("queue.cleaned"),
        counter=True,
        window=AMMS,
    ),
    Measure(
        "collation_neighbor_processed",
        "messages",
        "Messages processed from neighbour queues per block.",
        C,
        _one("neighbors.processed"),
        counter=True,
        window=AMMS,
    ),
    Measure(
        "collation_neighbor_skipped",
        "messages",
        "Messages skipped from neighbour queues per block.",
        C,
        _one("neighbors.skipped"),
        counter=True,
        window=AMMS,
    ),
    Measure(
        "collation_neighbor_max_processed",
        "messages",
        "Most messages processed from a single neighbour queue in a block.",
        C,
        _one("neighbors.max_processed"),
        window=AMM,
    ),
    Measure(
        "collation_neighbor_limit_reached_blocks",
        "",
        "Collated blocks where some neighbour queue hit its message limit (window avg = fraction).",
        C,
        _one("neighbors.limit_reached"),
        counter=True,
        window=("avg", "sum"),
    ),
    Measure(
        "collation_neighbor_msg_limit",
        "messages",
        "Message limits applied to neighbour queues (-1, no limit, is skipped).",
        C,
        window=AMM,
        sparse="msg_limits",
    ),
    Measure(
        "collation_load",
        "ratio",
        "Collation load fractions; -1 (not measured) is skipped.",
        C,
        {(k,): f"load.{k}" for k in ("queue_cleanup", "dispatch", "internals", "externals", "new_msgs")},
        labels=("fraction",),
        buckets=LOAD_BUCKETS,
        window=("avg", "max"),
    ),
    # --- storage stat cache (SSC-01, 02)
    Measure(
        "collation_storage_stat_cache_entries",
        "",
        "Storage stat cache lookups of collations, by kind.",
        C,
        _ssc("cnt"),
        labels=("kind",),
        counter=True,
        window=("avg", "sum"),
    ),
    Measure(
        "collation_storage_stat_cache_cells",
        "",
        "Storage stat cache cells of collations, by kind.",
        C,
        _ssc("cells"),
        labels=("kind",),
        counter=True,
        window=("avg", "sum"),
    ),
    # --- validation (VAL-01..08)
    Measure(
        "validation_total",
        "seconds",
        "Validation query wall time, waits included (total_time).",
        V,
        _one("total_time"),
        buckets=TIME_BUCKETS,
        window=AMMSQ,
    ),
    Measure(
        "validation_work",
        "seconds",
        "Validation work wall time (work_time).",
        V,
        _one("work_time"),
        buckets=TIME_BUCKETS,
        window=AMMSQ,
    ),
    Measure(
        "validation_actual",
        "seconds",
        "Validation actual work time (actual_time; work_time where it is 0).",
        V,
        _one("actual_time"),
        buckets=TIME_BUCKETS,
        window=AMMSQ,
    ),
    Measure(
        "validation_actual_by_mode",
        "seconds",
        "Validation actual work time by account validation mode (parallel_accounts_validation).",
        V,
        {("parallel",): "actual_time.parallel", ("singlethread",): "actual_time.singlethread"},
        labels=("mode",),
        window=("avg", "max"),
    ),
    Measure(
        "validation_cpu_work",
        "seconds",
        "Validation work CPU time (cpu_work_time).",
        V,
        _one("cpu_work_time"),
        buckets=TIME_BUCKETS,
        window=AMMSQ,
    ),
    Measure(
        "validation_stage",
        "seconds",
        "Validation time per stage: work stages and `other` from work_time_{real,cpu}_stats, plus "
        "other_wait (total_time - work_time).",
        V,
        _stage_columns(VALIDATION_STAGES, with_wait_externals=False),
        labels=("stage", "clock"),
        counter=True,
        window=("avg", "max", "sum"),
    ),
    Measure(
        "validation_action",
        "seconds",
        "Validation time_stats durations summed per action name per block (numbers in names become N).",
        V,
        labels=("action",),
        window=("avg", "max", "sum"),
        sparse="actions",
    ),
    Measure(
        "validation_block", "bytes", "Size of validated blocks.", V, _one("bytes"), buckets=BYTES_BUCKETS, window=AMMS
    ),
    Measure(
        "validation_collated_data",
        "bytes",
        "Size of the collated data of validated blocks.",
        V,
        _one("collated_data_bytes"),
        buckets=BYTES_BUCKETS,
        window=AMMS,
    ),
    Measure(
        "validation_storage_stat_cache_entries",
        "",
        "Storage stat cache lookups of validations, by kind.",
        V,
        _ssc("cnt"),
        labels=("kind",),
        counter=True,
        window=("avg", "sum"),
    ),
    Measure(
        "validation_storage_stat_cache_cells",
        "",
        "Storage stat cache cells of validations, by kind.",
        V,
        _ssc("cells"),
        labels=("kind",),
        counter=True,
        window=("avg", "sum"),
    ),
)

SPARSE_KEYS: dict[str, tuple[str, ...] | None] = {
    "actions": None,  # bounded by action_name()'s normalisation
    "limit_log": LIMIT_LOG_KINDS,
    "msg_limits": None,
}

COLUMNS_BY_SOURCE: dict[str, tuple[str, ...]] = {COLLATED: COLLATED_COLUMNS, VALIDATED: VALIDATED_COLUMNS}


def measures_of(source: str) -> tuple[Measure, ...]:
    return tuple(m for m in MEASURES if m.source == source)


def _check() -> None:
    for m in MEASURES:
        known = COLUMNS_BY_SOURCE[m.source]
        for key, column in m.columns.items():
            assert column in known, f"{m.name}: unknown column {column}"
            assert len(key) == len(m.labels), f"{m.name}: label values {key} vs {m.labels}"


_check()
