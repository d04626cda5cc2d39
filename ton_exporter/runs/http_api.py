"""The run API on the exporter's HTTP server: `/api/runs` and `/api/runs/{id}`, JSON in and out.

| request | does |
|---|---|
| `GET /api/runs` | every run kept, newest first: `{"runs": [...]}` |
| `GET /api/runs/{id}` | one run |
| `PATCH /api/runs/{id}` with `{"description": "..."}` | edits its description |
| `DELETE /api/runs/{id}` | deletes a finished run (409 while it runs) |

It answers only clients on a loopback address unless the configuration opens it (`api: {open: true}`), and not at
all in testnet mode (403): registration itself is the Unix socket's business.
"""

import ipaddress
import urllib.parse
from collections.abc import Callable
from typing import Any

import orjson

from ton_exporter.exposition.http_server import Request, Response
from ton_exporter.runs.registry import RunError, RunRegistry

PREFIX = "/api/runs"
JSON = "application/json"
_STATUS = {"unknown_run": 404, "run_exists": 409, "run_running": 409, "read_only": 403}


class RunApi:
    def __init__(
        self, registry: RunRegistry, *, read_only: Callable[[], bool], open_to_all: Callable[[], bool]
    ) -> None:
        self.registry = registry
        self.read_only = read_only
        self.open_to_all = open_to_all

    def __call__(self, request: Request) -> Response:
        if self.read_only():
            return _error(403, "the run API is disabled in testnet mode")
        if not self.open_to_all() and not is_loopback(request.peer):
            return _error(403, "the run API answers on loopback only; set api: {open: true} in the config to open it")
        run_id = urllib.parse.unquote(request.path[len(PREFIX) :].strip("/"))
        try:
            if not run_id:
                if request.method not in ("GET", "HEAD"):
                    return _error(405, "use GET", {"Allow": "GET, HEAD"})
                now = self.registry.clock()
                return _json(200, {"runs": [r.to_json(now) for r in self.registry.newest_first()]})
            return self._one(request, run_id)
        except RunError as e:
            self.registry.reject(e, "http")
            return _error(_STATUS.get(e.reason, 400), e.message, reason=e.reason)

    def _one(self, request: Request, run_id: str) -> Response:
        registry = self.registry
        if request.method in ("GET", "HEAD"):
            run = registry.get(run_id)
        elif request.method == "PATCH":
            run = registry.describe(run_id, _body(request).get("description"))
        elif request.method == "DELETE":
            run = registry.delete(run_id)
        else:
            return _error(405, "use GET, PATCH or DELETE", {"Allow": "GET, HEAD, PATCH, DELETE"})
        return _json(200, run.to_json(registry.clock()))


def _body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise RunError("invalid_json", 'the body must be JSON: {"description": "..."}') from None
    if not isinstance(body, dict) or "description" not in body:
        raise RunError("bad_request", 'the body must be {"description": "..."}')
    return body


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


def _json(status: int, data: object, headers: dict[str, str] | None = None) -> Response:
    return Response(status, orjson.dumps(data) + b"\n", JSON, headers or {})


def _error(status: int, message: str, headers: dict[str, str] | None = None, reason: str = "") -> Response:
    return _json(status, {"error": message, **({"reason": reason} if reason else {})}, headers)
