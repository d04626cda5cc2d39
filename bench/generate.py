"""Large session-stats files shaped like the real data, for benchmarks.

The real node1 file (96 lines, 11.7 s of a 2-validator network) is repeated back to back: each copy moves every
event time forward by the run's length, renames its consensus sessions, and scales the measured values by a
random factor of 0.8-1.2, so lines differ as real ones do while keeping the real mix of record types, sizes and
nesting.
"""

import random
from pathlib import Path
from typing import Any

import orjson

from ton_exporter.sources.replay import load_bundled, shift_record

PERIOD_SECONDS = 13.0
JITTERED = ("total_time", "work_time", "cpu_work_time", "actual_time", "wait_externals_time")


def _jitter(record: dict[str, Any], rng: random.Random) -> None:
    factor = rng.uniform(0.8, 1.2)
    for key in JITTERED:
        if key in record:
            record[key] = round(record[key] * factor, 6)
    if "bytes" in record:
        record["bytes"] = int(record["bytes"] * factor)


def generate(path: Path, target_bytes: int, seed: int = 7) -> Path:
    """Write at least `target_bytes` of session stats to `path` (reused if it is already that large)."""
    if path.exists() and path.stat().st_size >= target_bytes:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    templates = [orjson.dumps(r) for r in load_bundled()["node1"]]
    written = 0
    copy = 0
    with open(path, "wb") as out:
        while written < target_bytes:
            for template in templates:
                record = orjson.loads(template)
                shift_record(record, copy * PERIOD_SECONDS, str(copy))
                _jitter(record, rng)
                line = orjson.dumps(record) + b"\n"
                out.write(line)
                written += len(line)
            copy += 1
    return path
