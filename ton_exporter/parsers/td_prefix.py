"""The td logging prefix of TON text logs (ton-formats.md §7.1):

    [LL][tTT][YYYY-MM-DD HH:MM:SS.fffffffff][file.cpp:LINE]([#tag])?([!actor])?([&comment])?<TAB>message

* level, padded to width 2 (`[ 3]`, `[10]`); thread, padded to width 2 (`[t 1]`, `[t12]`);
* the UTC time with 9 fractional digits (libstdc++ builds) or 6 (libc++ builds); releases before td switched to
  `date::format` printed seconds since the epoch (`[1580214542.366837502]`), which is accepted too;
* the source file's base name and line; the optional thread tag, actor name and `LOG_IF`/VLOG comment (a
  comment is a C++ condition and may hold `]`: it ends at the `]` before the TAB);
* one TAB, then the message, which may hold more `[...]`.

Logs written to stderr are coloured on every line, even when stderr is not a terminal (`ESC[1;36m` before the
prefix, `ESC[0m` before the newline, sometimes inline codes): colour codes are removed before matching. A message
with newlines spans several lines; only its first has a prefix (see text_log_pipeline.py for how the others are
counted).

Everything here works on bytes: lines are matched as read, and only the values that become labels are decoded.
"""

import calendar
import math
import re
from dataclasses import dataclass

ANSI = re.compile(rb"\x1b\[[0-9;]*m")
COLOUR_END = b"\x1b[0m"

_TIME = rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,9})?|\d{9,10}(?:\.\d{1,9})?"
_PREFIX = (
    rb"\[ *(-?\d+)\]\[t *(\d+)\]\[(" + _TIME + rb")\]\[([^\]:\t\n]+):(\d+)\]"
    rb"(?:\[#([^\t\n]*?)\])?(?:\[!([^\t\n]*?)\])?(?:\[&([^\t\n]*?)\])?\t"
)
PREFIX = re.compile(_PREFIX)
"""Groups: level, thread, time, file, line, tag, actor, comment; the message starts at `match.end()`."""

LEVEL_AND_FILE = re.compile(
    rb"(?m)^(?:\x1b\[[0-9;]*m)?\[ *(-?\d+)\]\[t *\d+\]\[(?:" + _TIME + rb")\]\[([^\]:\t\n]+):\d+\]"
    rb"(?:\[#[^\t\n]*?\])?(?:\[![^\t\n]*?\])?(?:\[&[^\t\n]*?\])?\t[^\n]*"
)
"""The same prefix, anchored at each line of a block of lines, after the colour code of a coloured log, capturing
only what the line counters need: a `findall` over a whole block gives one (level, file) pair per line that has a
prefix (colour codes after the prefix do not matter)."""

LEVEL_NAMES = ("fatal", "error", "warning", "info", "debug")


def level_name(level: int) -> str:
    """The `level` label: td's names for 0-4, `verbose` for VLOG levels above DEBUG, `plain` below 0."""
    if 0 <= level < len(LEVEL_NAMES):
        return LEVEL_NAMES[level]
    return "verbose" if level > 0 else "plain"


def strip_colour(line: bytes) -> bytes:
    return ANSI.sub(b"", line) if b"\x1b" in line else line


_DAYS: dict[bytes, int] = {}


def parse_timestamp(text: bytes) -> float:
    """Seconds since the epoch of a prefix time (UTC); float precision keeps about a microsecond."""
    if len(text) < 19 or text[4] != 0x2D:  # "-": else the older seconds-since-the-epoch form
        return float(text)
    day = _DAYS.get(text[:10])
    if day is None:
        try:
            day = calendar.timegm((int(text[:4]), int(text[5:7]), int(text[8:10]), 0, 0, 0))
        except ValueError:  # month 00 or 13 of a corrupted line: no time, never a crash (the line still counts)
            return -math.inf
        _DAYS[text[:10]] = day
    seconds = day + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
    return seconds + float(text[19:]) if len(text) > 20 else float(seconds)


@dataclass(frozen=True, slots=True)
class TdLine:
    level: int
    thread: int
    time: float  # seconds since the epoch, UTC
    file: str
    line: int
    tag: str | None
    actor: str | None
    comment: str | None
    message: str

    @property
    def level_name(self) -> str:
        return level_name(self.level)


def parse_line(raw: bytes) -> TdLine | None:
    """One line (without its newline); None if it has no td prefix. Undecodable bytes in the message are
    replaced, so that a caller that wants to reject them must check UTF-8 itself."""
    line = strip_colour(raw)
    match = PREFIX.match(line)
    if match is None:
        return None
    level, thread, time, file, number, tag, actor, comment = match.groups()
    return TdLine(
        level=int(level),
        thread=int(thread),
        time=parse_timestamp(time),
        file=file.decode(errors="replace"),
        line=int(number),
        tag=_text(tag),
        actor=_text(actor),
        comment=_text(comment),
        message=line[match.end() :].decode(errors="replace"),
    )


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode(errors="replace")
