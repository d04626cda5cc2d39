"""Ingest throughput: the whole exporter path against bare orjson decoding of the same lines, in the same run.

Each measurement runs in a fresh process (`python -m bench.ingest MODE FILE RUNS PRETOUCH`). The exporter path is
what `serve --from-start` does: read the file in blocks, split lines, decode, parse, aggregate, then render
/metrics once (cold exporter to fully exported). The baseline reads and splits the same way and only calls
`orjson.loads` on each line.

Two measures:
* wall clock, best of several runs, with peak RSS;
* CPU instructions under valgrind's callgrind (a process that runs once minus one that only starts up), which
  is repeatable to the instruction whatever else the machine is doing: the VMs we measure on vary run to run by
  up to 2x in wall time.

And where the time goes (`stages`): the exporter path once more with a timer around each stage, in one process.
"""

import json
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import generate_latest

from ton_exporter import pipeline
from ton_exporter.aggregation import block_groups, consensus
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern

READ = 1024 * 1024
PRETOUCH_BYTES = 512 * 1024 * 1024


def bare_decode(path: Path) -> int:
    lines = 0
    partial = b""
    loads = orjson.loads
    with open(path, "rb") as f:
        while block := f.read(READ):
            block = partial + block
            end = block.rfind(b"\n")
            partial = block[end + 1 :]
            for line in block[:end].split(b"\n"):
                loads(line)
                lines += 1
    return lines


def exporter_ingest(path: Path) -> int:
    exporter = Exporter([SourcePattern(str(path), "bench")], from_start=True)
    lines = exporter.poll_once()
    generate_latest(exporter.registry)
    return lines


def _command(mode: str, path: Path, runs: int, pretouch: bool) -> list[str]:
    return [sys.executable, "-m", "bench.ingest", mode, str(path), str(runs), "1" if pretouch else "0"]


def measure(mode: str, path: Path, runs: int = 3) -> dict[str, float]:
    """Best wall time of `runs` in one fresh process, its line count and peak RSS (bytes)."""
    out = subprocess.run(_command(mode, path, runs, True), capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def instructions(mode: str, path: Path) -> int | None:
    """Instructions one ingest of `path` costs (callgrind), or None without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    counts = []
    for runs in (1, 0):
        out = subprocess.run(
            [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *_command(mode, path, runs, False)],
            capture_output=True,
            text=True,
            check=True,
        )
        match = re.search(r"Collected : (\d+)", out.stderr)
        assert match, out.stderr[-500:]
        counts.append(int(match.group(1)))
    return counts[0] - counts[1]


# (class, method, stage): each stage's time is the time spent in its methods (none calls another's).
STAGES: tuple[tuple[type, str, str], ...] = (
    (pipeline.SessionStatsPipeline, "_collated", "block rows read and filed"),
    (pipeline.SessionStatsPipeline, "_validated", "block rows read and filed"),
    (block_groups.BlockGroup, "_fold", "block rows folded (columns, totals, buckets)"),
    (consensus.ConsensusState, "add_batch", "consensus events recorded in their slots"),
    (consensus.ConsensusState, "retire", "slots retired and measured"),
)


def stages(path: Path, runs: int = 3) -> dict[str, float]:
    """Seconds per stage of the exporter path (the run with the least ingest time of `runs`), in this process.
    The timers cost about a microsecond per call, so the stages add up to a little more than they take alone."""
    spent: dict[str, float] = defaultdict(float)
    originals = [(cls, name, getattr(cls, name)) for cls, name, _ in STAGES]
    for cls, name, stage in STAGES:
        setattr(cls, name, _timed(getattr(cls, name), stage, spent))
    best: dict[str, float] = {}
    try:
        for _ in range(runs):
            spent.clear()
            start = time.perf_counter()
            exporter = Exporter([SourcePattern(str(path), "bench")], from_start=True)
            exporter.poll_once()
            read = time.perf_counter()
            generate_latest(exporter.registry)
            spent["ingest"], spent["render /metrics once"] = read - start, time.perf_counter() - read
            if not best or spent["ingest"] < best["ingest"]:
                best = dict(spent)
    finally:
        for cls, name, method in originals:
            setattr(cls, name, method)
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    start = time.perf_counter()
    for line in lines:
        orjson.loads(line)
    best["orjson.loads of every line"] = time.perf_counter() - start
    return best


def _timed(method: Callable[..., Any], stage: str, spent: dict[str, float]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[stage] += time.perf_counter() - start

    return timed


def child(mode: str, path: Path, runs: int, pretouch: bool) -> None:
    if pretouch:
        # On the Firecracker VMs we measure on, the first touch of a guest page is a host page fault that can
        # double the time of an allocation-heavy run; writing 512 MB once (then freeing it) gives both modes
        # backed memory, as a long-running process has.
        filler = b"\x01" * PRETOUCH_BYTES
        del filler
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS (VmHWM) restarts from here
    run = bare_decode if mode == "orjson" else exporter_ingest
    seconds, lines = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        lines = run(path)
        seconds = min(seconds, time.perf_counter() - start)
    print(json.dumps({"seconds": seconds, "lines": lines, "rss": _peak_rss()}))


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


if __name__ == "__main__":
    child(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1")
