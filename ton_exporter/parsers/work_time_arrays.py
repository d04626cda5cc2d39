"""Decode the work-time strings embedded in a block row with orjson, not with Python string splitting.

A collated or validated row carries `work_time_real_stats` and `work_time_cpu_stats`, strings of 14 to 20
`key=value` pairs (`total=0.1 preinit=0.2 ...`). Splitting them in Python after decoding costs more than decoding
the whole line. So a value whose keys are exactly the current engine's (checked by deleting every digit, dot and
minus sign and comparing what remains) is turned, with one `bytes.translate` of its raw bytes, into a JSON array
of its numbers: letters, `_` and `=` become spaces (JSON whitespace), the space between pairs becomes a comma;
orjson decodes that in one call.

This is an optimisation only: a value with another key set, or one that does not decode (an exponent, `nan`), is
left as the string it was, and work_time.py parses it key by key.
"""

from typing import Any

import orjson

from ton_exporter.parsers.work_time import COLLATION, VALIDATION

BLOCK_ROW_PREFIX = b'{"@type":"validatorStats.'
_KEYS = (("work_time_real_stats", b'"work_time_real_stats":"'), ("work_time_cpu_stats", b'"work_time_cpu_stats":"'))
_NUMBER_BYTES = b"0123456789.-"
_TO_ARRAY = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_= ", b" " * 54 + b",")
SKELETONS = frozenset(" ".join(f"{key}=" for key in fmt.current_keys).encode() for fmt in (COLLATION, VALIDATION))


def decode_work_times(line: bytes, record: dict[str, Any]) -> None:
    """Replace the work-time strings of `record` (decoded from `line`) by lists of their numbers where possible.

    Both keys sit near the end of a line, the cpu one last: they are searched from the end.
    """
    end_of_search = len(line)
    for field, key in reversed(_KEYS):
        start = line.rfind(key, 0, end_of_search)
        if start < 0:
            continue
        end_of_search = start
        value_start = start + len(key)
        value = line[value_start : line.find(b'"', value_start)]
        if value.translate(None, _NUMBER_BYTES) in SKELETONS:
            try:  # noqa: SIM105  (contextlib.suppress costs a Python-level call per value)
                record[field] = orjson.loads(b"[" + value.translate(_TO_ARRAY) + b"]")
            except orjson.JSONDecodeError:
                pass  # it stays the string it was
