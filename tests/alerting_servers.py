"""Real servers for the alerting tests: Debian's Alertmanager, Prometheus on a shipped config, and small loopback
stand-ins for what the alerts are sent to (an HTTP receiver for the webhook, Slack and PagerDuty; an SMTP sink).
The shipped configs are used as they are, except for what cannot work in a test: addresses (loopback, free
ports), secret file paths, and Alertmanager's waits, made short.

    python -m tests.alerting_servers replay NODE DIR    appends NODE's real session stats to DIR/NODE/session-logs
                                                        as the engine writes them, in a loop (the demo's replay)
"""

import asyncio
import email
import email.policy
import json
import signal
import socketserver
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import free_port, require_binary
from tests.servers import Process, PrometheusServer, http_get, wait_until
from ton_exporter.sources.replay import Replay, load_bundled

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "prometheus"
SECRETS = "/etc/alertmanager/secrets/"


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP server on loopback that answers 200 to every POST and keeps what it got."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append(Request(self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "success"}')  # PagerDuty's events API answers with JSON

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def received(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, what: str, check: Callable[[Request], bool], timeout: float) -> Request:
        def find() -> Request | None:
            return next((r for r in self.received() if check(r)), None)

        found: Request = wait_until(find, timeout, f"{what}; received: {[r.path for r in self.received()]}")
        return found

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SmtpSink:
    """The smallest SMTP server Alertmanager can deliver to (no TLS, no AUTH); keeps every message."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 127.0.0.1 test sink")
                while line := self.rfile.readline():
                    command = line.decode(errors="replace").strip().upper()
                    if command.startswith(("EHLO", "HELO")):
                        self.reply("250 127.0.0.1")
                    elif command == "DATA":
                        self.reply("354 end with a dot")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        message = email.message_from_bytes(data, policy=email.policy.default)
                        assert isinstance(message, email.message.EmailMessage)
                        sink.messages.append(message)
                        self.reply("250 queued")
                    elif command == "QUIT":
                        self.reply("221 bye")
                        return
                    else:  # MAIL FROM, RCPT TO, RSET, NOOP
                        self.reply("250 ok")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _secret_files(node: Any) -> list[dict[str, Any]]:
    """Every mapping in the config that holds a *_file key pointing at a secret."""
    found = []
    if isinstance(node, dict):
        if any(k.endswith("_file") and str(v).startswith(SECRETS) for k, v in node.items()):
            found.append(node)
        for v in node.values():
            found.extend(_secret_files(v))
    elif isinstance(node, list):
        for v in node:
            found.extend(_secret_files(v))
    return found


def _routes(route: dict[str, Any]) -> list[dict[str, Any]]:
    return [route, *(r for child in route.get("routes", []) for r in _routes(child))]


def localize_alertmanager_config(
    receiver: Receiver, smtp: SmtpSink, secrets: Path, group_wait: str = "1s", group_interval: str = "2s"
) -> dict[str, Any]:
    """prometheus/alertmanager.yml with its routing unchanged, pointed at the loopback stand-ins:

    * every webhook posts to `receiver` under /<receiver name>/webhook, PagerDuty to /pagerduty, Slack to the
      URL in its secret file (see write_secrets: /slack); mail goes to `smtp`, without TLS;
    * secret files are read from `secrets` (same names) instead of /etc/alertmanager/secrets;
    * group_wait and group_interval of every route are `group_wait` and `group_interval` (30s and 5m would make
      a test wait minutes); repeat intervals stay.
    """
    config: dict[str, Any] = yaml.safe_load((BUNDLE / "alertmanager.yml").read_text())
    g = config["global"]
    for key in ("smtp_smarthost", "pagerduty_url", "smtp_require_tls", "slack_api_url_file"):
        assert key in g, f"alertmanager.yml has no global.{key}: update localize_alertmanager_config"
    g["smtp_smarthost"] = smtp.address
    g["smtp_require_tls"] = False
    g["pagerduty_url"] = f"{receiver.url}/pagerduty"
    for holder in _secret_files(config):
        for key, value in list(holder.items()):
            if key.endswith("_file") and str(value).startswith(SECRETS):
                holder[key] = str(secrets / str(value).removeprefix(SECRETS))
    for r in config["receivers"]:  # YAML aliases share one dict between receivers: copy each before changing it
        if "webhook_configs" in r:
            r["webhook_configs"] = [{**w, "url": f"{receiver.url}/{r['name']}/webhook"} for w in r["webhook_configs"]]
    config["templates"] = [str(BUNDLE / t) for t in config["templates"]]
    for route in _routes(config["route"]):
        if "group_wait" in route or route is config["route"]:
            route["group_wait"] = group_wait
        if "group_interval" in route or route is config["route"]:
            route["group_interval"] = group_interval
    return config


def write_secrets(directory: Path, receiver: Receiver) -> dict[str, str]:
    """The secret files alertmanager.yml names, with test values; returns name -> content."""
    names = {
        str(v).removeprefix(SECRETS)
        for holder in _secret_files(yaml.safe_load((BUNDLE / "alertmanager.yml").read_text()))
        for k, v in holder.items()
        if k.endswith("_file")
    }
    directory.mkdir(parents=True, exist_ok=True)
    values = {name: f"test-{name}-secret" for name in names}
    values["slack-webhook-url"] = f"{receiver.url}/slack"
    assert set(values) == names, f"alertmanager.yml names other secrets: {sorted(names)}"
    for name, value in values.items():
        (directory / name).write_text(value + "\n")
    return values


class AlertmanagerServer(Process):
    def __init__(self, tmp: Path, config: dict[str, Any]) -> None:
        binary = require_binary("prometheus-alertmanager")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        directory = tmp / f"alertmanager-{self.port}"
        directory.mkdir()
        self.config_file = directory / "alertmanager.yml"
        self.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        super().__init__(
            [
                binary,
                f"--config.file={self.config_file}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            directory / "alertmanager.log",
        )
        wait_until(lambda: http_get(self.url + "/-/ready")[0] == 200, 60, f"alertmanager ready\n{self.output()}")

    def alerts(self) -> list[dict[str, Any]]:
        status, _, body = http_get(self.url + "/api/v2/alerts")
        assert status == 200, body
        result: list[dict[str, Any]] = json.loads(body)
        return result

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        request = json.dumps(alerts).encode()
        with urllib.request.urlopen(
            urllib.request.Request(
                self.url + "/api/v2/alerts", request, {"Content-Type": "application/json"}, method="POST"
            ),
            timeout=5,
        ) as response:
            assert response.status == 200


def localize_prometheus_config(
    shipped: Path, addresses: dict[str, str], rules: Path | None = None, interval: str = "1s"
) -> dict[str, Any]:
    """A shipped Prometheus config with its jobs, target labels and relabelling unchanged, but every static
    target address (and the Alertmanager's) replaced through `addresses`; targets not in it are left out, and so
    are jobs left without targets (nothing of theirs runs in the test). Scrapes and evaluations every
    `interval`; rule files from the directory `rules` if given (a variant generated with other thresholds)."""
    config: dict[str, Any] = yaml.safe_load(shipped.read_text())
    config["global"]["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    config["rule_files"] = [str((rules / Path(f).name) if rules else shipped.parent / f) for f in config["rule_files"]]
    kept = []
    for scrape in [*config["scrape_configs"], *config["alerting"]["alertmanagers"]]:
        statics = []
        for static in scrape.get("static_configs", []):
            targets = [addresses[t] for t in static["targets"] if t in addresses]
            if targets:
                statics.append({**static, "targets": targets})
        if statics:
            scrape["static_configs"] = statics
            kept.append(scrape)
    config["scrape_configs"] = [s for s in config["scrape_configs"] if s in kept]
    config["alerting"]["alertmanagers"] = [a for a in config["alerting"]["alertmanagers"] if a in kept]
    return config


class ConfiguredPrometheus(PrometheusServer):
    """Debian's Prometheus on a given config file (PrometheusServer's queries, not its generated config)."""

    def __init__(self, config_file: Path, port: int | None = None, args: tuple[str, ...] = ()) -> None:
        binary = require_binary("prometheus")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        directory = config_file.parent
        Process.__init__(
            self,
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={directory / f'data-{self.port}'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
                *args,
            ],
            directory / f"prometheus-{self.port}.log",
        )
        wait_until(lambda: http_get(self.url + "/-/ready")[0] == 200, 60, f"prometheus ready\n{self.output()}")

    def targets(self) -> list[dict[str, Any]]:
        status, _, body = http_get(self.url + "/api/v1/targets?state=active")
        assert status == 200, body
        active: list[dict[str, Any]] = json.loads(body)["data"]["activeTargets"]
        return active


class ReplayFeeder(Process):
    """One node's real session stats appended as the engine writes them, until stopped (stopping the data)."""

    def __init__(self, tmp: Path, node: str, directory: Path) -> None:
        log = tmp / f"replay-{node}-{time.monotonic_ns()}.log"
        super().__init__([sys.executable, "-m", "tests.alerting_servers", "replay", node, str(directory)], log, ROOT)
        path = directory / node / "session-logs"
        wait_until(lambda: path.exists() and path.stat().st_size > 0, 30, f"{path} written\n{self.output()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a test may have paused it (SIGSTOP) to stop the data
        super().stop()


def _replay(node: str, directory: Path) -> None:
    replay = Replay(directory, {node: load_bundled()[node]}, rotate_bytes=16 * 1024 * 1024)
    asyncio.run(replay.run())


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "replay":
        sys.exit(__doc__)
    _replay(sys.argv[2], Path(sys.argv[3]))
