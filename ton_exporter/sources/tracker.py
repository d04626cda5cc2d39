"""Follow every file the source patterns match, by identity, so that no line is lost or read twice.

Each poll first looks at the candidates (discovery.py), then reads every open file to its end:

* a file already open under another name was renamed (rotation): it is read on, under its new name;
* a file seen before (same identity, identity.py) is resumed where it was left, if it grew;
* a copy of a file being read (copytruncate) is remembered but not read; when the original then shrinks, the copy
  gives the lines the original lost, from where reading had got to;
* any other file is new: read from its start, except at the very first look of a run without saved state, when
  existing files are taken from their end (like `tail -f`) unless `from_start` is set;
* a file that shrinks below the read offset, or whose first bytes change, was truncated: read again from 0;
* a deleted or renamed-away file is read to its end, then closed; a rotated copy still matched is closed once idle.

Closed files stay known (identity and offset) so that they are never read again from the start. The offsets
checkpointed are line boundaries: a partial last line is read again, whole, after a restart.
"""

import gzip
import logging
import os
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from ton_exporter.sources.discovery import SourcePattern, is_compressed, stream_name
from ton_exporter.sources.file_stats import FileStats
from ton_exporter.sources.identity import HEAD_BYTES, FileIdentity, identity_at, identity_of
from ton_exporter.sources.line_splitter import DEFAULT_MAX_LINE_BYTES, READ_SIZE, LineSplitter, start_of_last_line

log = logging.getLogger("ton_exporter.source")

IDLE_CLOSE_SECONDS = 60.0  # a rotated copy that has not grown for this long is closed (and stays known)
DETACHED_GRACE_SECONDS = 2.0  # a deleted or renamed-away file is closed this long after it stopped growing
MAX_KNOWN = 10_000
MIN_COPY_HEAD = 64  # shorter heads are too short to call two files copies of each other


class Stream(Protocol):
    """Where the lines of one logical log go (the exporter makes one per stream name)."""

    stats: FileStats

    def feed(self, offset: int, lines: list[bytes]) -> None: ...


@dataclass
class KnownFile:
    identity: FileIdentity
    offset: int  # everything before it was read (a line boundary)
    stream_name: str

    def to_json(self) -> dict[str, object]:
        return {**self.identity.to_json(), "offset": self.offset, "stream": self.stream_name}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "KnownFile":
        offset, stream = data["offset"], data["stream"]
        if not isinstance(offset, int) or offset < 0 or not isinstance(stream, str):
            raise ValueError("known file with a bad offset or stream")
        return cls(FileIdentity.from_json(data), offset, stream)


class TrackedFile:
    """One open file: where it is, who it is, how far it has been read."""

    def __init__(
        self, path: str, fd: int, identity: FileIdentity, stream: Stream, *, offset: int, max_line: int
    ) -> None:
        self.path: str | None = path  # None once no candidate path leads to it
        self.stream_name = stream_name(path)
        self.fd = fd
        self.identity = identity
        self.stream = stream
        self.offset = offset
        self.splitter = LineSplitter(stream.stats, max_line)
        self.splitter.reset(offset)
        self.last_size = -1
        self.last_links = 1
        self.last_growth = time.monotonic()

    @property
    def line_offset(self) -> int:
        """Where the first line not handed out yet starts: the offset to resume from."""
        return self.splitter.partial_offset if self.splitter.partial or self.splitter.skipping else self.offset

    def read(self, size: int) -> Iterator[tuple[int, list[bytes]]]:
        stats = self.stream.stats
        while data := os.pread(self.fd, min(size, max(self.last_size - self.offset, 4096)), self.offset):
            start = self.offset
            self.offset += len(data)
            stats.bytes_read += len(data)
            stats.last_read_time = time.time()
            self.last_growth = time.monotonic()
            chunk = self.splitter.feed(data, start)
            if chunk is not None:
                stats.lines_read += len(chunk[1])
                yield chunk

    def restart(self) -> None:
        self.offset = 0
        self.splitter.reset(0)
        self.identity = identity_of(self.fd)

    def known(self) -> KnownFile:
        return KnownFile(self.identity, self.line_offset, self.stream_name)

    def close(self) -> None:
        os.close(self.fd)


