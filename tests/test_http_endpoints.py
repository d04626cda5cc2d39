"""The HTTP side: landing page, /metrics formats, health and readiness, and what is refused."""

import gzip
import http.client
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import real_lines
from tests.servers import ExporterProcess, http_get

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    tmp = tmp_path_factory.mktemp("http")
    (tmp / "node1").mkdir()
    (tmp / "node1" / "session-logs").write_bytes(b"\n".join(real_lines(1)) + b"\n")
    process = ExporterProcess(tmp, ["serve", "--from-start", "--session-logs", str(tmp / "node1" / "session-logs")])
    yield process
    process.stop()


def test_landing_page_links_the_endpoints(exporter: ExporterProcess) -> None:
    status, headers, body = http_get(exporter.url + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    for link in (b'href="/metrics"', b'href="/-/healthy"', b'href="/-/ready"', b"node1"):
        assert link in body


def test_metrics_in_text_and_openmetrics_formats(exporter: ExporterProcess) -> None:
    status, headers, body = http_get(exporter.url + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b'tonex_collated_blocks_total{node="node1"' in body
    assert b"process_resident_memory_bytes" in body
    status, headers, body = http_get(
        exporter.url + "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


def test_gzip_when_asked(exporter: ExporterProcess) -> None:
    _, headers, body = http_get(exporter.url + "/metrics", {"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert b"tonex_build_info" in gzip.decompress(body)


def test_health_and_readiness(exporter: ExporterProcess) -> None:
    assert http_get(exporter.url + "/-/healthy")[0] == 200
    assert http_get(exporter.url + "/-/ready")[0] == 200


def test_unknown_paths_and_methods_are_refused(exporter: ExporterProcess) -> None:
    assert http_get(exporter.url + "/nope")[0] == 404
    request = urllib.request.Request(exporter.url + "/metrics", method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 405


def test_head_has_headers_and_no_body(exporter: ExporterProcess) -> None:
    request = urllib.request.Request(exporter.url + "/metrics", method="HEAD")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
        assert int(response.headers["Content-Length"]) > 1000
        assert response.read() == b""


def test_keep_alive_serves_several_requests_on_one_connection(exporter: ExporterProcess) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", exporter.port, timeout=5)
    for _ in range(3):
        connection.request("GET", "/-/healthy")
        response = connection.getresponse()
        assert response.status == 200
        assert response.read() == b"OK\n"
    connection.close()


def raw_exchange(exporter: ExporterProcess, request: bytes) -> bytes:
    """Send bytes, read until the server closes the connection (a socket timeout fails the test)."""
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_http_1_0_gets_its_answer_and_the_connection_closed(exporter: ExporterProcess) -> None:
    answer = raw_exchange(exporter, b"GET /-/healthy HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.")
    assert b" 200 " in answer.split(b"\r\n")[0]
    assert answer.endswith(b"\r\n\r\nOK\n")


def test_a_malformed_request_line_gets_400(exporter: ExporterProcess) -> None:
    answer = raw_exchange(exporter, b"NOT A REQUEST LINE AT ALL\r\n\r\n")
    assert answer.split(b"\r\n")[0].split(b" ")[1] == b"400"


def test_oversized_headers_get_431_and_oversized_bodies_413(exporter: ExporterProcess) -> None:
    huge = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    assert raw_exchange(exporter, huge).split(b"\r\n")[0].split(b" ")[1] == b"431"
    big_body = b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"
    assert raw_exchange(exporter, big_body).split(b"\r\n")[0].split(b" ")[1] == b"413"


def test_gzip_refused_with_q_0_is_not_sent(exporter: ExporterProcess) -> None:
    _, headers, body = http_get(exporter.url + "/metrics", {"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in headers
    assert b"tonex_build_info" in body
