"""A small HTTP/1.1 server on asyncio for `/`, `/metrics`, `/-/healthy` and `/-/ready`.

It runs in the same event loop as the tailers, so a scrape sees a consistent state without locks. Keep-alive is
supported (Prometheus reuses connections); request bodies are not accepted.
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
IDLE_TIMEOUT_SECONDS = 120.0


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response | Awaitable[Response]]

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class HttpServer:
    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_LINE_BYTES * 2)
        address = self._server.sockets[0].getsockname()
        return str(address[0]), int(address[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await asyncio.wait_for(_read_request(reader), IDLE_TIMEOUT_SECONDS)
                if request is None:
                    break
                response = await self._respond(request)
                keep_alive = request.headers.get("connection", "").lower() != "close"
                writer.write(_encode(request, response, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _respond(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed\n", headers={"Allow": "GET, HEAD"})
        handler = self.routes.get(request.path)
        if handler is None:
            return Response(404, b"not found\n")
        try:
            result = handler(request)
            return await result if isinstance(result, Awaitable) else result
        except Exception:
            log.exception("request failed", extra={"path": request.path})
            return Response(500, b"internal error\n")


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
    if int(headers.get("content-length", "0") or 0) > 0 or "transfer-encoding" in headers:
        raise ValueError("request bodies are not accepted")
    path, _, query = target.partition("?")
    return Request(method, path, query, headers)


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
