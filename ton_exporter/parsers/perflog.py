"""The td PerfLog string of `time_stats` (ton-formats.md §4.1).

Timestamps in it are steady-clock seconds, useless across nodes, so only durations are kept. Action names repeat
within one log (summed per name) and may end in a number (a seqno, a workchain, a queue index); that number is
replaced by `N` so the set of action names, and with it the label values, stays bounded.
"""

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import orjson

_ENTRY = re.compile(r"\{([^{}:\n]+):(-?[0-9.]+)->(-?[0-9.]+)\((-?[0-9.]+)\)([^}\n]*)\}")
_TRAILING_NUMBER = re.compile(r"([ #])-?\d+$")
EMPTY = "{{\n}"


@lru_cache(maxsize=1024)
def action_name(raw: str) -> str:
    """`auxiliary wait_block_state 7` -> `auxiliary wait_block_state N`; `wait_block_data #-1` -> `... #N`."""
    return _TRAILING_NUMBER.sub(r"\1N", raw.strip())


def action_durations(perflog: object) -> dict[str, float]:
    """Sum of finished action durations per normalised action name, in seconds. ValueError if malformed.

    An unfinished action (END = 0, negative duration) is dropped. Entries with an error status still took the time
    they report, so they are kept.
    """
    if perflog is None:
        return {}
    if not isinstance(perflog, str):
        raise ValueError(f"time_stats of type {type(perflog).__name__}")
    entries = _decode_batch([perflog])
    if entries is not None:
        try:
            return _sum_by_name(entries[0])
        except (ValueError, TypeError, AttributeError):
            pass  # not the shape we expected: parse the text itself
    return _sum_by_name((name, 0.0, 0.0, float(duration)) for name, _b, _e, duration, _s in _ENTRY.findall(perflog))


def action_durations_many(perflogs: list[object]) -> tuple[list[dict[str, float]], list[int]]:
    """`action_durations` of each value, decoding all of them at once when they have the usual form; also the
    indices of values that could not be parsed (they count as no actions)."""
    batch = _decode_batch(perflogs)
    out: list[dict[str, float]] = []
    failed: list[int] = []
    for i, perflog in enumerate(perflogs):
        try:
            out.append(_sum_by_name(batch[i]) if batch is not None else action_durations(perflog))
        except (ValueError, TypeError, AttributeError):
            try:
                out.append(action_durations(perflog))
            except ValueError:
                failed.append(i)
                out.append({})
    return out, failed


_names: dict[str, str] = {}


def _sum_by_name(entries: Iterable[Any]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for name, _begin, _end, seconds in entries:
        if seconds >= 0:
            key = _names.get(name)
            if key is None:
                if len(_names) > 10_000:  # raw names carry numbers; keep the cache bounded
                    _names.clear()
                key = _names[name] = action_name(name)
            totals[key] = totals.get(key, 0.0) + seconds
    return totals


_SEPARATOR = "\x1e"


def _decode_batch(perflogs: list[object]) -> list[Any] | None:
    """The usual PerfLogs, rewritten with a few C-speed replacements into one JSON document that orjson decodes
    at once: `{{\n\t{name:b->e(d)}\n\t{...}\n}` becomes `[["name",b,e,d],[...]]`, one list per PerfLog.
    None if any value is not of that form; entries that decode to an unexpected shape fail later, when unpacked."""
    try:
        text = _SEPARATOR.join(perflogs)  # type: ignore[arg-type]  # TypeError unless all are strings
    except TypeError:
        return None
    text = (
        text.replace(EMPTY, "[]")
        .replace("{{\n\t{", '[["')
        .replace("}\n\t{", '],["')
        .replace("}\n}", "]]")
        .replace(":", '",')
        .replace("->", ",")
        .replace("(", ",")
        .replace(")", "")
        .replace(_SEPARATOR, ",")
    )
    try:
        decoded = orjson.loads("[" + text + "]")
    except orjson.JSONDecodeError:
        return None
    if len(decoded) != len(perflogs) or not all(type(entries) is list for entries in decoded):
        return None
    return decoded  # type: ignore[no-any-return]
