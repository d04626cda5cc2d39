"""Scrapes per second through the exporter's HTTP edge (aiohttp in its loop) against a same-run baseline:
prometheus_client's own `start_http_server` (stdlib, threaded) serving the same registry. Also with TLS and basic
auth (bcrypt, cached after the first login) on the edge."""

import asyncio
import base64
import http.client
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import bcrypt
import orjson
from prometheus_client import CollectorRegistry, generate_latest, start_http_server

from ton_exporter.app import Exporter, parse_source
from ton_exporter.exposition.http_server import HttpServer, Request, Response
from ton_exporter.exposition.web_config import load_web_config
from ton_exporter.sources.replay import load_bundled

SCRAPES = 100


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _exporter(directory: Path) -> Exporter:
    log = directory / "session-logs"
    records = next(iter(load_bundled().values()))  # the real session stats of node1
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    exporter = Exporter([parse_source(f"node1={log}", None)], from_start=True)
    exporter.poll_once()
    return exporter


def _scrapes(connect: Callable[[], http.client.HTTPConnection], headers: dict[str, str]) -> float:
    connection = connect()
    start = time.perf_counter()
    for _ in range(SCRAPES):
        connection.request("GET", "/metrics", headers=headers)
        response = connection.getresponse()
        assert response.status == 200, response.status
        response.read()
    connection.close()
    return SCRAPES / (time.perf_counter() - start)


def _serve_edge(exporter: Exporter, web_yaml: Path | None) -> tuple[int, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    routes: dict[str, Callable[[Request], Response]] = {"/metrics": lambda r: Response(200, _text(exporter.registry))}
    server = HttpServer(routes, web_config=load_web_config(web_yaml))  # type: ignore[arg-type]
    port = _port()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", port), loop).result()
    return port, loop


def _text(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def _tls_files(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "k.pem", directory / "c.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def run(rounds: int = 3) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        exporter = _exporter(directory)
        baseline_port = _port()
        start_http_server(baseline_port, "127.0.0.1", registry=exporter.registry)
        edge_port, _ = _serve_edge(exporter, None)
        cert, key = _tls_files(directory)
        hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=10)).decode()
        web = directory / "web.yml"
        web.write_text(
            f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\nbasic_auth_users:\n  u: '{hashed}'\n"
        )
        tls_port, _ = _serve_edge(exporter, web)
        context = ssl.create_default_context(cafile=str(cert))
        auth = {"Authorization": "Basic " + base64.b64encode(b"u:pw").decode()}
        best: dict[str, float] = {}
        for _ in range(rounds):
            for name, connect, headers in (
                ("baseline", lambda: http.client.HTTPConnection("127.0.0.1", baseline_port), {}),
                ("edge", lambda: http.client.HTTPConnection("127.0.0.1", edge_port), {}),
                ("edge-tls-auth", lambda: http.client.HTTPSConnection("127.0.0.1", tls_port, context=context), auth),
            ):
                best[name] = max(best.get(name, 0.0), _scrapes(connect, headers))
        print(f"http edge: {SCRAPES} scrapes on one connection, best of {rounds}")
        for name, rate in best.items():
            print(f"{name:>14} {rate:>8.0f} scrapes/s  ratio to baseline {rate / best['baseline']:.2f}x")


if __name__ == "__main__":
    run()
