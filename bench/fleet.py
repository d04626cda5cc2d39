"""One collector following a fleet over SSH at the devnet rate, against the same collector following the same
files locally (the baseline, measured in the same run): CPU share of one core and peak RSS.

Assumption (issue 13): about 33 KB/s of session stats per node, written as the engine writes them (appends of whole
rows, here every 0.1 s). Real Debian sshd servers on loopback, one per host, read-only SFTP; the sshd side's CPU is
not counted (it runs on the validators). "Hosts per core" is N / CPU share: an extrapolation, said as such.
"""

import getpass
import itertools
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.live import ROWS, _free_port
from tests.sshd import Sshd, keygen

RATE_BYTES = 33 * 1024
TICK = 0.1


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, clock ticks (USER_HZ 100)


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _writer(files: list[Path], stop: threading.Event) -> None:
    rows = itertools.cycle(ROWS)
    per_tick = RATE_BYTES * TICK
    while not stop.is_set():
        started = time.monotonic()
        for path in files:
            chunk, size = [], 0
            while size < per_tick:
                row = next(rows)
                chunk.append(row)
                size += len(row) + 1
            with open(path, "ab") as f:
                f.write(b"\n".join(chunk) + b"\n")
        stop.wait(max(0.0, TICK - (time.monotonic() - started)))


def _measure(config: Path, files: list[Path], port: int, seconds: float) -> dict[str, float]:
    stop = threading.Event()
    writer = threading.Thread(target=_writer, args=(files, stop))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ton_exporter", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        writer.start()
        time.sleep(5)  # warm-up: connections made, first bytes read
        cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        cpu = _cpu_seconds(proc.pid) - cpu0
        wall = time.monotonic() - t0
        return {"cpu_share": cpu / wall, "peak_rss": _peak_rss(proc.pid)}
    finally:
        stop.set()
        if writer.is_alive():
            writer.join()
        proc.terminate()
        proc.wait(30)


def fleet(hosts: int = 24, seconds: float = 30.0) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="tonex-bench-fleet-") as tmp:
        root = Path(tmp)
        key = keygen(root / "id_ed25519")
        servers = [Sshd(root / f"sshd-{i}", key) for i in range(hosts)]
        try:
            (root / "known_hosts").write_text("".join(s.known_hosts_line() for s in servers))
            results = {}
            for kind in ("local", "ssh"):
                files = []  # fresh files per run: neither reads the other's backlog
                for i in range(hosts):
                    (root / kind / f"v{i:02d}").mkdir(parents=True)
                    files.append(root / kind / f"v{i:02d}" / "session-logs")
                    files[-1].touch()
                port = _free_port()
                nodes = "".join(
                    f"    - {{host: 127.0.0.1, port: {s.port}, name: v{i:02d}, session_logs_path: {files[i]}}}\n"
                    if kind == "ssh"
                    else f"    - {{name: v{i:02d}, session_logs_path: {files[i]}}}\n"
                    for i, s in enumerate(servers)
                )
                head = f"host: 127.0.0.1\nport: {port}\nstate_dir: state-{kind}\nsources:\n  type: {kind}\n"
                if kind == "ssh":
                    head += f"  user: {getpass.getuser()}\n  ssh_key: {key}\n  known_hosts: {root / 'known_hosts'}\n"
                config = root / f"{kind}.yaml"
                config.write_text(head + "  nodes:\n" + nodes)
                results[kind] = _measure(config, files, port, seconds)
            return results
        finally:
            for server in servers:
                server.stop()
