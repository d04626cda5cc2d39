"""The exporter's HTTP edge: aiohttp's low-level server in the exporter's own event loop.

It serves `/`, `/metrics`, `/-/healthy`, `/-/ready` and the run API in the same loop as the tailers, so a scrape
sees a consistent state without locks (hynek/prometheus-async's habit). aiohttp does HTTP/1.x itself (keep-alive,
HTTP/1.0 closed after the answer, 400 on a malformed request); this module adds what an exporter on a hostile
network needs:

- exporter-toolkit's web config (web_config.py): TLS with optional client certificates, basic auth with bcrypt,
  extra response headers;
- bounded resources (`Limits`): a cap on open connections, far below the file-descriptor limit, so a flood never
  runs the process out of descriptors; when the cap is reached the oldest idle connection is dropped to make room
  (a scrape arriving within a flood of idle connections is still served), and only if none is idle is the newcomer
  answered 503; short idle timeouts; 413 for large bodies, 431 for large headers;
- counts of all of it (`HttpStats`, exposed as `tonex_http_*`) and rate-limited log lines instead of tracebacks.

Handlers stay framework-free: they take a `Request` and give a `Response`.
"""

import array
import asyncio
import base64
import binascii
import fcntl
import gzip
import hashlib
import logging
import resource
import termios
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import bcrypt
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ton_exporter.exposition.web_config import WebConfig

log = logging.getLogger("ton_exporter.http")


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # names in lower case
    body: bytes = b""
    peer: str = ""  # the client's address
    user: str = ""  # the basic-auth user, once authenticated


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response | Awaitable[Response]]


