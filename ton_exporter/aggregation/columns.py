"""Rows of one kind turned into named columns, in bulk.

The parsers leave per-row values raw; here values derived from several fields (other_wait, queue growth, retry
flags, validation modes) are computed column by column, and the -1.0 "not measured" sentinels become NaN. Every
column has one value per row; NaN means "no value" and is skipped by every aggregation.
"""

import math
from collections.abc import Sequence
from operator import sub

import orjson

from ton_exporter.parsers.session_stats import (
    COLLATED_RAW,
    COLLATED_STAGES,
    INT64_COLLATED,
    INT64_VALIDATED,
    VALIDATED_RAW,
    VALIDATED_STAGES,
    BlockRow,
)
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

COLLATED_COLUMNS: tuple[str, ...] = (*COLLATED_RAW, *COLLATED_STAGES, "other_wait_time", "retry", "queue.growth")
VALIDATED_COLUMNS: tuple[str, ...] = (
    *VALIDATED_RAW,
    *VALIDATED_STAGES,
    "other_wait_time",
    "actual_time.parallel",
    "actual_time.singlethread",
)


class Columns:
    """Named columns of a batch of rows."""

    def __init__(
        self,
        rows: Sequence[BlockRow],
        raw_names: tuple[str, ...],
        int64: tuple[str, ...],
        stage_names: tuple[str, ...],
        fmt: WorkTimeFormat,
    ) -> None:
        self.length = len(rows)
        self.data: dict[str, Column] = (
            dict(zip(raw_names, zip(*[r.values for r in rows], strict=True), strict=True))
            if rows
            else dict.fromkeys(raw_names, ())
        )
        for name in int64:
            self.data[name] = _integers(self.data[name])
        real, real_failed = fmt.columns([r.work_real for r in rows])
        cpu, cpu_failed = fmt.columns([r.work_cpu for r in rows])
        self.data.update(zip(stage_names, (*real, *cpu), strict=True))
        _report(rows, real_failed, "work_time_real_stats")
        _report(rows, cpu_failed, "work_time_cpu_stats")

    def __getitem__(self, name: str) -> Column:
        return self.data[name]


def _report(rows: Sequence[BlockRow], failed: list[int], field: str) -> None:
    for i in failed:
        origin = rows[i].origin
        if origin is not None:
            sink, offset = origin
            sink.field_error(field, offset, "malformed; its values are left out")


def _integers(column: Sequence[float | str]) -> Column:
    """A column of int64 values, as decimal strings from the fast readers or numbers from the general ones."""
    try:  # all strings of digits (the fast readers checked them): one orjson call converts them all
        return orjson.loads("[" + ",".join(column) + "]")  # type: ignore[arg-type, no-any-return]
    except TypeError:
        return [int(v) if isinstance(v, str) else v for v in column]


def collated_columns(rows: Sequence[BlockRow]) -> Columns:
    cols = Columns(rows, COLLATED_RAW, INT64_COLLATED, COLLATED_STAGES, COLLATION)
    data = cols.data
    data["other_wait_time"] = [
        _positive(t - w - (x if x == x else 0.0))
        for t, w, x in zip(data["total_time"], data["work_time"], data["wait_externals_time"], strict=True)
    ]
    data["retry"] = [1 if a > 0 else 0 for a in data["attempt"]]
    data["queue.growth"] = list(map(sub, data["queue.new_size"], data["queue.old_size"]))
    for name in _SENTINEL_COLUMNS:
        data[name] = [v if v >= 0 else NAN for v in data[name]]
    return cols


def validated_columns(rows: Sequence[BlockRow]) -> Columns:
    cols = Columns(rows, VALIDATED_RAW, INT64_VALIDATED, VALIDATED_STAGES, VALIDATION)
    data = cols.data
    # ton-formats.md §3.4: actual_time is 0 when it was not computed; work_time stands in for it then.
    actual = [w if a == 0 else a for a, w in zip(data["actual_time"], data["work_time"], strict=True)]
    data["actual_time"] = actual
    data["actual_time.parallel"] = [a if p else NAN for a, p in zip(actual, data["parallel"], strict=True)]
    data["actual_time.singlethread"] = [NAN if p else a for a, p in zip(actual, data["parallel"], strict=True)]
    data["other_wait_time"] = [_positive(t - w) for t, w in zip(data["total_time"], data["work_time"], strict=True)]
    return cols


def _positive(x: float) -> float:
    return 0.0 if x < 0 else x  # NaN stays NaN


BUILDERS = {"collated": collated_columns, "validated": validated_columns}
