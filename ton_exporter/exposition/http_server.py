"""A small HTTP/1.1 server on asyncio for `/`, `/metrics`, `/-/healthy`, `/-/ready` and the run API.

It runs in the same event loop as the tailers, so a scrape sees a consistent state without locks. Keep-alive is
supported (Prometheus reuses connections). Exact routes answer GET and HEAD without a body; prefix routes (the
run API, runs/http_api.py) get every method and a small body, and say themselves what they allow.
"""

import asyncio
import contextlib
import gzip
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("ton_exporter.http")

MAX_HEADER_LINES = 100
MAX_LINE_BYTES = 8192
MAX_BODY_BYTES = 64 * 1024
IDLE_TIMEOUT_SECONDS = 120.0


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""
    peer: str = ""  # the client's address


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response | Awaitable[Response]]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    503: "Service Unavailable",
}


class HttpServer:
    def __init__(self, routes: dict[str, Handler], prefixes: dict[str, Handler] | None = None) -> None:
        self.routes = routes
        self.prefixes = prefixes or {}  # "/api/runs" serves "/api/runs" and "/api/runs/..."
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_LINE_BYTES * 2)
        address = self._server.sockets[0].getsockname()
        return str(address[0]), int(address[1])

    async def close(self) -> None:
        """Stop listening and close the connections kept alive (a scraper's would otherwise hold the port)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                request = await asyncio.wait_for(_read_request(reader), IDLE_TIMEOUT_SECONDS)
                if request is None:
                    break
                request.peer = _peer(writer)
                response = await self._respond(request)
                keep_alive = request.headers.get("connection", "").lower() != "close"
                writer.write(_encode(request, response, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._connections.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _respond(self, request: Request) -> Response:
        handler = self._prefix_handler(request.path)
        if handler is None:
            if request.method not in ("GET", "HEAD"):
                return Response(405, b"method not allowed\n", headers={"Allow": "GET, HEAD"})
            if request.body:
                return Response(400, b"request bodies are not accepted here\n")
            handler = self.routes.get(request.path)
        if handler is None:
            return Response(404, b"not found\n")
        try:
            result = handler(request)
            return await result if isinstance(result, Awaitable) else result
        except Exception:
            log.exception("request failed", extra={"path": request.path})
            return Response(500, b"internal error\n")

    def _prefix_handler(self, path: str) -> Handler | None:
        for prefix, handler in self.prefixes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return handler
        return None


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    return str(address[0]) if isinstance(address, tuple) and address else ""


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    line = await reader.readline()
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        raise ValueError("bad request line")
    method, target, _version = parts
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    else:
        raise ValueError("too many headers")
    if "transfer-encoding" in headers:
        raise ValueError("chunked request bodies are not accepted")
    length = int(headers.get("content-length", "0") or 0)
    if not 0 <= length <= MAX_BODY_BYTES:
        raise ValueError("request body too large")
    body = await reader.readexactly(length) if length else b""
    path, _, query = target.partition("?")
    return Request(method, path, query, headers, body)


def _encode(request: Request, response: Response, keep_alive: bool) -> bytes:
    body = response.body
    headers = {"Content-Type": response.content_type, **response.headers}
    if "gzip" in request.headers.get("accept-encoding", "") and len(body) > 1024:
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    headers["Content-Length"] = str(len(body))
    headers["Connection"] = "keep-alive" if keep_alive else "close"
    head = f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Error')}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode("latin-1") + (b"" if request.method == "HEAD" else body)
