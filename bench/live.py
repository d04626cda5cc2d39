"""Live behaviour of `ton-exporter serve` as a separate process: how soon an appended line shows on /metrics,
and what tailing a few busy files costs when nothing else happens.

Both run the real command line on real session-stats rows, written the way the engine writes them (one
open/append/close per line), on loopback.
"""

import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson

from ton_exporter.sources.replay import load_bundled

ROWS = [orjson.dumps(r) for r in load_bundled()["node1"] if r["@type"] != "consensus.stats.events"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, directory: Path, files: list[Path], extra: list[str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "ton_exporter", "serve", "--web.listen-address", f"127.0.0.1:{self.port}"]
        for f in files:
            args += ["--session-logs", str(f)]
        self.log = open(directory / "exporter.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([*args, *extra], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("exporter did not become ready")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as r:
            return str(r.read().decode())

    def lines_read(self) -> float:
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith("tonex_source_lines_read_total{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    def peak_rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def _append(path: Path, row: bytes) -> None:
    with open(path, "ab") as f:
        f.write(row + b"\n")


def _shifted(row: bytes) -> bytes:
    record = orjson.loads(row)
    for key in ("collated_at", "validated_at"):
        if key in record:
            record[key] = time.time()
    return orjson.dumps(record)


def latency(samples: int = 200, inotify: bool = True) -> dict[str, float]:
    """Seconds from appending a line to a scrape that counts it, over `samples` appends."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        path = directory / "node1" / "session-logs"
        path.parent.mkdir()
        path.touch()
        server = Server(directory, [path], [] if inotify else ["--no-inotify"])
        try:
            rows = itertools.cycle(ROWS)
            seen = server.lines_read()
            delays = []
            for _ in range(samples):
                start = time.perf_counter()
                _append(path, _shifted(next(rows)))
                while (now := server.lines_read()) <= seen:
                    time.sleep(0.002)
                delays.append(time.perf_counter() - start)
                seen = now
                time.sleep(0.05)
        finally:
            server.stop()
    ordered = sorted(delays)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[int(len(ordered) * 0.95) - 1],
        "p99": ordered[int(len(ordered) * 0.99) - 1],
        "max": ordered[-1],
    }


def idle_cost(files: int = 4, lines_per_second: float = 100, seconds: float = 60) -> dict[str, float]:
    """CPU share of one core and peak RSS while `files` files get `lines_per_second` lines in all."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        paths = []
        for n in range(1, files + 1):
            (directory / f"node{n}").mkdir()
            paths.append(directory / f"node{n}" / "session-logs")
            paths[-1].touch()
        server = Server(directory, paths, ["--state.dir", str(directory / "state")])
        try:
            rows = itertools.cycle(ROWS)
            targets = itertools.cycle(paths)
            interval = 1 / lines_per_second
            warm_until = time.monotonic() + 5
            cpu_start = measure_start = 0.0
            next_scrape = time.monotonic()
            deadline = warm_until + seconds
            written = 0
            while (now := time.monotonic()) < deadline:
                if cpu_start == 0.0 and now >= warm_until:
                    cpu_start, measure_start = server.cpu_seconds(), now
                _append(next(targets), _shifted(next(rows)))
                written += 1
                if now >= next_scrape:  # as Prometheus would, every 15 s
                    server.metrics()
                    next_scrape = now + 15
                time.sleep(interval)
            cpu = server.cpu_seconds() - cpu_start
            elapsed = time.monotonic() - measure_start
            read = server.lines_read()
            rss = server.peak_rss()
        finally:
            server.stop()
    return {"cpu_share": cpu / elapsed, "peak_rss": rss, "lines_written": written, "lines_read": read}


if __name__ == "__main__":
    what = sys.argv[1]
    result = latency(inotify=what != "latency-polling") if what.startswith("latency") else idle_cost()
    print(json.dumps(result))
