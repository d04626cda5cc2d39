"""`Obtained certificate for <vote>: <V or . per validator>` lines of td text logs (LOG-10).

    [pool.cpp:919][!valgroup(-1,8000000000000000).0.SimplexPool]	Obtained certificate for notarize(slot=0): VV.V

validator/consensus/simplex/pool.cpp:919, LOG(WARNING), once per certificate the pool stores: a cross-check of the
session stats' certObserved (CON-20) when session stats are off. The vote is td's printing of the vote
(`notarize(slot=..)`, `finalize(...)`, `skip(...)`); the logging actor names the validator group, whose workchain
becomes a label (`unknown` without one). Any other vote word counts as `other`: the label stays bounded.
"""

import re

MARKER = b"\tObtained certificate for "
VOTES = ("notarize", "finalize", "skip")
FAST = re.compile(rb"(?:\[!valgroup\((-?\d+),[0-9a-fA-F]+\)[^\]\t\n]*\])?(?:\[&[^\t\n]*?\])?" + MARKER + rb"(\w*)")
"""Groups: workchain of the validator group (None without one), the vote word."""


def labels(workchain: bytes | None, vote: bytes) -> tuple[str, str]:
    """(workchain, vote) label values of one certificate line."""
    word = vote.decode()
    return (workchain.decode() if workchain else "unknown", word if word in VOTES else "other")
