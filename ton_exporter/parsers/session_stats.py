"""`validatorStats.collatedBlock` and `validatorStats.validatedBlock` records as `BlockRow`s.

A row keeps the record's numbers as one flat tuple (`COLLATED_RAW` / `VALIDATED_RAW` name its positions), read
with C-level operations (`itemgetter`), and its embedded strings (the two work times, time_stats) as they are:
they are parsed in bulk, and values derived from several fields computed column by column, when rows are
aggregated (aggregation/columns.py). A malformed embedded string costs only its own values: they become NaN, and
the `FieldErrorSink` of the row's origin hears about it.

Encoding rules (ton-formats.md §0, §2): int64 values arrive as strings; a key missing in an older release becomes
NaN (absent, never zero); the -1.0 "not measured" sentinels are kept here and skipped by the aggregation.

A row without its identity (block id, event time, total times) raises `RecordError("missing_field")`; a value of
the wrong JSON type raises `RecordError("bad_field")`; a workchain or shard id that may not become a label value
raises `bad_workchain` or `bad_shard` (shard_ids.py). Either way the line is rejected as a whole and counted.

Each kind has two readers: a fast one for records of the current engine's exact shape (a handful of C-level
calls, no per-field Python code), and a general one for anything else (older releases, missing keys, malformed
values), which also says what is wrong. Any surprise in the fast reader hands the record to the general one;
tests check that both agree on every real line.
"""

import math
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple, Protocol

from ton_exporter.parsers.errors import RecordError
from ton_exporter.parsers.shard_ids import DEFAULT_RULES, ShardRules
from ton_exporter.parsers.work_time import COLLATION, VALIDATION, WorkTimeFormat

NAN = math.nan
_EMPTY: dict[str, Any] = {}


class BlockRow(NamedTuple):
    """One collated or validated block, as the aggregation layer consumes it."""

    time: float
    workchain: str
    shard: str
    values: tuple[float, ...]
    work_real: object  # work_time_real_stats: the string as read, or already parsed (a tuple)
    work_cpu: object
    perflog: str | None  # time_stats, parsed only for the windows that are shown (aggregation/block_groups.py)
    msg_limits: Sequence[float]
    limit_log: Sequence[str]
    origin: "tuple[FieldErrorSink, int] | None"  # where the line was, for messages about its embedded strings
    seqno: object = None  # block_id.seqno as read: names the block in the histograms' exemplars, never a label


class FieldErrorSink(Protocol):
    def field_error(self, field: str, offset: int, detail: str) -> None: ...


EMBEDDED_FIELDS = ("work_time_real_stats", "work_time_cpu_stats", "time_stats")


class _Fields:
    """Reads a fixed set of keys of one JSON object in a single C call; older records missing some keys get NaN."""

    def __init__(self, *keys: str, convert: Callable[[Any], float] | None = None) -> None:
        self.keys = keys
        self._get = itemgetter(*keys)
        self._convert = convert

    def __call__(self, obj: dict[str, Any]) -> tuple[Any, ...]:
        try:
            values = self._get(obj)
        except KeyError:
            values = tuple(obj.get(k, NAN) for k in self.keys)
        except TypeError:
            raise RecordError("bad_field", f"expected an object with {self.keys[0]}, ...") from None
        if self._convert is None:
            return values  # type: ignore[no-any-return]
        try:
            return tuple(map(self._convert, values))
        except (ValueError, TypeError):
            raise RecordError("bad_field", f"int64 value in {self.keys}") from None


def _int64(value: Any) -> float:
    """TL `long` arrives as a decimal string; NaN stands for a missing key."""
    return value if value != value else int(value)


