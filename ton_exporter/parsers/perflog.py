"""The td PerfLog string of `time_stats` (ton-formats.md §4.1).

Timestamps in it are steady-clock seconds, useless across nodes, so only durations are kept. Action names repeat
within one log (summed per name) and may end in a number (a seqno, a workchain, a queue index); that number is
replaced by `N` so the set of action names, and with it the label values, stays bounded.
"""

import re
from functools import lru_cache

# {NAME:BEGIN->END(DURATION)[STATUS]}: only the name and the duration are kept.
_ENTRY = re.compile(r"\{([^{}:\n]+):-?[0-9.]+->-?[0-9.]+\((-?[0-9.]+)\)[^}\n]*\}")
_TRAILING_NUMBER = re.compile(r"([ #])-?\d+$")
EMPTY = "{{\n}"


@lru_cache(maxsize=1024)
def action_name(raw: str) -> str:
    """`auxiliary wait_block_state 7` -> `auxiliary wait_block_state N`; `wait_block_data #-1` -> `... #N`."""
    return _TRAILING_NUMBER.sub(r"\1N", raw.strip())


def action_durations(perflog: object) -> dict[str, float]:
    """Sum of finished action durations per normalised action name, in seconds. ValueError if not a string.

    An unfinished action (END = 0, negative duration) is dropped. Entries with an error status still took the time
    they report, so they are kept.
    """
    if perflog is None:
        return {}
    if not isinstance(perflog, str):
        raise ValueError(f"time_stats of type {type(perflog).__name__}")
    totals: dict[str, float] = {}
    for name, duration in _ENTRY.findall(perflog):
        seconds = float(duration)
        if seconds >= 0:
            key = _names.get(name)
            if key is None:
                if len(_names) > 10_000:  # raw names carry numbers; keep the cache bounded
                    _names.clear()
                key = _names[name] = action_name(name)
            totals[key] = totals.get(key, 0.0) + seconds
    return totals


_names: dict[str, str] = {}
