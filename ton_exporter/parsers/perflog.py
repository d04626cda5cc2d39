"""The td PerfLog string of `time_stats` (ton-formats.md §4.1).

Timestamps in it are steady-clock seconds, useless across nodes, so only durations are kept. Action names repeat
within one log (summed per name) and may end in a number (a seqno, a workchain, a queue index); that number is
replaced by `N` so the set of action names, and with it the label values, stays bounded.
"""

import re
from functools import lru_cache
from collections.abc import Iterable
from typing import Any

import orjson

_ENTRY = re.compile(r"\{([^{}:\n]+):(-?[0-9.]+)->(-?[0-9.]+)\((-?[0-9.]+)\)([^}\n]*)\}")
_TRAILING_NUMBER = re.compile(r"([ #])-?\d+$")
EMPTY = "{{\n}"


@lru_cache(maxsize=1024)
def action_name(raw: str) -> str:
    """`auxiliary wait_block_state 7` -> `auxiliary wait_block_state N`; `wait_block_data #-1` -> `... #N`."""
    return _TRAILING_NUMBER.sub(r"\1N", raw.strip())


def action_durations(perflog: str) -> dict[str, float]:
    """Sum of finished action durations per normalised action name, in seconds.

    An unfinished action (END = 0, negative duration) is dropped. Entries with an error status still took the time
    they report, so they are kept.
    """
    entries = _as_json(perflog)
    if entries is not None:
        try:
            return _sum_by_name(entries)
        except (ValueError, TypeError, AttributeError):
            pass  # not the shape we expected: parse the text itself
    return _sum_by_name((name, 0.0, 0.0, float(duration)) for name, _b, _e, duration, _s in _ENTRY.findall(perflog))


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


def _as_json(perflog: str) -> list[Any] | None:
    """The usual PerfLog, rewritten with a few C-speed replacements into JSON that orjson decodes at once:
    `{{\n\t{name:b->e(d)}\n\t{...}\n}` becomes `[["name",b,e,d],[...]]`. Anything unusual (a status suffix,
    a name with `:` or `"`) fails to decode or to unpack and takes the regex path instead."""
    if not perflog.startswith("{{\n\t{"):
        return None
    text = (
        perflog.replace("{{\n\t{", '[["', 1)
        .replace("}\n\t{", '],["')
        .replace("}\n}", "]]")
        .replace(":", '",')
        .replace("->", ",")
        .replace("(", ",")
        .replace(")", "")
    )
    try:
        entries = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return entries if type(entries) is list else None
