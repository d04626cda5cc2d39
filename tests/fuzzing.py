"""What both fuzz modules share (test_fuzz.py: session stats, test_fuzz_text_logs.py: text logs): the byte-level
mutators of a real line and the settings that make every run see the same cases (the fixture quiet_log is in
conftest.py)."""

import random
from collections.abc import Callable

from hypothesis import HealthCheck, settings

Mutation = Callable[[bytes, random.Random], bytes]

# Derandomised and without a database: CI and every developer see the same cases, and a failure reproduces.
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def flip(line: bytes, rng: random.Random) -> bytes:
    """One byte replaced by any byte."""
    position = rng.randrange(len(line))
    return line[:position] + bytes([rng.randrange(256)]) + line[position + 1 :]


def truncate(line: bytes, rng: random.Random) -> bytes:
    """The line truncated anywhere, as a writer killed mid-line leaves it."""
    return line[: rng.randrange(len(line) + 1)]


def insert(line: bytes, rng: random.Random) -> bytes:
    """1 to 20 random bytes inserted anywhere."""
    position = rng.randrange(len(line) + 1)
    return line[:position] + rng.randbytes(rng.randrange(1, 21)) + line[position:]
