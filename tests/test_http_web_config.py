"""`--web.config.file` for real: certificates made by openssl, bcrypt hashes, a Debian Prometheus scraping over TLS
with basic auth, and the refusals (wrong password, plain HTTP, missing client certificate) answered and counted."""

import base64
import http.client
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from tests.conftest import free_port, real_lines, require_binary
from tests.servers import DaemonProcess, Process, PrometheusServer, http_get, wait_until

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

PASSWORD = "s3cret-scrape"


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # signed by another CA
    stranger_key: Path


def _openssl(*args: str) -> None:
    subprocess.run([require_binary("openssl"), *args], check=True, capture_output=True)


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    _openssl(
        *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"),
        *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"),
    )
    return cert, key


def _signed(directory: Path, name: str, ca: tuple[Path, Path], extension: str) -> tuple[Path, Path]:
    key, csr, cert, ext = (directory / f"{name}.{s}" for s in ("key", "csr", "crt", "ext"))
    _openssl(
        *("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}"),
    )
    ext.write_text(extension + "\n")
    _openssl(
        *("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial"),
        *("-days", "2", "-out", str(cert), "-extfile", str(ext)),
    )
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca = _ca(d, "test-ca")
    server = _signed(d, "server", ca, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth")
    client = _signed(d, "client", ca, "extendedKeyUsage=clientAuth")
    stranger = _signed(d, "stranger", _ca(d, "other-ca"), "extendedKeyUsage=clientAuth")
    return Pki(ca[0], server[0], server[1], client[0], client[1], stranger[0], stranger[1])


class TlsExporter(Process):
    """`ton-exporter serve --web.config.file` on loopback; ready once /-/healthy answers over TLS."""

    def __init__(self, tmp: Path, web_config: str, context: ssl.SSLContext) -> None:
        self.port = free_port()
        logs = tmp / "session-logs"
        logs.write_bytes(b"\n".join(real_lines(1)) + b"\n")
        config = tmp / "web.yml"
        config.write_text(web_config)
        cmd = [sys.executable, "-m", "ton_exporter", "serve", "--from-start", "--session-logs", f"node1={logs}"]
        cmd += ["--web.listen-address", f"127.0.0.1:{self.port}", "--web.config.file", str(config)]
        super().__init__(cmd, tmp / f"exporter-{self.port}.log")
        self.context = context
        wait_until(self._ready, 30, "exporter ready over TLS")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"exporter exited: {self.output()}")
        return self.get("/-/healthy", auth=("prometheus", PASSWORD))[0] == 200

    def get(self, path: str, auth: tuple[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        return https_get(self.port, path, self.context, auth)


def client_context(pki: Pki, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None:
        context.load_cert_chain(cert[0], cert[1])
    return context


def https_get(
    port: int, path: str, context: ssl.SSLContext, auth: tuple[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


def metric(body: bytes, series: str) -> float:
    match = re.search(rb"^" + re.escape(series.encode()) + rb" (\S+)$", body, re.MULTILINE)
    assert match is not None, f"{series} not in the scrape"
    return float(match.group(1))


@pytest.fixture(scope="module")
def tls_auth(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[TlsExporter]:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    web = (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n  min_version: TLS12\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
        "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
    )
    exporter = TlsExporter(tmp_path_factory.mktemp("tls"), web, client_context(pki))
    yield exporter
    exporter.stop()


def test_prometheus_scrapes_over_tls_with_basic_auth_and_gets_the_data(
    tmp_path: Path, pki: Pki, tls_auth: TlsExporter
) -> None:
    scrape = (
        "    scheme: https\n"
        f"    tls_config:\n      ca_file: {pki.ca}\n"
        f"    basic_auth:\n      username: prometheus\n      password: {PASSWORD}\n"
    )
    prometheus = PrometheusServer(tmp_path, [f"127.0.0.1:{tls_auth.port}"], extra_config=scrape)
    try:
        expected = len(real_lines(1))
        prometheus.wait_for_value('sum(tonex_source_lines_read_total{node="node1"})', expected)
        assert list(prometheus.values('up{job="tonex"}').values()) == [1.0]
    finally:
        prometheus.stop()


def test_a_wrong_password_gets_401_and_is_counted(pki: Pki, tls_auth: TlsExporter) -> None:
    status, headers, _ = tls_auth.get("/metrics", auth=("prometheus", "wrong"))
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic")
    assert tls_auth.get("/metrics")[0] == 401
    status, headers, body = tls_auth.get("/metrics", auth=("prometheus", PASSWORD))
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert metric(body, 'tonex_http_auth_failures_total{reason="wrong_password"}') >= 1
    assert metric(body, 'tonex_http_auth_failures_total{reason="missing"}') >= 1


def test_plain_http_to_the_tls_port_fails_and_is_counted(pki: Pki, tls_auth: TlsExporter) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", tls_auth.port, timeout=10)
    connection.request("GET", "/metrics")  # the server reads this as a broken ClientHello
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        connection.getresponse()
    connection.close()

    def counted() -> bool:
        body = tls_auth.get("/metrics", auth=("prometheus", PASSWORD))[2]
        return metric(body, "tonex_http_tls_handshake_failures_total") >= 1

    wait_until(counted, 15, "the failed handshake counted")


@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[TlsExporter]:
    web = (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n"
    )
    context = client_context(pki, (pki.client_cert, pki.client_key))
    exporter = TlsExporter(tmp_path_factory.mktemp("mtls"), web, context)
    yield exporter
    exporter.stop()


def test_mutual_tls_serves_a_client_certificate_of_the_ca_and_refuses_others(pki: Pki, mtls: TlsExporter) -> None:
    status, _, body = https_get(mtls.port, "/metrics", client_context(pki, (pki.client_cert, pki.client_key)))
    assert status == 200
    assert b"tonex_source_lines_read_total{" in body
    for refused in (client_context(pki), client_context(pki, (pki.stranger_cert, pki.stranger_key))):
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            https_get(mtls.port, "/metrics", refused)


def test_an_invalid_web_config_stops_the_start_with_a_reason(tmp_path: Path) -> None:
    config = tmp_path / "web.yml"
    config.write_text("basic_auth_users:\n  prometheus: plaintext\n")
    logs = tmp_path / "session-logs"
    logs.write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "ton_exporter", "serve", "--session-logs", str(logs), "--web.config.file", str(config)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "not a bcrypt hash" in done.stderr


class AuthDaemon(DaemonProcess):
    def _ready(self, testnet: bool) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited: {self.output()}")
        return self.socket.exists() and http_get(self.url + "/-/ready", basic("prometheus", PASSWORD))[0] == 200


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def http_call(url: str, method: str, headers: dict[str, str], body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


def test_the_run_apis_writes_require_a_configured_user(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "web.yml").write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    daemon = AuthDaemon(tmp_path / "d", "web_config_file: web.yml\n")
    try:
        run = daemon.url + "/api/runs/nope"
        body = b'{"description": "x"}'
        assert http_call(run, "PATCH", {}, body) == 401
        assert http_call(run, "DELETE", basic("prometheus", "wrong")) == 401
        assert http_call(daemon.url + "/api/runs", "GET", {}) == 401
        # with the user, the request reaches the API, which says the run does not exist
        assert http_call(run, "PATCH", basic("prometheus", PASSWORD), body) == 404
        assert http_call(run, "DELETE", basic("prometheus", PASSWORD)) == 404
        assert http_call(daemon.url + "/api/runs", "GET", basic("prometheus", PASSWORD)) == 200
    finally:
        daemon.stop()
