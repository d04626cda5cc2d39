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
    """Parses one flavour (collation or validation) of the work-time breakdown into a fixed-width tuple."""

    def __init__(self, stages: tuple[str, ...], current: int) -> None:
        self.stages = stages
        self.width = len(stages) + 1
        # The current engine writes the first `current` keys in this order: one regex match of that exact form
        # costs far less than splitting. Any other form takes the by-key path.
        pattern = r"total=(\S+)" + "".join(rf" {name}=(\S+)" for name in stages[:current])
        self._exact = re.compile(pattern)
        self._missing_tail = [NAN] * (len(stages) - current)
        self._index = {name: i for i, name in enumerate(stages)}
        self.absent: tuple[float, ...] = (NAN,) * self.width

    def parse(self, value: object) -> list[float]:
        """Stage seconds in `self.stages` order, then `other`. Raises ValueError on a malformed value."""
        if isinstance(value, str):
            match = self._exact.fullmatch(value)
            if match is not None:
                try:  # orjson turns the numbers into floats several times faster than float() one by one
                    numbers: list[float] = _loads("[" + ",".join(match.groups()) + "]")
                except _JSONDecodeError:
                    numbers = list(map(float, match.groups()))
                total = numbers[0]
                # total - sum of the stages, at the 6 decimals the engine prints (no float subtraction noise)
                other = round(2 * total - sum(numbers), 6)
                if not -_HUGE < other < _HUGE:  # also rejects NaN and inf
                    raise ValueError(f"work time stats not finite: {value[:60]!r}")
                numbers[0] = other if other > 0 else 0.0
                numbers.extend(self._missing_tail)
                numbers.append(numbers[0])
                del numbers[0]
                return numbers
            return self._from_pairs(_split_pairs(value))
        if isinstance(value, Mapping):
            return self._from_pairs((k, _number(v)) for k, v in value.items() if k != "@type")
        if value is None:
            return list(self.absent)
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
        return self._with_other(total, stages)

    @staticmethod
    def _with_other(total: float, stages: list[float]) -> list[float]:
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
