"""`work_time_real_stats` / `work_time_cpu_stats`: per-stage work times (ton-formats.md §4.2).

A string of space-separated `key=value` seconds (v2025.10+); between commits 76144d44 and ff010ef7 (never in a
release) a JSON object. The key set changed across releases (optimistic_apply went away in v2026.02-1, validation
gained its detailed keys in v2026.04 and v2026.05), so keys are read by name. The result is one tuple: the stages
of every release in a fixed order, then `other` = total - sum of the known stages. A stage the record does not
carry is NaN (absent, not zero); an unknown key is not lost, it falls into `other`.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from operator import sub

import orjson

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


_NUMBER_BYTES = b"0123456789.-"
# Letters, "_" and "=" become JSON whitespace; the space between pairs and the newline between values, commas.
_TO_NUMBERS = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_= \n", b" " * 54 + b",,")


class WorkTimeFormat:
    """One flavour (collation or validation) of the work-time breakdown.

    `values` turns one value into the stages in `self.stages` order, then `other` = total - known stages (keys
    it does not know end up in `other`). `columns` does that for the values of many rows at once.
    """

    def __init__(self, stages: tuple[str, ...], current: int) -> None:
        self.stages = stages
        self.width = len(stages) + 1
        self.current_keys = ("total", *stages[:current])
        self._skeleton = " ".join(f"{key}=" for key in self.current_keys).encode()
        self._missing = (NAN,) * (len(stages) - current)
        self._index = {name: i for i, name in enumerate(stages)}
        self.absent = (NAN,) * self.width

    def columns(self, values: Sequence[object]) -> tuple[list[Sequence[float]], list[int]]:
        """Columns (stages..., other) for the values of many rows, and the indices of malformed values (their
        row gets NaN). A value may already be parsed (a tuple from `values`).

        When every value is a string with exactly the current engine's keys (the usual case), the whole batch
        costs a few C calls: its key skeleton is checked by deleting every digit, dot and minus sign and comparing
        what remains; one `bytes.translate` turns it into a JSON array of numbers, which orjson decodes.
        """
        batch = self._columns_at_once(values)
        if batch is not None:
            return batch, []
        rows: list[tuple[float, ...]] = []
        failed: list[int] = []
        for i, value in enumerate(values):
            try:
                rows.append(value if type(value) is tuple else self.values(value))
            except ValueError:
                failed.append(i)
                rows.append(self.absent)
        if not rows:
            return [[] for _ in range(self.width)], failed
        return list(zip(*rows, strict=True)), failed

    def _columns_at_once(self, values: Sequence[object]) -> list[Sequence[float]] | None:
        try:
            text = "\n".join(values).encode("ascii")  # type: ignore[arg-type]  # TypeError unless all are str
        except (TypeError, UnicodeEncodeError):
            return None
        if not values or text.translate(None, _NUMBER_BYTES) != b"\n".join([self._skeleton] * len(values)):
            return None
        try:
            flat: list[float] = orjson.loads(b"[" + text.translate(_TO_NUMBERS) + b"]")
        except orjson.JSONDecodeError:
            return None
        step = len(self.current_keys)
        stages = [flat[j::step] for j in range(1, step)]
        # total - known stages per row, at C speed. orjson yields finite numbers only, so a difference is finite
        # or infinite (a sum that overflowed), never NaN: min and max see every value.
        differences = list(map(sub, flat[0::step], map(sum, zip(*stages, strict=True))))
        if not -_HUGE < min(differences) <= max(differences) < _HUGE:
            return None
        others = [other if other > 0 else 0.0 for other in differences]
        nan = [NAN] * len(values)
        return [*stages, *([nan] * len(self._missing)), others]

    def values(self, value: object) -> tuple[float, ...]:
        """One value: stage seconds, then `other`. ValueError if malformed."""
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
