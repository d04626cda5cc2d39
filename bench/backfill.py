"""Backfill speed: `ton-exporter backfill` of a session-stats file (bench/generate.py, SYNTHETIC) against bare
`orjson.loads` of the same lines, measured in the same run; and the backfill's peak RSS, which must stay flat as
the file grows. The OpenMetrics output goes to /dev/null: formatting it is measured, the disk is not."""

import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.ingest import measure


def backfill(path: Path) -> dict[str, float]:
    """Wall time and peak RSS of one backfill process (a fresh one per call: RUSAGE_CHILDREN is the largest child
    so far, so calls go from the smallest file up)."""
    command = [sys.executable, "-m", "ton_exporter", "backfill", "--run", "bench", "--no-progress"]
    command += ["--session-logs", f"node1={path}", "--out", "/dev/null"]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}


def compare(path: Path) -> dict[str, float]:
    bare = measure("orjson", path, runs=1)
    ours = backfill(path)
    return {"bare": bare["seconds"], "backfill": ours["seconds"], "rss": ours["rss"], "lines": bare["lines"]}
