"""Real servers for tests: the exporter's own CLI and Debian's Prometheus, on loopback, polled until ready."""

import json
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import free_port, require_binary


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (OSError, ValueError, KeyError) as e:
            last_error = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Process:
    """A child process whose output goes to a log file, shown when a test fails."""

    def __init__(self, args: list[str], log: Path, cwd: Path | None = None) -> None:
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(args, stdout=self._out, stderr=subprocess.STDOUT, cwd=cwd)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no chance to save anything."""
        self.proc.kill()
        self.proc.wait(10)
        self._out.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not self._out.closed:
            self._out.close()


class ExporterProcess(Process):
    def __init__(self, tmp: Path, args: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "ton_exporter", *args, "--web.listen-address", f"127.0.0.1:{self.port}"]
        super().__init__(cmd, tmp / f"exporter-{self.port}.log")
        wait_until(self._ready, 30, f"exporter ready at {self.url}\n{self.output()}")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"exporter exited: {self.output()}")
        return http_get(self.url + "/-/ready")[0] == 200


class PrometheusServer(Process):
    def __init__(
        self,
        tmp: Path,
        targets: list[str],
        rule_files: list[Path] | None = None,
        extra_config: str = "",
        flags: tuple[str, ...] = (),
        *,
        data_dir: Path | None = None,  # blocks written beforehand (a backfill); default: a new directory
    ) -> None:
        binary = require_binary("prometheus")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        directory = tmp / f"prometheus-{self.port}"
        directory.mkdir()
        config = directory / "prometheus.yml"
        rules = "".join(f"\n  - {p}" for p in (rule_files or []))
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            + (f"rule_files:{rules}\n" if rules else "")
            + "scrape_configs:\n  - job_name: tonex\n    static_configs:\n"
            + f"      - targets: {json.dumps(targets)}\n"
            + extra_config
        )
        super().__init__(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir or directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
                *flags,
            ],
            directory / "prometheus.log",
        )
        wait_until(lambda: http_get(self.url + "/-/ready")[0] == 200, 60, f"prometheus ready\n{self.output()}")

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, _, body = http_get(url)
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {body[:500]!r}")
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def values(self, expr: str, by: str | None = None) -> dict[str, float]:
        """Instant vector as {label value of `by` (or "") : value}."""
        return {(r["metric"].get(by, "") if by else ""): float(r["value"][1]) for r in self.query(expr)}

    def wait_for_value(self, expr: str, expected: float, timeout: float = 60) -> None:
        def check() -> bool:
            got = self.values(expr)
            return got == {"": expected}

        wait_until(check, timeout, f"{expr} == {expected} (now {self.values(expr)})")


class MetricsStandIn:
    """Serves /metrics on loopback, whatever `body()` returns at each scrape: a stand-in for an endpoint no test
    can run (the engine's). Every other path is 404."""

    def __init__(self, body: Callable[[], bytes]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                if self.path == "/metrics":
                    self.wfile.write(body())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class StaticMetricsServer(MetricsStandIn):
    """One fixed /metrics text."""

    def __init__(self, text: bytes) -> None:
        super().__init__(lambda: text)


class DaemonProcess(Process):
    """`ton-exporter daemon --dir DIR` on loopback, with DIR/config.yaml written first; ready once its socket
    answers (local mode) and its HTTP server does."""

    def __init__(self, directory: Path, config: str = "", *, port: int | None = None, testnet: bool = False) -> None:
        self.directory = directory
        self.port = port or free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "config.yaml"
        self.config.write_text(f"host: 127.0.0.1\nport: {self.port}\n{config}")
        cmd = [sys.executable, "-m", "ton_exporter", "daemon", "--dir", str(directory)]
        super().__init__(cmd, directory.parent / f"daemon-{self.port}.log")
        self.socket = directory / "daemon.sock"
        wait_until(lambda: self._ready(testnet), 30, f"daemon ready\n{self.output()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _ready(self, testnet: bool) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited: {self.output()}")
        return (testnet or self.socket.exists()) and http_get(self.url + "/-/ready")[0] == 200
