"""Rows of one kind turned into named columns, in bulk.

This is where the numbers the parsers left raw become the values we measure: the embedded work-time and PerfLog
strings of all rows are parsed at once, derived values (other_wait, queue growth, retry flags, validation modes)
are computed column by column, and the -1.0 "not measured" sentinels become NaN. Every column has one value per
row; NaN means "no value" and is skipped by every aggregation.
"""

import math
from collections.abc import Sequence
from operator import sub
from typing import Protocol

from ton_exporter.parsers.perflog import action_durations_many
from ton_exporter.parsers.session_stats import COLLATED_RAW, VALIDATED_RAW, BlockRow
from ton_exporter.parsers.work_time import COLLATION, VALIDATION, WorkTimeFormat

NAN = math.nan

Column = Sequence[float]

# Values where any negative number (-1.0 in practice) means "not measured".
_SENTINEL_COLUMNS = (
    "check_load_do_collate_time",
    "check_load_total_time",
    "load.queue_cleanup",
    "load.dispatch",
    "load.internals",
    "load.externals",
    "load.new_msgs",
)

EMBEDDED_FIELDS = ("work_time_real_stats", "work_time_cpu_stats", "time_stats")


class FieldErrorSink(Protocol):
    def field_error(self, field: str, offset: int, detail: str) -> None: ...


def _stage_names(prefix: str, fmt: WorkTimeFormat) -> tuple[str, ...]:
    return tuple(f"{prefix}.{name}" for name in (*fmt.stages, "other"))


COLLATED_COLUMNS: tuple[str, ...] = (
    *COLLATED_RAW,
    "other_wait_time",
    "retry",
    "queue.growth",
    *_stage_names("real", COLLATION),
    *_stage_names("cpu", COLLATION),
)
VALIDATED_COLUMNS: tuple[str, ...] = (
    *VALIDATED_RAW,
    "other_wait_time",
    "actual_time.parallel",
    "actual_time.singlethread",
    *_stage_names("real", VALIDATION),
    *_stage_names("cpu", VALIDATION),
)


class Columns:
    """Named columns of a batch of rows, plus each row's PerfLog action totals."""

    def __init__(self, rows: Sequence[BlockRow], raw_names: tuple[str, ...], fmt: WorkTimeFormat) -> None:
        self.length = len(rows)
        self.data: dict[str, Column] = (
            dict(zip(raw_names, zip(*[r.values for r in rows], strict=True), strict=True))
            if rows
            else dict.fromkeys(raw_names, ())
        )
        self.actions: list[dict[str, float]] = []
        self._embedded(rows, fmt)

    def __getitem__(self, name: str) -> Column:
        return self.data[name]

    def _embedded(self, rows: Sequence[BlockRow], fmt: WorkTimeFormat) -> None:
        for position, prefix in ((0, "real"), (1, "cpu")):
            stage_columns, failed = fmt.parse_many([r.texts[position] for r in rows])
            self.data.update(zip(_stage_names(prefix, fmt), stage_columns, strict=True))
            _report(rows, failed, EMBEDDED_FIELDS[position])
        self.actions, failed = action_durations_many([r.texts[2] for r in rows])
        _report(rows, failed, EMBEDDED_FIELDS[2])


def _report(rows: Sequence[BlockRow], failed: list[int], field: str) -> None:
    for i in failed:
        origin = rows[i].origin
        if isinstance(origin, tuple):
            sink, offset = origin
            sink.field_error(field, offset, "malformed; its values are left out")


def collated_columns(rows: Sequence[BlockRow]) -> Columns:
    cols = Columns(rows, COLLATED_RAW, COLLATION)
    data = cols.data
    data["other_wait_time"] = [
        _positive(round(t - w - (x if x == x else 0.0), 6))
        for t, w, x in zip(data["total_time"], data["work_time"], data["wait_externals_time"], strict=True)
    ]
    data["retry"] = [1 if a > 0 else 0 for a in data["attempt"]]
    data["queue.growth"] = list(map(sub, data["queue.new_size"], data["queue.old_size"]))
    for name in _SENTINEL_COLUMNS:
        data[name] = [v if v >= 0 else NAN for v in data[name]]
    return cols


def validated_columns(rows: Sequence[BlockRow]) -> Columns:
    cols = Columns(rows, VALIDATED_RAW, VALIDATION)
    data = cols.data
    # ton-formats.md §3.4: actual_time is 0 when it was not computed; work_time stands in for it then.
    actual = [w if a == 0 else a for a, w in zip(data["actual_time"], data["work_time"], strict=True)]
    data["actual_time"] = actual
    data["actual_time.parallel"] = [a if p else NAN for a, p in zip(actual, data["parallel"], strict=True)]
    data["actual_time.singlethread"] = [NAN if p else a for a, p in zip(actual, data["parallel"], strict=True)]
    data["other_wait_time"] = [
        _positive(round(t - w, 6)) for t, w in zip(data["total_time"], data["work_time"], strict=True)
    ]
    return cols


def _positive(x: float) -> float:
    return 0.0 if x < 0 else x  # NaN stays NaN


BUILDERS = {"collated": collated_columns, "validated": validated_columns}
COLUMN_NAMES = {"collated": COLLATED_COLUMNS, "validated": VALIDATED_COLUMNS}
