"""SYNTHETIC: a run made `factor` times slower than a real one, for `compare`.

Every event time moves away from the run's first event by `factor` (so the run lasts `factor` times as long with
the same blocks: blocks/s and tx/s divide by `factor`, and every interval between events, hence notarization and
finalization, multiplies by it), and every measured duration of a collation or validation multiplies by it."""

import gzip
import json
from pathlib import Path
from typing import Any

DURATIONS = ("total_time", "work_time", "cpu_work_time", "actual_time", "wait_externals_time")


def _stretch(record: dict[str, Any], t0: float, factor: float) -> None:
    for key in ("collated_at", "validated_at"):
        if key in record:
            record[key] = t0 + (record[key] - t0) * factor
    for key in DURATIONS:
        if key in record and record[key] > 0:
            record[key] = record[key] * factor
    for event in record.get("events", []):
        event["ts"] = t0 + (event["ts"] - t0) * factor


def first_event(paths: list[Path]) -> float:
    times: list[float] = []
    for path in paths:
        with gzip.open(path, "rt") as f:
            for line in f:
                r = json.loads(line)
                times += [r[k] for k in ("collated_at", "validated_at") if k in r]
                times += [e["ts"] for e in r.get("events", [])]
    return min(times)


def write_slower(source: Path, target: Path, factor: float, t0: float) -> Path:
    """`source` (a real .jsonl.gz) stretched by `factor` from `t0` (the run's first event, over all its nodes)."""
    with gzip.open(source, "rt") as f, open(target, "w") as out:
        for line in f:
            record = json.loads(line)
            _stretch(record, t0, factor)
            out.write(json.dumps(record) + "\n")
    return target