_COLLATED_TOP = _Fields(
    "total_time",
    "work_time",
    "cpu_work_time",
    "wait_externals_time",
    "check_load_do_collate_time",
    "check_load_total_time",
    "bytes",
    "collated_data_bytes",
    "attempt",
)
_LIMITS = _Fields(
    "bytes",
    "gas",
    "lt_delta",
    "collated_data_bytes",
    "cat_bytes",
    "cat_gas",
    "cat_lt_delta",
    "cat_collated_data_bytes",
    "load_fraction_queue_cleanup",
    "load_fraction_dispatch",
    "load_fraction_internals",
    "load_fraction_externals",
    "load_fraction_new_msgs",
)
# Upstream's next format (ton-blockchain/ton PR #2488, af2f4ed5/2ec8ecff, unmerged in July 2026) appends these to
# blockLimitsStatus: why the block set its overload bit (0 none, 1 load, 2 out-msg-queue force split, 3 long
# collation, 4 dispatch queue), the collator's final want_split (a JSON bool) and the running-max block limit
# class. Today's records lack them: NaN, no value, so the real data gives the same figures as before.
_LIMITS_NEXT = _Fields("overload_reason", "want_split", "peak_block_limit_class")
_EXT = _Fields("ext_msgs_total", "ext_msgs_filtered", "ext_msgs_accepted", "ext_msgs_rejected")
_BLOCK_STATS = _Fields("transactions", "msg_queue_cleaned")
_QUEUES = _Fields("old_out_msg_queue_size", "new_out_msg_queue_size", convert=_int64)
_SSC = _Fields("small_cnt", "small_cells", "hit_cnt", "hit_cells", "miss_cnt", "miss_cells", convert=_int64)
_VALIDATED_TOP = _Fields("total_time", "work_time", "actual_time", "cpu_work_time", "bytes", "collated_data_bytes")

COLLATED_RAW: tuple[str, ...] = (
    *_COLLATED_TOP.keys,
    *(f"limits.{k.removeprefix('load_fraction_')}" for k in _LIMITS.keys[:8]),
    *(f"load.{k.removeprefix('load_fraction_')}" for k in _LIMITS.keys[8:]),
    *(f"ext_msgs.{k.removeprefix('ext_msgs_')}" for k in _EXT.keys),
    "transactions",
    "queue.cleaned",
    "shards",
    "neighbors.processed",
    "neighbors.skipped",
    "neighbors.limit_reached",
    "neighbors.max_processed",
    "limits.overload_reason",
    "limits.want_split",
    "limits.peak_class",
)


def _stage_names(prefix: str, fmt: WorkTimeFormat) -> tuple[str, ...]:
    return tuple(f"{prefix}.{name}" for name in (*fmt.stages, "other"))


# TL `long` values come last in a row: the fast readers keep them as the decimal strings they arrive as, and
# aggregation/columns.py converts whole columns of them at once.
INT64_COLLATED = ("queue.old_size", "queue.new_size", *(f"ssc.{k}" for k in _SSC.keys))
INT64_VALIDATED = tuple(f"ssc.{k}" for k in _SSC.keys)

COLLATED_RAW += INT64_COLLATED
COLLATED_STAGES = (*_stage_names("real", COLLATION), *_stage_names("cpu", COLLATION))

VALIDATED_RAW: tuple[str, ...] = (*_VALIDATED_TOP.keys, "invalid", "parallel", *INT64_VALIDATED)
VALIDATED_STAGES = (*_stage_names("real", VALIDATION), *_stage_names("cpu", VALIDATION))

LIMIT_LOG_KINDS: tuple[str, ...] = (
    "INBOUND_EXT_MESSAGES",
    "INBOUND_INT_MESSAGES",
    "NEW_MESSAGES",
    "DISPATCH_QUEUE_STAGE",
    "other",
)


def event_time(value: object, field: str) -> float:
    if type(value) is not float and type(value) is not int:
        raise RecordError("bad_field", f"{field} {value!r:.40}")
    t = float(value)
    if not 0 < t < math.inf:
        raise RecordError("bad_field", f"{field} {value!r:.40}")
    return t


def _block_identity(record: dict[str, Any], time_field: str, rules: ShardRules) -> tuple[float, str, str]:
    try:
        block_id = record["block_id"]
        workchain, shard = block_id["workchain"], block_id["shard"]
        t = record[time_field]
        record["total_time"], record["work_time"], record["cpu_work_time"]
    except (KeyError, TypeError) as e:
        raise RecordError("missing_field", f"block_id, {time_field} or a time: {e}") from None
    t = event_time(t, time_field)
    return (t, *rules.labels(workchain, shard))


def _checked(values: tuple[Any, ...], record: str) -> tuple[float, ...]:
    """Every value must be a number (NaN for absent); `sum` finds a stray string or object at C speed."""
    try:
        sum(values)
    except TypeError:
        bad = next(v for v in values if not isinstance(v, int | float))
        raise RecordError("bad_field", f"{record}: non-numeric value {bad!r:.60}") from None
    return values


