"""Let one orjson pass decode the work-time strings embedded in a block row, too.

A collated or validated row carries `work_time_real_stats` and `work_time_cpu_stats`, strings of 14 to 20
`key=value` pairs (`total=0.1 preinit=0.2 ...`). Splitting them in Python after decoding costs more than decoding
the whole line. So, before decoding, a value whose keys are exactly the current engine's (checked by deleting
every digit, dot and minus sign and comparing what remains) is rewritten in the raw bytes, with one
`bytes.translate`, into a JSON array of its numbers: letters, `_` and `=` become spaces (JSON whitespace), the
space between pairs becomes a comma. orjson then decodes those numbers with the rest of the line.

The rewrite is an optimisation only: any other key set is left as a string, and a value that does not decode (an
exponent, `nan`) makes the whole line fall back to being decoded as written; the strings are then parsed key by
key (work_time.py).
"""

from ton_exporter.parsers.work_time import COLLATION, VALIDATION

BLOCK_ROW_PREFIX = b'{"@type":"validatorStats.'
_WORK_TIME = (b'"work_time_real_stats":"', b'"work_time_cpu_stats":"')
_NUMBER_BYTES = b"0123456789.-"
_TO_ARRAY = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_= ", b" " * 54 + b",")
SKELETONS = frozenset(" ".join(f"{key}=" for key in fmt.current_keys).encode() for fmt in (COLLATION, VALIDATION))


def _array(value: bytes) -> bytes | None:
    if value.translate(None, _NUMBER_BYTES) not in SKELETONS:
        return None
    return b"[" + value.translate(_TO_ARRAY) + b"]"


def rewrite(line: bytes) -> bytes | None:
    """The line with its work-time strings as JSON arrays of numbers, or None if there is nothing to rewrite.

    The engine writes the real one first; a key found out of that order, or missing, is left as it is.
    """
    pieces: list[bytes] = []
    position = 0
    for key in _WORK_TIME:
        start = line.find(key, position)
        if start < 0:
            continue
        value_start = start + len(key)
        end = line.find(b'"', value_start)
        if end < 0:
            return None
        array = _array(line[value_start:end])
        if array is None:
            continue
        pieces.append(line[position : value_start - 1])
        pieces.append(array)
        position = end + 1
    if not pieces:
        return None
    pieces.append(line[position:])
    return b"".join(pieces)
