"""`work_time_real_stats` / `work_time_cpu_stats`: per-stage work times (ton-formats.md §4.2).

A string of space-separated `key=value` seconds (v2025.10+); between commits 76144d44 and ff010ef7 (never in a
release) a JSON object. The key set changed across releases (optimistic_apply went away in v2026.02-1, validation
gained its detailed keys in v2026.04 and v2026.05), so keys are read by name. The result is one tuple: the stages
of every release in a fixed order, then `other` = total - sum of the known stages. A stage the record does not
carry is NaN (absent, not zero); an unknown key is not lost, it falls into `other`.
"""

import math
import re
from collections.abc import Iterable, Mapping

import orjson

NAN = math.nan
_HUGE = 1e15
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError

# Master's order first (the writer's order, which the fast path relies on), then keys of older releases.
COLLATION_STAGES: tuple[str, ...] = (
    "preinit",
    "queue_cleanup",
    "prelim_storage_stat",
    "trx_tvm",
    "trx_storage_stat",
    "trx_other",
    "final_storage_stat",
    "enqueue_new_messages",
    "combine_account_transactions",
    "create_shard_state",
    "create_block",
    "create_collated_data",
    "create_block_candidate",
    "optimistic_apply",
)
_COLLATION_MASTER = 13

VALIDATION_STAGES: tuple[str, ...] = (
    "unpack_block_candidate",
    "process_mc_state",
    "trx_tvm",
    "trx_storage_stat",
    "trx_other",
    "check_transactions_other",
    "unpack_state",
    "validate_block_tlb",
    "unpack_block_data",
    "precheck_account_updates",
    "precheck_account_transactions",
    "precheck_msg_queue",
    "unpack_dispatch_queue",
    "check_in_msg_descr",
    "check_out_msg_descr",
    "check_dispatch_queue",
    "check_processed_upto",
    "check_in_queue",
    "check_new_state",
    "optimistic_apply",
    "check_transactions",
)
_VALIDATION_MASTER = 19


class WorkTimeFormat:
    """One flavour (collation or validation) of the work-time breakdown.

    `parse_many` turns the strings of many rows into columns: the stages in `self.stages` order, then `other`.
    When every string has the current engine's exact form (the usual case), that takes a handful of whole-text
    operations (one split of the whole batch, one comparison of all its keys, one orjson decode of all the
    numbers); otherwise each value is parsed by key on its own.
    """

    def __init__(self, stages: tuple[str, ...], current: int) -> None:
        self.stages = stages
        self.width = len(stages) + 1
        self._current = current
        self._keys = ["total", *stages[:current]]
        self._index = {name: i for i, name in enumerate(stages)}

    def parse_many(self, values: list[object]) -> tuple[list[list[float]], list[int]]:
        """Columns (stages..., other) for `values`, and the indices of values that could not be parsed (their
        row gets NaN everywhere)."""
        columns = self._parse_batch(values)
        if columns is not None:
            return columns, []
        rows: list[list[float]] = []
        failed: list[int] = []
        absent = [NAN] * self.width
        for i, value in enumerate(values):
            try:
                rows.append(self.parse(value))
            except ValueError:
                failed.append(i)
                rows.append(absent)
        return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(self.width)], failed

    def _parse_batch(self, values: list[object]) -> list[list[float]] | None:
        try:
            text = "\n".join(values) + "\n"  # type: ignore[arg-type]  # TypeError unless all are strings
        except TypeError:
            return None
        if not values:
            return None
        # "k=v k=v\nk=v ..." -> [k, v, k, v, ...]: the keys must be exactly the current engine's, in its order
        parts = text.replace(" ", "=").replace("\n", "=").split("=")
        del parts[-1]
        if parts[0::2] != self._keys * len(values):
            return None
        numbers = parts[1::2]
        try:
            flat: list[float] = _loads("[" + ",".join(numbers) + "]")
        except _JSONDecodeError:
            return None
        step = self._current + 1
        totals = flat[0::step]
        stages = [flat[j::step] for j in range(1, step)]
        other = [round(t - s, 6) for t, s in zip(totals, map(sum, zip(*stages, strict=True)), strict=True)]
        if not -_HUGE < sum(other) < _HUGE:
            return None
        missing = [[NAN] * len(values) for _ in range(len(self.stages) - self._current)]
        return [*stages, *missing, [x if x > 0 else 0.0 for x in other]]

    def parse(self, value: object) -> list[float]:
        """One value: stage seconds in `self.stages` order, then `other`. ValueError if malformed."""
        if isinstance(value, str):
            return self._from_pairs(_split_pairs(value))
        if isinstance(value, Mapping):
            return self._from_pairs((k, _number(v)) for k, v in value.items() if k != "@type")
        if value is None:
            return [NAN] * self.width
        raise ValueError(f"work time stats of type {type(value).__name__}")

    def _from_pairs(self, pairs: Iterable[tuple[str, float]]) -> list[float]:
        stages = [NAN] * len(self.stages)
        total = NAN
        for key, seconds in pairs:
            if key == "total":
                total = seconds
                continue
            i = self._index.get(key)
            if i is not None:
                stages[i] = seconds
        known = math.fsum(s for s in stages if s == s)
        if not -_HUGE < known < _HUGE or total in (math.inf, -math.inf):
            raise ValueError("work time stats not finite")
        return [*stages, max(round(total - known, 6), 0.0) if total == total else NAN]


def _split_pairs(text: str) -> Iterable[tuple[str, float]]:
    for item in text.split():
        key, sep, number = item.partition("=")
        if not sep:
            raise ValueError(f"work time item without '=': {item[:40]!r}")
        yield key, float(number)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"work time value of type {type(value).__name__}")
    return float(value)


COLLATION = WorkTimeFormat(COLLATION_STAGES, _COLLATION_MASTER)
VALIDATION = WorkTimeFormat(VALIDATION_STAGES, _VALIDATION_MASTER)
