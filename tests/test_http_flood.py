"""A connection flood against an exporter under `ulimit -n 1024`: 5,000 connections opened and held while lines
are appended and the file rotated. Scrapes keep succeeding within the flood, every line is counted once it ends
(exact totals against the lines written), and the log says so in a bounded number of lines."""

import re
import resource
import socket
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port, real_lines, require_binary
from tests.servers import Process, http_get, wait_until

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

FLOOD = 5000
FD_LIMIT = 1024


def _lines_read(url: str) -> float:
    status, _, body = http_get(url + "/metrics")
    assert status == 200
    return sum(
        float(v) for v in re.findall(rb'^tonex_source_lines_read_total\{[^}]*node="node1"[^}]*\} (\S+)$', body, re.M)
    )


def _counter(url: str, series: str) -> float:
    body = http_get(url + "/metrics")[2]
    match = re.search(rb"^" + re.escape(series.encode()) + rb" (\S+)$", body, re.MULTILINE)
    assert match is not None, series
    return float(match.group(1))


def _open_flood(port: int, n: int) -> list[socket.socket]:
    """n connections, opened without waiting for each (non-blocking connect), then held."""
    flood = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        flood.append(s)
    return flood


def test_the_exporter_outlives_5000_held_connections_under_ulimit_1024(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= FLOOD + 500, f"the test itself needs {FLOOD + 500} descriptors; hard limit is {hard}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, FLOOD + 500), hard))
    lines = real_lines(1)
    first, during, after = lines[:30], lines[30:60], lines[60:]
    logs = tmp_path / "session-logs"
    logs.write_bytes(b"\n".join(first) + b"\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [require_binary("prlimit"), f"--nofile={FD_LIMIT}:{FD_LIMIT}"]  # execs: the pid is the exporter's
    cmd += [sys.executable, "-m", "ton_exporter", "serve", "--from-start", "--session-logs", f"node1={logs}"]
    cmd += ["--web.listen-address", f"127.0.0.1:{port}"]
    exporter = Process(cmd, tmp_path / "exporter.log")
    flood: list[socket.socket] = []
    try:
        wait_until(lambda: http_get(url + "/-/ready")[0] == 200, 30, f"exporter ready\n{exporter.output()}")
        with open(f"/proc/{exporter.proc.pid}/limits") as limits:
            assert re.search(rf"Max open files\s+{FD_LIMIT}\s", limits.read())
        wait_until(lambda: _lines_read(url) == len(first), 30, "the first lines read")

        flood = _open_flood(port, FLOOD // 2)
        assert http_get(url + "/metrics", timeout=10)[0] == 200
        with logs.open("ab") as f:
            f.write(b"\n".join(during) + b"\n")
        flood += _open_flood(port, FLOOD - len(flood))
        assert http_get(url + "/metrics", timeout=10)[0] == 200
        logs.rename(tmp_path / "session-logs.1")
        logs.write_bytes(b"\n".join(after) + b"\n")
        for _ in range(5):  # scrapes within the flood, each a new connection
            assert http_get(url + "/metrics", timeout=10)[0] == 200
        assert _counter(url, 'tonex_http_connections_dropped_total{reason="idle_evicted"}') > 0
        assert _counter(url, "tonex_http_connections_open") <= _counter(url, "tonex_http_connections_max")
        wait_until(lambda: _lines_read(url) == len(lines), 30, f"every line read within the flood ({len(lines)})")
    finally:
        for s in flood:
            s.close()
    try:
        assert _lines_read(url) == len(lines)
        assert exporter.proc.poll() is None, exporter.output()
    finally:
        exporter.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    output = exporter.output()
    assert "Traceback" not in output
    assert "Too many open files" not in output  # the cap and the accept batch keep descriptors in bounds
    assert len(output.splitlines()) < 40, output[-3000:]
