"""Let one orjson pass decode the work-time strings embedded in a block row, too.

A collated or validated row carries `work_time_real_stats` and `work_time_cpu_stats`, strings of 14 to 20
`key=value` pairs (`total=0.1 preinit=0.2 ...`). Splitting them in Python after decoding costs more than decoding
the whole line; so before decoding, both values are rewritten in the raw bytes into JSON objects
(`{"total":0.1,"preinit":0.2,...}`) with two `bytes.replace` calls each, and orjson decodes them with the rest
of the line, as it would the object form of older releases.

The rewrite is an optimisation only: when a value is not of the usual form (an unusual number, a stray quote),
the rewritten line fails to decode or yields other keys, and the original line is decoded and its strings parsed
the slow way.
"""

BLOCK_ROW_PREFIX = b'{"@type":"validatorStats.'
_WORK_TIME = (b'"work_time_real_stats":"', b'"work_time_cpu_stats":"')


def _key_values(value: bytes) -> bytes:
    if not value:
        return b'""'
    return b'{"' + value.replace(b"=", b'":').replace(b" ", b',"') + b"}"


def rewrite(line: bytes) -> bytes | None:
    """The line with its work-time strings as JSON objects, or None if it has none.

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
        pieces.append(line[position : value_start - 1])
        pieces.append(_key_values(line[value_start:end]))
        position = end + 1
    if not pieces:
        return None
    pieces.append(line[position:])
    return b"".join(pieces)
