"""`work_time_real_stats` / `work_time_cpu_stats`: per-stage work times (ton-formats.md §4.2).

A string of space-separated `key=value` seconds (v2025.10+); between commits 76144d44 and ff010ef7 (never in a
release) a JSON object. The key set changed across releases (optimistic_apply went away in v2026.02-1, validation
gained its detailed keys in v2026.04 and v2026.05), so keys are read by name. The result is one tuple: the stages
of every release in a fixed order, then `other` = total - sum of the known stages. A stage the record does not
carry is NaN (absent, not zero); an unknown key is not lost, it falls into `other`.
"""

import math
from collections.abc import Iterable, Mapping

NAN = math.nan
_HUGE = 1e15

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

    `values` turns one value into the stages in `self.stages` order, then `other`. The usual value is the list
    of numbers work_time_arrays.py made of a string with exactly the current engine's keys (`current_keys`), taken as
    it is. Strings with other keys and the older object form are parsed key by key.
    """

    def __init__(self, stages: tuple[str, ...], current: int) -> None:
        self.stages = stages
        self.width = len(stages) + 1
        self.current_keys = ("total", *stages[:current])
        self._missing = (NAN,) * (len(stages) - current)
        self._index = {name: i for i, name in enumerate(stages)}
        self.absent = (NAN,) * self.width

    def values(self, value: object) -> tuple[float, ...]:
        """Stage seconds, then `other` = total - known stages. ValueError if malformed."""
        if type(value) is list and len(value) == len(self.current_keys):
            try:
                other = 2 * value[0] - sum(value)  # total - sum of the stages
            except TypeError:
                raise ValueError("work time stats with a non-numeric value") from None
            if not -_HUGE < other < _HUGE:
                raise ValueError("work time stats not finite")
            return (*value[1:], *self._missing, other if other > 0 else 0.0)
        if isinstance(value, str):
            return self._from_pairs(_split_pairs(value))
        if isinstance(value, Mapping):
            return self._from_pairs((k, _number(v)) for k, v in value.items() if k != "@type")
        if value is None:
            return self.absent
        raise ValueError(f"work time stats of type {type(value).__name__}")

    def _from_pairs(self, pairs: Iterable[tuple[str, float]]) -> tuple[float, ...]:
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
        return (*stages, max(total - known, 0.0) if total == total else NAN)


def _split_pairs(text: str) -> Iterable[tuple[str, float]]:
    for item in text.split():
        key, sep, number = item.partition("=")
        if not sep:
            raise ValueError(f"work time item without '=': {item[:40]!r}")
        yield key, float(number)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"work time value of type {type(value).__name__}")
    number = float(value)
    if not -_HUGE < number < _HUGE:
        raise ValueError("work time stats not finite")
    return number


COLLATION = WorkTimeFormat(COLLATION_STAGES, _COLLATION_MASTER)
VALIDATION = WorkTimeFormat(VALIDATION_STAGES, _VALIDATION_MASTER)
