"""Saved state, so that a restart resumes where the exporter stopped and no line is counted twice.

A checkpoint holds, together and consistently, the identity and resume offset of every file known (sources/
tracker.py) and the cumulative counters of every stream and node: after a restart, the lines past the saved
offsets are read again and counted again from the saved counters, so every line counts exactly once. A checkpoint
is written before every `/metrics` answer (a counter Prometheus has seen must never go back), every few seconds,
and on shutdown; atomically: written to a temporary file, flushed to disk, then renamed over the old one.

What is not kept: the rows of 60 s windows in progress (a window that spans a restart misses the rows read before
it) and gauges that are measured again (file sizes, offsets).

Policy when the state cannot be used, said in the log and in `tonex_state_loads_total{result}`:
* `missing` (first run): start as without state: files that exist are read from their end, or from their start
  with `--from-start`;
* `corrupt` (not JSON, wrong shape, another format version): the file is renamed to `checkpoint.json.corrupt`
  and the exporter starts as on a first run.
"""

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ton_exporter.sources.identity import HEAD_BYTES, FileIdentity
from ton_exporter.sources.tracker import KnownFile

log = logging.getLogger("ton_exporter.state")

FORMAT_VERSION = 1
FILE_NAME = "checkpoint.json"


@dataclass
class Checkpoint:
    files: list[KnownFile]
    streams: dict[str, dict[str, Any]]
    nodes: dict[str, dict[str, Any]]
    run: str | None = None  # the run the node counters belong to (absent in older checkpoints)
    # the run's cross-node counters (crosslinks.py, broadcast_spans.py); absent in older checkpoints
    cross: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "version": FORMAT_VERSION,
            "written_at": time.time(),
            "files": [f.to_json() for f in self.files],
            "streams": self.streams,
            "nodes": self.nodes,
            "run": self.run,
            "cross": self.cross,
        }

    @classmethod
    def from_json(cls, data: Any) -> "Checkpoint":
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError("not a checkpoint of this format version")
        files, streams, nodes = data["files"], data["streams"], data["nodes"]
        if not isinstance(files, list) or not isinstance(streams, dict) or not isinstance(nodes, dict):
            raise ValueError("checkpoint sections of the wrong type")
        run = data.get("run")
        if run is not None and not isinstance(run, str):
            raise ValueError("checkpoint run of the wrong type")
        cross = data.get("cross", {})
        if not isinstance(cross, dict):
            raise ValueError("checkpoint cross-node section of the wrong type")
        return cls([KnownFile.from_json(f) for f in files], streams, nodes, run, cross)


@dataclass
class StateStore:
    directory: Path
    loads: Counter[str] = field(default_factory=Counter)
    saves: int = 0
    save_errors: int = 0
    last_save_time: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _issued: int = 0  # saves begun
    _installed: int = 0  # the newest save renamed into place

    @property
    def path(self) -> Path:
        return self.directory / FILE_NAME

    def load(self) -> Checkpoint | None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            self.loads["missing"] += 1
            log.info("no saved state: starting as on a first run", extra={"state": str(self.path)})
            return None
        try:
            checkpoint = Checkpoint.from_json(orjson.loads(text))
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as e:
            self.loads["corrupt"] += 1
            aside = self.path.with_name(FILE_NAME + ".corrupt")
            os.replace(self.path, aside)
            log.error(
                "saved state unusable: moved aside, starting as on a first run",
                extra={"state": str(self.path), "moved_to": str(aside), "error": str(e)[:200]},
            )
            return None
        self.loads["restored"] += 1
        log.info("resuming from saved state", extra={"state": str(self.path), "files": len(checkpoint.files)})
        return checkpoint

    def save(self, checkpoint: Checkpoint) -> None:
        """Save now, on the caller's thread (at shutdown)."""
        self._write(orjson.dumps(checkpoint.to_json()), self._next_sequence())

    async def save_async(self, checkpoint: Checkpoint) -> None:
        """Save off the event loop. The snapshot is taken and encoded here, on the loop (the state is the
        loop's); writing and both fsyncs run in a thread. Saves run side by side, each into its own temporary
        file, and a save installs its file only if no newer one was installed first: so a scrape waits on one
        fsync, its own, never on a queue of earlier saves, and an older snapshot never replaces a newer one."""
        data = orjson.dumps(checkpoint.to_json())  # encoded here: to_json may share lists the loop goes on changing
        await asyncio.to_thread(self._write, data, self._next_sequence())

    def _next_sequence(self) -> int:
        with self._lock:
            self._issued += 1
            return self._issued

    def _write(self, data: bytes, sequence: int) -> None:
        temporary = self.path.with_name(f"{FILE_NAME}.tmp.{sequence}")
        try:
            write_durably(temporary, data)
            with self._lock:
                if sequence < self._installed:
                    temporary.unlink()
                    return
                os.replace(temporary, self.path)
                self._installed = sequence
            fsync_directory(self.path.parent)
        except OSError as e:
            with contextlib.suppress(OSError):
                temporary.unlink()
            with self._lock:
                self.save_errors += 1
            if self.save_errors == 1 or self.save_errors % 100 == 0:
                log.error(
                    "cannot save state", extra={"state": str(self.path), "error": str(e), "errors": self.save_errors}
                )
            return
        with self._lock:
            self.saves += 1
            self.last_save_time = time.time()


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file, flush it to disk, rename it over `path`, flush the directory."""
    temporary = path.with_name(path.name + ".tmp")
    write_durably(temporary, data)
    os.replace(temporary, path)
    fsync_directory(path.parent)


def write_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def saved_read_to_end(state: Path, path: Path) -> bool:
    """Whether the checkpoint saved in `state` holds `path` (its identity: device, inode and head) read to its end:
    only then may a file be deleted without a restart losing a line of it."""
    try:
        status = path.stat()
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
        data = orjson.loads((state / FILE_NAME).read_bytes())
        files = [KnownFile.from_json(entry) for entry in data["files"]]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return False  # no saved state (yet), or one that cannot be read: keep the file
    here = FileIdentity(status.st_dev, status.st_ino, head)
    return any(f.identity.same_file(here) and f.offset >= status.st_size for f in files)
