"""Run registration over a Unix socket, the protocol tontester's harness speaks.

A client connects and sends one JSON object (a newline after it is welcome, not needed):

* a hello, `{"run_id": "...", "metadata": {...}}`: the run is registered, the answer is
  `{"status": "ok", "run_id": "..."}`, and the connection stays open; when it closes (the client exits, crashes
  or is killed), the run is completed, ended at that moment;
* a command, `{"command": "ping"}` (answer `{"status": "ok", "message": "pong"}`), `status`, `list`, `get`,
  `start` (a run that ends with `stop`, not with the connection), `stop`, `describe`, `delete`, `import` (a
  finished run with its own time range: `ton-exporter backfill --register`); answered, then the connection is
  closed.

Anything else gets `{"status": "error", "reason": "...", "error": "..."}`, changes nothing, and is counted.
Answers are one JSON object and a newline. The socket is created owner-only (0600).
"""

import asyncio
import contextlib
import errno
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ton_exporter.runs.registry import Run, RunError, RunRegistry, new_run

log = logging.getLogger("ton_exporter.runs")

SOCKET_NAME = "daemon.sock"
MAX_MESSAGE_BYTES = 64 * 1024
HELLO_TIMEOUT_SECONDS = 10.0


class AlreadyRunningError(RuntimeError):
    pass


class RunSocketServer:
    def __init__(self, path: Path, registry: RunRegistry, status: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        self.registry = registry
        self.status = status  # what the daemon says about itself (status command)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._closing = False
        self._bound = False

    async def start(self) -> None:
        if self.path.exists():
            if _answers(self.path):
                raise AlreadyRunningError(f"a daemon already answers on {self.path}")
            self.path.unlink()  # left by a daemon that was killed
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # owner-only from the moment it exists
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old_umask)
        self._bound = True
        os.chmod(self.path, 0o600)
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_MESSAGE_BYTES)

    async def close(self) -> None:
        """Stop listening and remove the socket; runs still connected are interrupted, not completed."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for writer in list(self._connections):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        if self._bound:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        run_id: str | None = None
        try:
            message = await read_message(reader)
            if message is None:
                return  # connected and left without a word: a probe
            if "command" in message:
                await _reply(writer, self.command(message))
                return
            run = self.registry.start(new_run(message, self.registry.clock()))
            run_id = run.run_id
            await _reply(writer, {"status": "ok", "run_id": run_id})
            while await reader.read(MAX_MESSAGE_BYTES):  # whatever else the client says does not matter
                pass
        except RunError as e:
            self.registry.reject(e, "socket")
            with contextlib.suppress(ConnectionError, OSError):
                await _reply(writer, {"status": "error", "reason": e.reason, "error": e.message})
        except (ConnectionError, OSError):
            pass
        finally:
            self._connections.discard(writer)
            if run_id is not None and run_id in self.registry.runs:
                self.registry.end(run_id, "interrupted" if self._closing else "completed")
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def command(self, message: dict[str, Any]) -> dict[str, Any]:
        registry, name = self.registry, message["command"]
        now = registry.clock()
        if name == "ping":
            return {"status": "ok", "message": "pong"}
        if name == "status":
            running = [r.to_json(now) for r in registry.newest_first() if r.status == "running"]
            return {"status": "ok", "daemon": self.status(), "label": registry.label(), "running": running}
        if name == "list":
            return {"status": "ok", "runs": [r.to_json(now) for r in registry.newest_first()]}
        if name == "start":
            return {"status": "ok", "run": registry.start(new_run(message, now)).to_json(now)}
        if name == "import":  # a finished run with its own time range (ton-exporter backfill --register)
            return {"status": "ok", "run": registry.add_finished(imported_run(message.get("run"))).to_json(now)}
        if name in ("get", "stop", "describe", "delete"):
            run_id = message.get("run_id")
            if not isinstance(run_id, str):
                raise RunError("bad_request", f"command {name!r} needs a run_id")
            if name == "get":
                run = registry.get(run_id)
            elif name == "stop":
                run = registry.end(run_id)
            elif name == "describe":
                run = registry.describe(run_id, message.get("description"))
            else:
                run = registry.delete(run_id)
            return {"status": "ok", "run": run.to_json(now)}
        raise RunError(
            "unknown_command",
            f"unknown command {str(name)[:40]!r}: ping, status, list, get, start, stop, describe, delete, import",
        )


def imported_run(state: object) -> Run:
    """The run of an `import` command, in the saved form (registry.Run.to_state)."""
    if not isinstance(state, dict):
        raise RunError("bad_request", 'import needs "run": {"run_id", "start", "end", ...}')
    try:
        return Run.from_state(state | {"status": "completed"})
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise RunError("bad_request", f"import: not a run ({e})") from None


async def read_message(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """One JSON object: up to a newline, or as soon as what arrived parses (tontester sends no newline); None if
    the client closes without sending anything."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HELLO_TIMEOUT_SECONDS
    data = b""
    while True:
        try:
            chunk = await asyncio.wait_for(reader.read(MAX_MESSAGE_BYTES), max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise RunError("timeout", f"no complete JSON message within {HELLO_TIMEOUT_SECONDS:.0f} s") from None
        data += chunk
        if len(data) > MAX_MESSAGE_BYTES:
            raise RunError("too_large", f"message longer than {MAX_MESSAGE_BYTES} bytes")
        if not data:
            return None
        line, newline, _ = data.partition(b"\n")
        if newline or not chunk:
            return _decode(line)
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError:
            continue  # not all there yet
        return _decode(data)


def _decode(data: bytes) -> dict[str, Any]:
    if not data.strip():
        raise RunError("bad_request", 'empty message: send a JSON object such as {"run_id": "..."}')
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise RunError("invalid_json", f"not JSON: {e}") from None
    if not isinstance(message, dict):
        raise RunError("bad_request", "the message must be a JSON object")
    if "command" not in message and "run_id" not in message:
        raise RunError("bad_request", 'a hello needs "run_id" (and "metadata"); a command needs "command"')
    return message


async def _reply(writer: asyncio.StreamWriter, answer: dict[str, Any]) -> None:
    writer.write(orjson.dumps(answer) + b"\n")
    await writer.drain()


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(path))
        except OSError as e:
            if e.errno in (errno.ECONNREFUSED, errno.ENOENT):
                return False
            raise
        return True
