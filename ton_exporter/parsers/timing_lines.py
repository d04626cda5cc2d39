"""The collator's and validator's timing lines of td text logs (upstream ton-blockchain/ton ca7d6e45):

    collation took 0.071814 s                      collator.cpp:6486, LOG(WARNING), a candidate was made
    validation took 0.105083s                      validate-query.cpp:7676, LOG(WARNING), no space before the s
    collation failed in 0.012000 s [Error : 652 : timeout]
                                                   collator.cpp:366, LOG(INFO), the last attempt failed: a failed
                                                   collation's only trace (session stats log successes only)

Times are td's FixedDouble (6 decimals). The status is td::Status::print: `[Error : CODE : message]` or
`[PosixError : strerror : CODE : message]`. The logging actor names the block (fabric.cpp:187-205):
`collate(WC,SHARD):SEQNO[_ATTEMPT]`, `validateblock(WC,SHARD):SEQNO#K`; only its workchain becomes a label.
"""

import re
from dataclasses import dataclass

MARKERS = (b"\tcollation took ", b"\tvalidation took ", b"\tcollation failed in ")

_ACTOR = rb"(?:\[!(?:collate|validateblock|fakevalidate)\((-?\d+),[0-9a-fA-F]+\)[^\]\t\n]*\])?"
_MESSAGE = (
    rb"(?:\[&[^\t\n]*?\])?\t(collation took|validation took|collation failed in) (\d+(?:\.\d+)?) ?s"
    rb"(?: \[(?:Error|PosixError : [^\]\n]*?) : (-?\d+) : [^\n]*)?(?:\x1b\[0m)?$"
)
FAST = re.compile(rb"(?m)" + _ACTOR + _MESSAGE)
"""Groups: workchain (or None without an actor), kind, seconds, error code (failures only)."""

# td's ErrorCode (common/errorcode.h); negative codes are the collator's own (-666 "cannot ...", -667).
ERROR_CLASSES = {601: "failure", 602: "error", 603: "warning", 621: "protoviolation", 651: "notready",
                 652: "timeout", 653: "cancelled"}  # fmt: skip
KINDS = {b"collation took": "collation", b"validation took": "validation", b"collation failed in": "failed"}


class TimingError(ValueError):
    pass


@dataclass(frozen=True)
class Timing:
    side: str  # collation or validation
    workchain: str  # "-1", "0", or "unknown" when the line names no actor
    outcome: str  # ok or failed
    error: str  # none, or the class of the failure's td::Status code
    seconds: float


def error_class(code: int) -> str:
    if code < 0:
        return "internal"
    return ERROR_CLASSES.get(code, "other")


def timing(groups: tuple[bytes | None, ...]) -> Timing:
    """A Timing from the groups of a FAST match."""
    workchain, kind, seconds, code = groups
    name = KINDS[bytes(kind or b"")]
    wc = workchain.decode() if workchain else "unknown"
    if name == "failed":
        error = error_class(int(code)) if code else "other"
        return Timing("collation", wc, "failed", error, float(seconds or 0))
    if code:
        raise TimingError("a successful timing line with a status")
    return Timing(name, wc, "ok", "none", float(seconds or 0))


def is_timing(line: bytes) -> bool:
    return any(marker in line for marker in MARKERS)


def parse(line: bytes) -> Timing:
    """A whole line (colour removed) that holds a marker; TimingError if its shape is not upstream's."""
    match = FAST.search(line)
    if match is None:
        raise TimingError("not a collation/validation timing line of upstream's shape")
    return timing(match.groups())
