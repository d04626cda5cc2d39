"""Ingest throughput: the whole exporter path against bare orjson decoding of the same lines, in the same run.

Each measurement runs in a fresh process (`python -m bench.ingest MODE FILE`), so peak RSS is its own. The
exporter path is what `serve --from-start` does: read the file in blocks, split lines, decode, parse, aggregate,
then render /metrics once (cold to fully exported). The baseline reads and splits the same way and only calls
`orjson.loads` on each line.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import orjson

READ = 1024 * 1024


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
    from prometheus_client import generate_latest

    from ton_exporter.app import Exporter, SessionLog

    exporter = Exporter([SessionLog(path, "bench")], from_start=True)
    lines = exporter.poll_once()
    generate_latest(exporter.registry)
    return lines


def measure(mode: str, path: Path) -> dict[str, float]:
    """Run one mode in a child process; return seconds, lines and peak RSS (bytes) of that child."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.ingest", mode, str(path)], capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout))


PRETOUCH_BYTES = 512 * 1024 * 1024
RUNS_PER_PROCESS = 3


def child(mode: str, path: Path) -> None:
    # On the Firecracker VMs we measure on, the first touch of a guest page is a host page fault that can double
    # the time of an allocation-heavy run; writing 512 MB once (then freeing it) gives both modes backed memory,
    # like a long-running process has. Peak RSS is read from /proc/self/status as VmHWM after resetting it.
    filler = b"\x01" * PRETOUCH_BYTES
    del filler
    _reset_peak_rss()
    run = bare_decode if mode == "orjson" else exporter_ingest
    seconds = float("inf")
    for _ in range(RUNS_PER_PROCESS):
        start = time.perf_counter()
        lines = run(path)
        seconds = min(seconds, time.perf_counter() - start)
    print(json.dumps({"seconds": seconds, "lines": lines, "rss": _peak_rss()}))


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


if __name__ == "__main__":
    child(sys.argv[1], Path(sys.argv[2]))
