"""The harness's side: register a run for the lifetime of a network, starting the daemon if none runs.

    from ton_exporter.runs.client import registered_run

    with registered_run("alice-20260614-172054", dashboard_dir="test/integration/.dashboard",
                        description="16 nodes, new collator", branch="feature/x", commit="ab12cd3", nodes=16):
        ...  # the network's lifetime; `async with` works too

The run ends when the block is left, and also when the process dies: the daemon sees the connection close.
Standard library only, plain sockets: nothing to install in the harness beyond this package.
"""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ton_exporter.runs.config import CONFIG_NAME, missing_config
from ton_exporter.runs.socket_server import SOCKET_NAME

DEFAULT_DIR = Path(".dashboard")
START_TIMEOUT_SECONDS = 30.0


class DaemonNotRunningError(RuntimeError):
    pass


class RunRefusedError(RuntimeError):
    """The daemon answered with an error (`reason` as in tonex_run_requests_rejected_total)."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__(str(answer.get("error", answer)))
        self.reason = str(answer.get("reason", ""))


class RunClient:
    def __init__(self, dashboard_dir: str | Path = DEFAULT_DIR, timeout: float = 10.0) -> None:
        self.directory = Path(dashboard_dir)
        self.timeout = timeout

    @property
    def socket_path(self) -> Path:
        return self.directory / SOCKET_NAME

    def connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.socket_path))
        except (FileNotFoundError, ConnectionRefusedError) as e:
            sock.close()
            raise DaemonNotRunningError(f"no daemon answers on {self.socket_path}") from e
        return sock

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one message, return the answer; RunRefusedError if it is an error."""
        with self.connect() as sock:
            return exchange(sock, message)

    def ping(self) -> bool:
        try:
            return self.request({"command": "ping"}).get("message") == "pong"
        except (DaemonNotRunningError, OSError, RunRefusedError):
            return False

    def ensure_daemon(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Start `ton-exporter daemon --dir DIR` in the background unless one answers; wait until it does."""
        if self.ping():
            return
        config = self.directory / CONFIG_NAME
        if not config.exists():
            raise DaemonNotRunningError(f"no daemon runs, and none can start: {missing_config(config)}")
        with open(self.directory / "daemon.log", "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "ton_exporter", "daemon", "--dir", str(self.directory)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the harness, as a daemon should
            )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if process.poll() is not None:  # failed (or lost a race to another daemon, which the ping would see)
                if self.ping():
                    return
                raise DaemonNotRunningError(f"the daemon exited with status {process.returncode}: see daemon.log")
            if time.monotonic() > deadline:
                raise DaemonNotRunningError(f"the daemon did not answer within {timeout:.0f} s: see daemon.log")
            time.sleep(0.05)

    def register(self, run_id: str, metadata: dict[str, Any], start_daemon: bool = True) -> socket.socket:
        """Open the run's connection: the run lasts as long as the returned socket stays open."""
        if start_daemon:
            self.ensure_daemon()
        sock = self.connect()
        try:
            exchange(sock, {"run_id": run_id, "metadata": metadata})
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)
        return sock


def exchange(sock: socket.socket, message: dict[str, Any]) -> dict[str, Any]:
    sock.sendall(json.dumps(message).encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    if not data:
        raise DaemonNotRunningError("the daemon closed the connection without an answer")
    answer: dict[str, Any] = json.loads(data)
    if answer.get("status") != "ok":
        raise RunRefusedError(answer)
    return answer


class RegisteredRun:
    """A context manager (plain or async) holding a run's connection."""

    def __init__(
        self, run_id: str, metadata: dict[str, Any], dashboard_dir: str | Path = DEFAULT_DIR, start_daemon: bool = True
    ) -> None:
        self.run_id = run_id
        self.metadata = metadata
        self.client = RunClient(dashboard_dir)
        self.start_daemon = start_daemon
        self._sock: socket.socket | None = None

    def open(self) -> "RegisteredRun":
        self._sock = self.client.register(self.run_id, self.metadata, self.start_daemon)
        return self

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "RegisteredRun":
        return self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    async def __aenter__(self) -> "RegisteredRun":
        return self.open()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def registered_run(
    run_id: str,
    *,
    dashboard_dir: str | Path = DEFAULT_DIR,
    description: str = "",
    branch: str = "",
    commit: str = "",
    nodes: int | None = None,
    labels: dict[str, str] | None = None,
    start_daemon: bool = True,
    **info: Any,
) -> RegisteredRun:
    """`info`: anything else worth keeping with the run (kept as is, shown by the API, not a label)."""
    metadata: dict[str, Any] = {"description": description, "branch": branch, "commit": commit, **info}
    if nodes is not None:
        metadata["nodes"] = nodes
    if labels:
        metadata["labels"] = labels
    return RegisteredRun(run_id, metadata, dashboard_dir, start_daemon)
