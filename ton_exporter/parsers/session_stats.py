"""`validatorStats.collatedBlock` and `validatorStats.validatedBlock` rows as fixed-width tuples of numbers.

The columns are named in `COLLATED_COLUMNS` / `VALIDATED_COLUMNS`; the aggregation layer refers to them by name.
Encoding rules (ton-formats.md §0, §2): int64 values arrive as strings, -1.0 means "not measured" and becomes NaN,
a key missing in an older release becomes NaN (absent, never zero). Aggregation skips NaN.

A row without its identity (block id, event time, total times) raises `RecordError("missing_field")`; a value of
the wrong JSON type raises `RecordError("bad_field")`. Either way the line is rejected as a whole and counted.
"""

import math
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple

from ton_exporter.parsers.perflog import action_durations
from ton_exporter.parsers.work_time import COLLATION, VALIDATION, WorkTimeFormat

NAN = math.nan
_EMPTY: dict[str, Any] = {}


class RecordError(Exception):
    """A record that cannot be used. `reason` is a bounded label value for the rejects counter."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _stage_columns(prefix: str, fmt: WorkTimeFormat) -> tuple[str, ...]:
    return tuple(f"{prefix}.{name}" for name in (*fmt.stages, "other"))


_SSC = ("ssc.small_cnt", "ssc.small_cells", "ssc.hit_cnt", "ssc.hit_cells", "ssc.miss_cnt", "ssc.miss_cells")
_SSC_KEYS = tuple(name.removeprefix("ssc.") for name in _SSC)

COLLATED_COLUMNS: tuple[str, ...] = (
    "total_time",
    "work_time",
    "cpu_work_time",
    "wait_externals_time",
    "other_wait_time",
    "check_load_do_collate_time",
    "check_load_total_time",
    "bytes",
    "collated_data_bytes",
    "retry",
    "limits.bytes",
    "limits.gas",
    "limits.lt_delta",
    "limits.collated_data_bytes",
    "limits.cat_bytes",
    "limits.cat_gas",
    "limits.cat_lt_delta",
    "limits.cat_collated_data_bytes",
    "load.queue_cleanup",
    "load.dispatch",
    "load.internals",
    "load.externals",
    "load.new_msgs",
    "ext_msgs.total",
    "ext_msgs.filtered",
    "ext_msgs.accepted",
    "ext_msgs.rejected",
    "transactions",
    "shards",
    "queue.old_size",
    "queue.new_size",
    "queue.growth",
    "queue.cleaned",
    "neighbors.processed",
    "neighbors.skipped",
    "neighbors.limit_reached",
    "neighbors.max_processed",
    *_SSC,
    *_stage_columns("real", COLLATION),
    *_stage_columns("cpu", COLLATION),
)

VALIDATED_COLUMNS: tuple[str, ...] = (
    "total_time",
    "work_time",
    "actual_time",
    "cpu_work_time",
    "other_wait_time",
    "actual_time.parallel",
    "actual_time.singlethread",
    "invalid",
    "bytes",
    "collated_data_bytes",
    *_SSC,
    *_stage_columns("real", VALIDATION),
    *_stage_columns("cpu", VALIDATION),
)

LIMIT_LOG_KINDS: tuple[str, ...] = (
    "INBOUND_EXT_MESSAGES",
    "INBOUND_INT_MESSAGES",
    "NEW_MESSAGES",
    "DISPATCH_QUEUE_STAGE",
    "other",
)


class BlockRow(NamedTuple):
    """One collated or validated block, as the aggregation layer consumes it."""

    time: float
    workchain: str
    shard: str
    values: tuple[float, ...]
    actions: dict[str, float]
    msg_limits: list[float]
    limit_log: list[str]


@lru_cache(maxsize=1024)
def shard_hex(shard: object) -> str:
    """TON prints a shard as `%016X` of its unsigned 64-bit value: `-9223372036854775808` -> `8000000000000000`."""
    if isinstance(shard, bool) or not isinstance(shard, int | str):
        raise RecordError("bad_field", f"shard {shard!r}")
    try:
        return f"{int(shard) & 0xFFFFFFFFFFFFFFFF:016X}"
    except ValueError:
        raise RecordError("bad_field", f"shard {shard!r}") from None


@lru_cache(maxsize=64)
def workchain_label(workchain: object) -> str:
    if type(workchain) is not int:
        raise RecordError("bad_field", f"workchain {workchain!r}")
    return str(workchain)


def event_time(value: object, field: str) -> float:
    if type(value) is not float and type(value) is not int:
        raise RecordError("bad_field", f"{field} {value!r}")
    t = float(value)
    if not math.isfinite(t) or t <= 0:
        raise RecordError("bad_field", f"{field} {value!r}")
    return t


def _i64(value: object) -> float:
    """TL `long` arrives as a decimal string; older writers or hand-made files may use a plain number."""
    if value is None:
        return NAN
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise RecordError("bad_field", f"int64 {value[:40]!r}") from None
    return value  # type: ignore[return-value]  # checked with the rest of the row by _checked()


def _measured(value: float) -> float:
    """-1.0 (any negative) means "not measured"."""
    return value if value >= 0 else NAN


def _checked(values: tuple[Any, ...], record: str) -> tuple[float, ...]:
    try:
        sum(values)
    except TypeError:
        bad = next(v for v in values if not isinstance(v, int | float))
        raise RecordError("bad_field", f"{record}: non-numeric value {bad!r:.60}") from None
    return values


def _block_identity(record: dict[str, Any], time_field: str) -> tuple[float, str, str]:
    try:
        block_id = record["block_id"]
        workchain, shard = block_id["workchain"], block_id["shard"]
        t = record[time_field]
    except (KeyError, TypeError) as e:
        raise RecordError("missing_field", f"block_id or {time_field}: {e}") from None
    return event_time(t, time_field), workchain_label(workchain), shard_hex(shard)


def _required(record: dict[str, Any], *names: str) -> tuple[Any, ...]:
    try:
        return tuple(record[name] for name in names)
    except KeyError as e:
        raise RecordError("missing_field", str(e)) from None


def _actions(value: object) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, str):
        raise RecordError("bad_field", "time_stats is not a string")
    return action_durations(value)


def _work_time(fmt: WorkTimeFormat, value: object) -> tuple[float, ...]:
    try:
        return fmt.parse(value)
    except ValueError as e:
        raise RecordError("bad_field", f"work time stats: {e}") from None


_ssc_values = itemgetter(*_SSC_KEYS)
_SSC_ABSENT = (NAN,) * len(_SSC_KEYS)


def _storage_stat_cache(record: dict[str, Any]) -> tuple[float, ...]:
    ssc = record.get("storage_stat_cache")
    if ssc is None:
        return _SSC_ABSENT
    try:
        return tuple(map(int, _ssc_values(ssc)))  # all six int64 strings: the usual case, converted in C
    except (KeyError, TypeError, ValueError):
        return tuple(_i64(ssc.get(key)) for key in _SSC_KEYS)


def _neighbors(block_stats: dict[str, Any]) -> tuple[tuple[float, float, float, float], list[float]]:
    processed = skipped = 0
    limit_reached = 0.0
    most = NAN
    limits: list[float] = []
    for n in block_stats.get("neighbors") or ():
        p = n.get("processed_msgs", 0)
        processed += p
        skipped += n.get("skipped_msgs", 0)
        if n.get("limit_reached"):
            limit_reached = 1.0
        if not p <= most:  # also true while `most` is NaN
            most = p
        msg_limit = n.get("msg_limit", -1)
        if msg_limit >= 0:
            limits.append(msg_limit)
    return (processed, skipped, limit_reached, most), limits


def _limit_log(text: object) -> list[str]:
    if not text:
        return []
    if not isinstance(text, str):
        raise RecordError("bad_field", "limits_log is not a string")
    kinds = []
    for line in text.splitlines():
        if line:
            prefix = line.split(":", 1)[0].strip()
            if prefix.startswith("DISPATCH_QUEUE_STAGE"):
                prefix = "DISPATCH_QUEUE_STAGE"
            kinds.append(prefix if prefix in LIMIT_LOG_KINDS else "other")
    return kinds


def collated_row(record: dict[str, Any]) -> BlockRow:
    t, workchain, shard = _block_identity(record, "collated_at")
    total, work, cpu = _required(record, "total_time", "work_time", "cpu_work_time")
    get = record.get
    wait_ext = get("wait_externals_time", NAN)
    limits = get("block_limits") or _EMPTY
    stats = get("block_stats") or _EMPTY
    ext = stats.get("ext_msgs") or _EMPTY
    try:
        lim = limits.get
        old_queue = _i64(stats.get("old_out_msg_queue_size"))
        new_queue = _i64(stats.get("new_out_msg_queue_size"))
        shards = len(stats["shard_configuration"]) if workchain == "-1" and "shard_configuration" in stats else NAN
        neighbor_values, msg_limits = _neighbors(stats)
        other_wait = round(total - work - (wait_ext if wait_ext == wait_ext else 0.0), 6)
        values = (
            total,
            work,
            cpu,
            wait_ext,
            other_wait if other_wait > 0 else 0.0,
            _measured(get("check_load_do_collate_time", NAN)),
            _measured(get("check_load_total_time", NAN)),
            get("bytes", NAN),
            get("collated_data_bytes", NAN),
            1 if get("attempt", 0) > 0 else 0,
            lim("bytes", NAN),
            lim("gas", NAN),
            lim("lt_delta", NAN),
            lim("collated_data_bytes", NAN),
            lim("cat_bytes", NAN),
            lim("cat_gas", NAN),
            lim("cat_lt_delta", NAN),
            lim("cat_collated_data_bytes", NAN),
            _measured(lim("load_fraction_queue_cleanup", NAN)),
            _measured(lim("load_fraction_dispatch", NAN)),
            _measured(lim("load_fraction_internals", NAN)),
            _measured(lim("load_fraction_externals", NAN)),
            _measured(lim("load_fraction_new_msgs", NAN)),
            ext.get("ext_msgs_total", NAN),
            ext.get("ext_msgs_filtered", NAN),
            ext.get("ext_msgs_accepted", NAN),
            ext.get("ext_msgs_rejected", NAN),
            stats.get("transactions", NAN),
            shards,
            old_queue,
            new_queue,
            new_queue - old_queue,
            stats.get("msg_queue_cleaned", NAN),
            *neighbor_values,
            *_storage_stat_cache(record),
            *_work_time(COLLATION, get("work_time_real_stats")),
            *_work_time(COLLATION, get("work_time_cpu_stats")),
        )
        limit_log = _limit_log(limits.get("limits_log"))
    except (TypeError, AttributeError) as e:
        raise RecordError("bad_field", f"collatedBlock: {e}") from None
    return BlockRow(
        t,
        workchain,
        shard,
        _checked(values, "collatedBlock"),
        _actions(get("time_stats")),
        msg_limits,
        limit_log,
    )


def validated_row(record: dict[str, Any]) -> BlockRow:
    t, workchain, shard = _block_identity(record, "validated_at")
    total, work, cpu, valid = _required(record, "total_time", "work_time", "cpu_work_time", "valid")
    if type(valid) is not bool:
        raise RecordError("bad_field", f"valid {valid!r:.40}")
    get = record.get
    try:
        actual = get("actual_time", NAN)
        if actual == 0:  # ton-formats.md §3.4: use work_time when actual_time is 0
            actual = work
        parallel = get("parallel_accounts_validation") is True
        other_wait = round(total - work, 6)
        values = (
            total,
            work,
            actual,
            cpu,
            other_wait if other_wait > 0 else 0.0,
            actual if parallel else NAN,
            NAN if parallel else actual,
            0 if valid else 1,
            get("bytes", NAN),
            get("collated_data_bytes", NAN),
            *_storage_stat_cache(record),
            *_work_time(VALIDATION, get("work_time_real_stats")),
            *_work_time(VALIDATION, get("work_time_cpu_stats")),
        )
    except (TypeError, AttributeError) as e:
        raise RecordError("bad_field", f"validatedBlock: {e}") from None
    return BlockRow(t, workchain, shard, _checked(values, "validatedBlock"), _actions(get("time_stats")), [], [])