class Embedded:
    """Reads the embedded fields of one record; a malformed one is reported and counts as absent."""

    __slots__ = ("offset", "sink")

    def __init__(self, sink: FieldErrorSink | None, offset: int) -> None:
        self.sink = sink
        self.offset = offset

    def stages(self, record: dict[str, Any], fmt: WorkTimeFormat) -> tuple[tuple[float, ...], tuple[float, ...]]:
        get = record.get
        try:
            real = fmt.values(get("work_time_real_stats"))
        except ValueError as e:
            real = self._failed("work_time_real_stats", e, fmt.absent)
        try:
            cpu = fmt.values(get("work_time_cpu_stats"))
        except ValueError as e:
            cpu = self._failed("work_time_cpu_stats", e, fmt.absent)
        return real, cpu

    def perflog(self, record: dict[str, Any]) -> str | None:
        value = record.get("time_stats")
        if value is None or type(value) is str:
            return value
        return self._failed("time_stats", ValueError(f"of type {type(value).__name__}"), None)  # type: ignore[no-any-return]

    def _failed(self, field: str, error: ValueError, absent: Any) -> Any:
        if self.sink is not None:
            self.sink.field_error(field, self.offset, f"{error}; its values are left out")
        return absent


_NO_SINK = Embedded(None, 0)


def _neighbors(block_stats: dict[str, Any]) -> tuple[tuple[float, float, float, float], list[float]]:
    """Totals over neighbour queues: processed, skipped, any limit reached, most processed; applied limits."""
    processed = skipped = 0
    limit_reached = 0
    most: float = NAN
    limits: list[float] = []
    for n in block_stats.get("neighbors") or ():
        p = n.get("processed_msgs", 0)
        processed += p
        skipped += n.get("skipped_msgs", 0)
        if n.get("limit_reached"):
            limit_reached = 1
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


def collated_row_general(
    record: dict[str, Any], embedded: Embedded = _NO_SINK, rules: ShardRules = DEFAULT_RULES
) -> BlockRow:
    t, workchain, shard = _block_identity(record, "collated_at", rules)
    get = record.get
    limits = get("block_limits") or _EMPTY
    stats = get("block_stats") or _EMPTY
    try:
        neighbors, msg_limits = _neighbors(stats)
        shards = len(stats["shard_configuration"]) if workchain == "-1" and "shard_configuration" in stats else NAN
        values = (
            _COLLATED_TOP(record)
            + _LIMITS(limits)
            + _EXT(stats.get("ext_msgs") or _EMPTY)
            + _BLOCK_STATS(stats)
            + (shards, *neighbors)
            + _LIMITS_NEXT(limits)
            + _QUEUES(stats)
            + _SSC(get("storage_stat_cache") or _EMPTY)
        )
        limit_log = _limit_log(limits.get("limits_log"))
    except (TypeError, AttributeError) as e:
        raise RecordError("bad_field", f"collatedBlock: {e}") from None
    checked = _checked(values, "collatedBlock")
    real, cpu = embedded.stages(record, COLLATION)
    seqno = record["block_id"].get("seqno")
    return BlockRow(
        t, workchain, shard, checked, real, cpu, embedded.perflog(record), msg_limits, limit_log, None, seqno
    )


def validated_row_general(
    record: dict[str, Any], embedded: Embedded = _NO_SINK, rules: ShardRules = DEFAULT_RULES
) -> BlockRow:
    t, workchain, shard = _block_identity(record, "validated_at", rules)
    valid = record.get("valid")
    if type(valid) is not bool:
        raise RecordError("missing_field" if valid is None else "bad_field", f"valid {valid!r:.40}")
    try:
        values = (
            _VALIDATED_TOP(record)
            + (0 if valid else 1, 1 if record.get("parallel_accounts_validation") is True else 0)
            + _SSC(record.get("storage_stat_cache") or _EMPTY)
        )
    except (TypeError, AttributeError) as e:
        raise RecordError("bad_field", f"validatedBlock: {e}") from None
    checked = _checked(values, "validatedBlock")
    real, cpu = embedded.stages(record, VALIDATION)
    seqno = record["block_id"].get("seqno")
    return BlockRow(t, workchain, shard, checked, real, cpu, embedded.perflog(record), (), (), None, seqno)


# --- the fast readers

_new_row = tuple.__new__
_neighbor_fields = itemgetter("processed_msgs", "skipped_msgs", "limit_reached", "msg_limit")
_collated_top = itemgetter(*_COLLATED_TOP.keys)
_limits = itemgetter(*_LIMITS.keys)
_ext = itemgetter(*_EXT.keys)
_block_stats = itemgetter(*_BLOCK_STATS.keys)
_queues = itemgetter(*_QUEUES.keys)
_ssc = itemgetter(*_SSC.keys)
_validated_top = itemgetter(*_VALIDATED_TOP.keys)


class _IrregularError(Exception):
    """The record is not of the current engine's exact shape: the general reader takes it."""