@dataclass(frozen=True)
class Limits:
    max_connections: int = 256  # never more than the descriptor limit allows (see effective_max_connections)
    idle_timeout: float = 10.0  # an idle keep-alive connection, or one that never sends a request, is closed
    max_body_bytes: int = 64 * 1024
    max_header_bytes: int = 8190  # per line (request line or header field)
    max_headers: int = 100
    tls_handshake_timeout: float = 10.0
    lingering_seconds: float = 2.0  # after a refused body (413), its rest is read and dropped this long at most
    fd_reserve: int = 128  # descriptors kept for followed files, inotify, the state directory and logs

    def effective_max_connections(self) -> int:
        return max(8, min(self.max_connections, _descriptors() - self.fd_reserve))

    def accept_batch(self) -> int:
        """asyncio accepts up to `backlog` sockets at once before any is looked at, a refused or evicted socket
        holds its descriptor until a later loop turn, and a few batches can be on their way at once: so the cap
        and four batches must fit in the descriptors left."""
        spare = _descriptors() - self.fd_reserve - self.effective_max_connections()
        return max(16, min(512, spare // 4))


def _descriptors() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if soft == resource.RLIM_INFINITY else int(soft)


class RateLimitedLog:
    """At most one line per reason every `interval` seconds, with the number left unsaid since the last one."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def warning(self, reason: str, message: str, **extra: Any) -> None:
        now = time.monotonic()
        if now - self._last.get(reason, -1e9) < self.interval:
            self._suppressed[reason] += 1
            return
        self._last[reason] = now
        log.warning(message, extra={"reason": reason, "suppressed": self._suppressed.pop(reason, 0), **extra})


class HttpStats(Collector):
    """What the edge saw: connections, refusals, answers by code, failed logins and handshakes."""

    def __init__(self) -> None:
        self.active = 0
        self.max_connections = 0
        self.accepted = 0
        self.dropped: Counter[str] = Counter()  # reason -> connections closed by us: idle_evicted, limit
        self.responses: Counter[tuple[str, int]] = Counter()  # (handler, code)
        self.auth_failures: Counter[str] = Counter()  # reason: missing, unknown_user, wrong_password
        self.tls_handshake_failures = 0
        self.bad_requests: Counter[str] = Counter()

    def collect(self) -> Iterator[Any]:
        yield GaugeMetricFamily("tonex_http_connections_open", "Connections open now.", self.active)
        yield GaugeMetricFamily(
            "tonex_http_connections_max", "Cap on open connections (below the descriptor limit).", self.max_connections
        )
        yield CounterMetricFamily("tonex_http_connections_accepted", "Connections accepted.", self.accepted)
        dropped = CounterMetricFamily(
            "tonex_http_connections_dropped",
            "Connections closed by the exporter to bound resources.",
            labels=["reason"],
        )
        for reason in ("idle_evicted", "limit"):
            dropped.add_metric([reason], self.dropped[reason])
        yield dropped
        answers = CounterMetricFamily(
            "tonex_http_requests", "HTTP answers by handler and code.", labels=["handler", "code"]
        )
        for (handler, code), n in sorted(self.responses.items()):
            answers.add_metric([handler, str(code)], n)
        yield answers
        auth = CounterMetricFamily(
            "tonex_http_auth_failures", "Requests refused by basic auth (401).", labels=["reason"]
        )
        for reason in ("missing", "unknown_user", "wrong_password"):
            auth.add_metric([reason], self.auth_failures[reason])
        yield auth
        yield CounterMetricFamily(
            "tonex_http_tls_handshake_failures",
            "TLS connections that failed or timed out in the handshake.",
            self.tls_handshake_failures,
        )


class HttpServer:
    def __init__(
        self,
        routes: dict[str, Handler],
        prefixes: dict[str, Handler] | None = None,
        *,
        web_config: WebConfig | None = None,
        limits: Limits | None = None,
        stats: HttpStats | None = None,
    ) -> None:
        self.routes = routes
        self.prefixes = prefixes or {}  # "/api/runs" serves "/api/runs" and "/api/runs/..."
        self.web = web_config or WebConfig()
        self.limits = limits or Limits()
        self.stats = stats or HttpStats()
        self.warn = RateLimitedLog()
        self._auth_cache: dict[tuple[str, bytes], bool] = {}
        self._server: asyncio.Server | None = None
        self._aiohttp: web.Server | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        limits = self.limits
        self.stats.max_connections = limits.effective_max_connections()
        self._aiohttp = _GatedServer(
            self._handle,
            gate=_Gate(self.stats.max_connections, self.stats, self.warn, tls=self.web.tls is not None),
            keepalive_timeout=limits.idle_timeout,
            max_line_size=limits.max_header_bytes,
            max_field_size=limits.max_header_bytes,
            max_headers=limits.max_headers,
            lingering_time=limits.lingering_seconds,
            access_log=None,
            handler_cancellation=True,
        )
        loop = asyncio.get_running_loop()
        tls = self.web.tls
        self._server = await loop.create_server(
            self._aiohttp,
            host,
            port,
            ssl=tls,
            ssl_handshake_timeout=limits.tls_handshake_timeout if tls else None,
            backlog=limits.accept_batch(),
        )
        _calm_accept_errors(loop, self.warn)
        address = self._server.sockets[0].getsockname()
        return str(address[0]), int(address[1])

    async def close(self) -> None:
        """Stop listening and close the connections kept alive (a scraper's would otherwise hold the port)."""
        if self._server is not None:
            self._server.close()
        if self._aiohttp is not None:
            await self._aiohttp.shutdown(1.0)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, raw: web.BaseRequest) -> web.StreamResponse:
        request = Request(raw.method, raw.path, raw.query_string, {k.lower(): v for k, v in raw.headers.items()})
        request.peer = raw.remote or ""
        handler_name, handler = self._route(request.path)
        response = await self._authorize(request)
        if response is None:
            response = await self._read_body(raw, request, handler_name)
        if response is None:
            response = await self._respond(request, handler_name, handler)
        self.stats.responses[(handler_name, response.status)] += 1
        return self._encode(request, response)

    def _route(self, path: str) -> tuple[str, Handler | None]:
        for prefix, handler in self.prefixes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return prefix, handler
        if path in self.routes:
            return path, self.routes[path]
        return "other", None

    async def _read_body(self, raw: web.BaseRequest, request: Request, handler_name: str) -> Response | None:
        limit = self.limits.max_body_bytes
        if raw.content_length is not None and raw.content_length > limit:
            return Response(413, b"request body too large\n", headers={"Connection": "close"})
        if raw.can_read_body:
            body = await raw.content.read(limit + 1)
            if len(body) > limit:
                return Response(413, b"request body too large\n", headers={"Connection": "close"})
            if body and handler_name not in self.prefixes:
                return Response(400, b"request bodies are not accepted here\n")
            request.body = body
        return None

    async def _respond(self, request: Request, handler_name: str, handler: Handler | None) -> Response:
        if handler_name not in self.prefixes and request.method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed\n", headers={"Allow": "GET, HEAD"})
        if handler is None:
            return Response(404, b"not found\n")
        try:
            result = handler(request)
            return await result if isinstance(result, Awaitable) else result
        except Exception:
            log.exception("request failed", extra={"path": request.path})
            return Response(500, b"internal error\n")

    async def _authorize(self, request: Request) -> Response | None:
        """exporter-toolkit's rule: with users configured, every path needs one of them."""
        users = self.web.users
        if not users:
            return None
        user, password = _basic_credentials(request.headers.get("authorization", ""))
        reason = "missing"
        if user is not None and password is not None:
            reason = "unknown_user" if user not in users else "wrong_password"
            if await self._password_ok(user, password):
                request.user = user
                return None
        self.stats.auth_failures[reason] += 1
        self.warn.warning("auth_failed", "basic auth refused", peer=request.peer, why=reason)
        return Response(401, b"Unauthorized\n", headers={"WWW-Authenticate": 'Basic realm="ton-exporter"'})

    async def _password_ok(self, user: str, password: bytes) -> bool:
        # bcrypt is slow by design: run it off the loop, and remember successes (keyed by a digest, never the
        # password itself) so each scrape does not pay for it, as exporter-toolkit caches them.
        key = (user, hashlib.sha256(password).digest())
        if self._auth_cache.get(key):
            return True
        hashed = self.web.users.get(user)
        # An unknown user is checked against a dummy hash so that timing does not tell which users exist.
        ok = await asyncio.to_thread(bcrypt.checkpw, password, hashed or _DUMMY_HASH)
        ok = ok and hashed is not None
        if ok:
            if len(self._auth_cache) > 1024:
                self._auth_cache.clear()
            self._auth_cache[key] = True
        return ok

    def _encode(self, request: Request, response: Response) -> web.Response:
        body = response.body
        headers = {**self.web.headers, **response.headers}
        if len(body) > 1024 and gzip_accepted(request.headers.get("accept-encoding", "")):
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Type"] = response.content_type
        if "Connection" in headers:
            del headers["Connection"]
            answer = web.Response(status=response.status, body=body, headers=headers)
            answer.force_close()
            return answer
        return web.Response(status=response.status, body=body, headers=headers)


_DUMMY_HASH = bcrypt.hashpw(b"dummy", bcrypt.gensalt(rounds=10))


def _basic_credentials(header: str) -> tuple[str | None, bytes | None]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None, None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None, None
    return user.decode("utf-8", "replace"), password


def gzip_accepted(accept_encoding: str) -> bool:
    """Whether the client takes gzip, honouring `q=0` (which refuses it)."""
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        if coding.lower() not in ("gzip", "*"):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        return q > 0
    return False


# --- connection gate


class _Gate:
    """Keeps the number of open connections under a cap, deciding when a connection is made (asyncio has then
    accepted it; the accept batch is bounded separately, see Limits.accept_batch).

    At the cap, a newcomer that has already sent bytes (a scrape sends its request at once) takes the place of
    the oldest connection that is idle with nothing to read. A newcomer whose bytes have not arrived yet (a
    scrape accepted a moment before its request lands looks like a flood's idle socket) takes the place of the
    oldest idle connection that has been open for STALE_SECONDS or more; only when there is none is it answered
    503 and closed. A scrape therefore gets through a flood of idle connections however its bytes race its
    accept, and no flood can hold more descriptors than the cap.
    """

    def __init__(self, limit: int, stats: HttpStats, warn: RateLimitedLog, tls: bool) -> None:
        self.limit = limit
        self.tls = tls
        self.stats = stats
        self.warn = warn
        self.open: OrderedDict[int, _GatedHandler] = OrderedDict()  # connected and admitted, oldest first

    def admit(self, newcomer: "_GatedHandler") -> bool:
        if len(self.open) < self.limit:
            return True
        # After a TLS handshake the request may not have arrived yet, but a handshake is not a flood's idle socket.
        sent = self.tls or _readable_bytes(newcomer.transport) > 0
        stale_before = time.monotonic() - STALE_SECONDS
        for handler in self.open.values():  # oldest first
            if handler.idle() and (sent or handler.admitted_at <= stale_before):
                handler.evict()
                self.stats.dropped["idle_evicted"] += 1
                self.warn.warning(
                    "connection_limit", "connection limit reached: closed the oldest idle connection", limit=self.limit
                )
                return True
        self.stats.dropped["limit"] += 1
        self.warn.warning("connection_limit", "connection limit reached: refusing a connection", limit=self.limit)
        return False


def _readable_bytes(transport: asyncio.BaseTransport | None) -> int:
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return 0
    buffer = array.array("i", [0])
    try:
        fcntl.ioctl(sock.fileno(), termios.FIONREAD, buffer)
    except OSError:
        return 0
    return int(buffer[0])


STALE_SECONDS = 1.0  # an idle connection this old may make room for a newcomer whose request has not arrived yet
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 15\r\n\r\ntoo many peers\n"


class _GatedHandler(RequestHandler):
    """aiohttp's connection handler, admitted and counted by the gate; failed TLS handshakes are counted when
    the handler is dropped without having been connected."""

    def __init__(self, manager: "_GatedServer", **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.gate = manager.gate
        # Phase: 0 created, 1 connected, 2 closed. The SSL layer calls connection_made only after a handshake,
        # and a failed one never reaches us: the finalizer notices a handler that went without connecting.
        self._phase = [0]
        self.admitted_at = 0.0
        weakref.finalize(self, _never_connected, self._phase, self.gate.stats)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._phase[0] = 2
        self.transport = transport  # admit() looks at the socket
        if not self.gate.admit(self):
            transport.write(_BUSY)
            transport.close()
            return
        self._phase[0] = 1
        self.gate.stats.active += 1
        self.gate.stats.accepted += 1
        self.admitted_at = time.monotonic()
        self.gate.open[id(self)] = self
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._phase[0] != 1:
            return  # refused at once: aiohttp never saw it
        self._phase[0] = 2
        self.gate.stats.active -= 1
        self.gate.open.pop(id(self), None)
        super().connection_lost(exc)

    def idle(self) -> bool:
        """No request in progress and none waiting to be read."""
        return self._current_request is None and not self._messages and _readable_bytes(self.transport) == 0

    def evict(self) -> None:
        self.gate.open.pop(id(self), None)
        self.force_close()
        if self.transport is not None:
            self.transport.abort()

    def handle_error(
        self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if isinstance(exc, LineTooLong) and "status line" not in str(exc).lower():
            status, message = 431, "request header fields too large"
        if isinstance(exc, BadHttpMessage):
            self.gate.stats.responses[("bad_request", status)] += 1
            self.gate.warn.warning("bad_request", "malformed HTTP request", status=status, error=str(exc)[:200])
            exc = None  # counted and said once in a while: no traceback per hostile request
        return super().handle_error(request, status, exc, message)

    def log_exception(self, *args: Any, **kw: Any) -> None:
        if kw.get("exc_info") is None:
            return  # a bad request, already counted and logged above
        self.gate.warn.warning("http_error", "error handling a request", error=str(kw["exc_info"])[:200])


def _never_connected(phase: list[int], stats: HttpStats) -> None:
    if phase[0] == 0:
        stats.tls_handshake_failures += 1


def _calm_accept_errors(loop: asyncio.AbstractEventLoop, warn: RateLimitedLog) -> None:
    """Out of descriptors, asyncio logs a traceback per failed accept (and retries a second later): say it once
    in a while instead. The cap above keeps this from happening; this keeps a surprise from flooding the log."""
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if "accept" in str(context.get("message", "")):
            warn.warning("accept_failed", str(context["message"]), error=str(context.get("exception", "")))
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)


class _GatedServer(web.Server):
    def __init__(self, handler: Any, *, gate: _Gate, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.gate = gate

    def __call__(self) -> RequestHandler:
        return _GatedHandler(self, loop=self._loop, **self._kwargs)