class FileTracker:
    def __init__(
        self,
        patterns: list[SourcePattern],
        stream_for: Callable[[str, SourcePattern], Stream],
        *,
        from_start: bool = False,
        restored: list[KnownFile] | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        read_size: int = READ_SIZE,
    ) -> None:
        self.patterns = patterns
        self._stream_for = stream_for
        self._from_start = from_start
        self._resuming = restored is not None
        self.max_line_bytes = max_line_bytes
        self.read_size = read_size
        self.open: dict[tuple[int, int], TrackedFile] = {}
        self.known: OrderedDict[tuple[int, int], KnownFile] = OrderedDict()
        for entry in restored or ():
            self._remember(entry)
        self._looked_at: dict[str, tuple[int, int, int, int]] = {}
        self.matched: dict[str, int] = {p.spec: 0 for p in patterns}  # files each pattern matched at the last look
        self.first_look_done = False

    # --- the poll

    def poll(self, discover: bool = True, changed: set[str] | None = None) -> Iterator[int]:
        """Look for new and changed files, then feed the complete lines of the open files to their streams.

        With `discover` false only open files are looked at, and with `changed` (absolute paths reported changed)
        only those among them. Yields the number of lines after each block fed, so that a caller can let other
        work in between."""
        if discover or not self.first_look_done:
            yield from self._discover()
            changed = None
        for tracked in list(self.open.values()):
            if changed is None or (tracked.path is not None and os.path.abspath(tracked.path) in changed):
                yield from self._read(tracked)
                self._maybe_close(tracked)
        self.first_look_done = True

    def is_open_path(self, path: str) -> bool:
        return any(tracked.path is not None and os.path.abspath(tracked.path) == path for tracked in self.open.values())

    def watch_dirs(self) -> set[str]:
        dirs: set[str] = set()
        for pattern in self.patterns:
            dirs |= pattern.watch_dirs()
        return dirs

    def checkpoint(self) -> list[KnownFile]:
        """Identity and resume offset of every file known, open or closed."""
        entries = dict(self.known.items())
        for key, tracked in self.open.items():
            entries[key] = tracked.known()
        return list(entries.values())

    def close(self) -> None:
        for tracked in list(self.open.values()):
            self._close(tracked)

    # --- discovery

    def _discover(self) -> Iterator[int]:
        seen: set[tuple[int, int]] = set()
        for pattern in self.patterns:
            candidates = pattern.candidates()
            self.matched[pattern.spec] = len(candidates)
            for path in candidates:
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                key = (st.st_dev, st.st_ino)
                seen.add(key)
                tracked = self.open.get(key)
                if tracked is not None:
                    tracked.path = path  # renamed, perhaps: rotation keeps the inode
                    continue
                look = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
                if self._looked_at.get(path) == look:
                    continue
                self._looked_at[path] = look
                yield from self._consider(path, pattern, st.st_size)
        for key, tracked in self.open.items():
            if key not in seen:
                tracked.path = None  # deleted, or renamed to something no pattern matches

    def _consider(self, path: str, pattern: SourcePattern, size: int) -> Iterator[int]:
        identity = identity_at(path)
        if identity is None:
            return
        stream = self._stream_for(stream_name(path), pattern)
        known = self.known.get((identity.dev, identity.ino))
        if known is not None and known.identity.same_file(identity):
            if size > known.offset:
                yield from self._open(path, identity, stream, known.offset, reason="resumed")
            return
        original = self._original_of(identity, stream_name(path))
        if original is not None:
            yield from self._copy_found(path, identity, stream, original, size)
            return
        if is_compressed(path):
            yield from self._read_compressed(path, identity, stream)
            return
        if self.first_look_done or self._from_start or self._resuming:
            yield from self._open(path, identity, stream, 0, reason="new")
        else:
            yield from self._open(path, identity, stream, None, reason="existing")

    def _original_of(self, identity: FileIdentity, stream: str) -> "TrackedFile | KnownFile | None":
        """A file of the same stream with the same content under another inode: the original of a copy."""
        if len(identity.head) < MIN_COPY_HEAD:
            return None
        candidates: list[TrackedFile | KnownFile] = [*self.open.values(), *self.known.values()]
        for candidate in candidates:
            other = candidate.identity
            if (
                candidate.stream_name == stream
                and other.same_content(identity)
                and (other.dev, other.ino) != (identity.dev, identity.ino)
            ):
                return candidate
        return None

    def _copy_found(
        self, path: str, identity: FileIdentity, stream: Stream, original: "TrackedFile | KnownFile", size: int
    ) -> Iterator[int]:
        """A copy of a file being read is not read (it would count lines twice) until the original shrinks; a copy
        of a file no longer open (the original was truncated while we were down) gives what was not read yet."""
        if isinstance(original, KnownFile) and original.offset < size:
            log.info("reading the rest of a copy", extra={"file": path, "from_offset": original.offset})
            yield from self._read_once(path, stream, original.offset, identity)
        else:
            self._remember(KnownFile(identity, size, stream_name(path)))

    # --- reading

    def _open(
        self, path: str, identity: FileIdentity, stream: Stream, offset: int | None, reason: str
    ) -> Iterator[int]:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (identity.dev, identity.ino):  # replaced between two looks: next poll
            os.close(fd)
            self._looked_at.pop(path, None)
            return
        if offset is None:
            offset = start_of_last_line(fd, st.st_size)
        tracked = TrackedFile(path, fd, identity, stream, offset=offset, max_line=self.max_line_bytes)
        self.open[(identity.dev, identity.ino)] = tracked
        self.known.pop((identity.dev, identity.ino), None)
        stream.stats.up = True
        if path == tracked.stream_name and stream.stats.opened_files and reason == "new":
            stream.stats.rotations += 1  # a new file took the stream's path: renamed or deleted and recreated
        stream.stats.opened_files += 1
        log.info("following file", extra={"file": path, "offset": offset, "reason": reason})
        yield from self._read(tracked)

    def _read(self, tracked: TrackedFile) -> Iterator[int]:
        self._check_truncation(tracked)
        stream = tracked.stream
        if tracked.last_size > tracked.offset:
            for offset, lines in tracked.read(self.read_size):
                stream.feed(offset, lines)
                yield len(lines)
        if tracked.path == tracked.stream_name:
            stream.stats.size = max(tracked.last_size, tracked.offset)
            stream.stats.offset = tracked.offset

    def _check_truncation(self, tracked: TrackedFile) -> None:
        st = os.fstat(tracked.fd)
        size = st.st_size
        tracked.last_links = st.st_nlink
        if size == tracked.last_size:
            return
        tracked.last_size = size
        head = os.pread(tracked.fd, HEAD_BYTES, 0)
        if size >= tracked.offset and head.startswith(tracked.identity.head):
            if len(head) > len(tracked.identity.head):
                tracked.identity = replace(tracked.identity, head=head)
            return
        stats = tracked.stream.stats
        stats.truncations += 1
        lost = self._recover_from_copy(tracked)
        log.warning(
            "file truncated; reading it again from the start",
            extra={"file": tracked.path, "offset": tracked.line_offset, "recovered_from_copy": lost == 0},
        )
        tracked.restart()
        tracked.last_size = size

    def _recover_from_copy(self, tracked: TrackedFile) -> int:
        """After copytruncate: read, from a copy of the old content, what had not been read. Returns how many
        bytes may have been lost (0 if a copy gave them)."""
        offset = tracked.line_offset
        directory = os.path.dirname(tracked.path or tracked.stream.stats.path) or "."
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            identity = identity_at(path)
            if identity is None or (identity.dev, identity.ino) == (tracked.identity.dev, tracked.identity.ino):
                continue
            if identity.same_content(tracked.identity) and len(identity.head) >= MIN_COPY_HEAD:
                size = os.path.getsize(path)
                if size >= offset:
                    for _ in self._read_once(path, tracked.stream, offset, identity):
                        pass  # fed as it is read
                    return 0
        return max(0, tracked.last_size - offset)

    def _read_once(self, path: str, stream: Stream, offset: int, identity: FileIdentity) -> Iterator[int]:
        """Read a file that is not followed (a copy) from `offset` to its end; remember it as fully read."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        tracked = TrackedFile(path, fd, identity, stream, offset=offset, max_line=self.max_line_bytes)
        try:
            for chunk_offset, lines in tracked.read(self.read_size):
                stream.feed(chunk_offset, lines)
                yield len(lines)
            self._remember(tracked.known())
        finally:
            tracked.close()

    def _read_compressed(self, path: str, identity: FileIdentity, stream: Stream) -> Iterator[int]:
        """A compressed file named by the pattern: a finished log, read once from its start."""
        splitter = LineSplitter(stream.stats, self.max_line_bytes)
        stats = stream.stats
        stats.up = True
        position = 0
        try:
            with gzip.open(path, "rb") as f:
                while data := f.read(self.read_size):
                    stats.bytes_read += len(data)
                    stats.last_read_time = time.time()
                    chunk = splitter.feed(data, position)
                    position += len(data)
                    if chunk is not None:
                        stats.lines_read += len(chunk[1])
                        stream.feed(*chunk)
                        yield len(chunk[1])
        except (OSError, EOFError, zlib.error) as e:  # corrupt or truncated archive: keep what was read
            stats.reject("bad_gzip", position, str(e))
        stats.offset = stats.size = position
        self._remember(KnownFile(identity, os.path.getsize(path), stream_name(path)))

    # --- closing

    def _maybe_close(self, tracked: TrackedFile) -> None:
        deleted = tracked.last_links == 0
        idle = time.monotonic() - tracked.last_growth
        if (deleted or tracked.path is None) and idle >= DETACHED_GRACE_SECONDS:
            log.info("closing file that is gone", extra={"file": tracked.path or tracked.stream.stats.path})
            self._close(tracked)
        elif tracked.path is not None and tracked.path != tracked.stream_name and idle >= IDLE_CLOSE_SECONDS:
            self._close(tracked)

    def _close(self, tracked: TrackedFile) -> None:
        key = (tracked.identity.dev, tracked.identity.ino)
        self.open.pop(key, None)
        self._remember(tracked.known())
        tracked.close()
        if not any(t.stream is tracked.stream for t in self.open.values()):
            tracked.stream.stats.up = os.path.exists(tracked.stream.stats.path)

    def _remember(self, entry: KnownFile) -> None:
        key = (entry.identity.dev, entry.identity.ino)
        self.known[key] = entry
        self.known.move_to_end(key)
        while len(self.known) > MAX_KNOWN:
            self.known.popitem(last=False)