def _decimal_strings(strings: tuple[Any, ...]) -> tuple[Any, ...]:
    """int64 values as they arrive, checked to be non-empty strings of ASCII digits (negative ones take the
    general reader, which converts them one by one)."""
    joined = "".join(strings)
    if not (joined.isascii() and joined.isdigit()) or "" in strings:
        raise _IrregularError
    return strings


def _fast_collated(record: dict[str, Any], origin: tuple[FieldErrorSink, int] | None, rules: ShardRules) -> BlockRow:
    block_id = record["block_id"]
    workchain, shard = rules.labels(block_id["workchain"], block_id["shard"])
    t = record["collated_at"]
    perflog = record["time_stats"]
    if type(t) is not float or not 0 < t < math.inf or type(perflog) is not str:
        raise _IrregularError
    limits = record["block_limits"]
    stats = record["block_stats"]
    processed = skipped = reached = 0
    most: float = NAN
    applied = []
    for count, skip, limit_reached, msg_limit in map(_neighbor_fields, stats["neighbors"]):
        processed += count
        skipped += skip
        if limit_reached:
            reached = 1
        if not count <= most:  # also true while `most` is NaN
            most = count
        if msg_limit >= 0:
            applied.append(msg_limit)
    numbers = (
        _collated_top(record)
        + _limits(limits)
        + _ext(stats["ext_msgs"])
        + _block_stats(stats)
        + (len(stats["shard_configuration"]) if workchain == "-1" else NAN, processed, skipped, reached, most)
        + (limits.get("overload_reason", NAN), limits.get("want_split", NAN), limits.get("peak_block_limit_class", NAN))
    )
    sum(numbers)  # TypeError unless every value is a number
    values = numbers + _decimal_strings(_queues(stats) + _ssc(record["storage_stat_cache"]))
    real, cpu = record["work_time_real_stats"], record["work_time_cpu_stats"]
    if type(real) is not str or type(cpu) is not str:
        raise _IrregularError
    log = limits["limits_log"]
    limit_log = _limit_log(log) if log else ()
    seqno = block_id.get("seqno")
    return _new_row(BlockRow, (t, workchain, shard, values, real, cpu, perflog, applied, limit_log, origin, seqno))


def _fast_validated(record: dict[str, Any], origin: tuple[FieldErrorSink, int] | None, rules: ShardRules) -> BlockRow:
    block_id = record["block_id"]
    workchain, shard = rules.labels(block_id["workchain"], block_id["shard"])
    t = record["validated_at"]
    perflog = record["time_stats"]
    valid = record["valid"]
    if type(t) is not float or not 0 < t < math.inf or type(perflog) is not str or type(valid) is not bool:
        raise _IrregularError
    numbers = _validated_top(record) + (0 if valid else 1, 1 if record["parallel_accounts_validation"] is True else 0)
    sum(numbers)
    values = numbers + _decimal_strings(_ssc(record["storage_stat_cache"]))
    real, cpu = record["work_time_real_stats"], record["work_time_cpu_stats"]
    if type(real) is not str or type(cpu) is not str:
        raise _IrregularError
    return _new_row(BlockRow, (t, workchain, shard, values, real, cpu, perflog, (), (), origin, block_id.get("seqno")))


_SURPRISES = (KeyError, TypeError, ValueError, AttributeError, RecordError, _IrregularError)


def collated_row(
    record: dict[str, Any], sink: FieldErrorSink | None = None, offset: int = 0, rules: ShardRules = DEFAULT_RULES
) -> BlockRow:
    return _row(_fast_collated, collated_row_general, record, sink, offset, rules)


def validated_row(
    record: dict[str, Any], sink: FieldErrorSink | None = None, offset: int = 0, rules: ShardRules = DEFAULT_RULES
) -> BlockRow:
    return _row(_fast_validated, validated_row_general, record, sink, offset, rules)


def _row(  # noqa: PLR0917 (the two readers, then collated_row's arguments)
    fast: Callable[[dict[str, Any], tuple[FieldErrorSink, int] | None, ShardRules], BlockRow],
    general: Callable[[dict[str, Any], Embedded, ShardRules], BlockRow],
    record: dict[str, Any],
    sink: FieldErrorSink | None,
    offset: int,
    rules: ShardRules,
) -> BlockRow:
    """The fast reader first; a record it does not expect goes to the general reader, which reports what is
    wrong field by field."""
    try:
        return fast(record, None if sink is None else (sink, offset), rules)
    except _SURPRISES:
        return general(record, Embedded(sink, offset), rules)
