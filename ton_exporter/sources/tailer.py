"""Follow one file as it grows and hand out complete lines.

The writer (ton-formats.md §1.2) appends one line per open/write/close, so a line may be seen before its `\\n`:
bytes after the last newline wait in a buffer until the newline arrives. A line longer than `max_line_bytes` is
dropped whole (counted as `oversize_line`) without buffering it. When the path turns into a new file (rename
rotation, delete and recreate), the old file is read to its end first; when the file shrinks below the read
offset (copytruncate, truncation), reading restarts at its beginning.
"""

import gzip
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ton_exporter.sources.file_stats import FileStats

DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
READ_SIZE = 1024 * 1024

Chunk = tuple[int, list[bytes]]
"""Complete lines (without `\\n`) and the file offset of the first one."""


class LineSplitter:
    """Turns a stream of byte blocks into complete lines, with offsets, bounding the partial line."""

    def __init__(self, stats: FileStats, max_line_bytes: int) -> None:
        self.stats = stats
        self.max_line_bytes = max_line_bytes
        self.partial = b""
        self.partial_offset = 0
        self.skipping = False  # inside an oversize line: drop bytes up to the next newline

    def reset(self, offset: int) -> None:
        self.partial = b""
        self.partial_offset = offset
        self.skipping = False

    def feed(self, data: bytes, offset: int) -> Chunk | None:
        """`data` was read at file offset `offset`; return the lines it completes."""
        if b"\n" not in data:
            self._keep_partial(data, offset)
            return None
        lines = data.split(b"\n")
        tail = lines.pop()  # after the last newline: not a line yet
        start = self.partial_offset
        if self.skipping:  # the first piece ends an oversize line that was already dropped
            start = offset + len(lines[0]) + 1
            del lines[0]
            self.skipping = False
        elif self.partial:
            lines[0] = self.partial + lines[0]
        else:
            start = offset
        self.partial = b""
        self.partial_offset = offset + len(data) - len(tail)
        self._keep_partial(tail, self.partial_offset)
        if lines and max(map(len, lines)) > self.max_line_bytes:
            lines, start = self._drop_oversize(lines, start)
        return (start, lines) if lines else None

    def _keep_partial(self, data: bytes, offset: int) -> None:
        if self.skipping or not data:
            return
        if not self.partial:
            self.partial_offset = offset
        if len(self.partial) + len(data) > self.max_line_bytes:
            self.stats.reject("oversize_line", self.partial_offset, f"longer than {self.max_line_bytes} bytes")
            self.partial, self.skipping = b"", True
            return
        self.partial += data

    def _drop_oversize(self, lines: list[bytes], start: int) -> tuple[list[bytes], int]:
        """Remove lines longer than the limit. The offset returned is that of the first line kept; the offsets
        of the lines after a dropped one shift, which only matters for the position in a log message."""
        kept: list[bytes] = []
        position = start
        first_offset = None
        for line in lines:
            if len(line) > self.max_line_bytes:
                self.stats.reject("oversize_line", position, f"longer than {self.max_line_bytes} bytes")
            else:
                if first_offset is None:
                    first_offset = position
                kept.append(line)
            position += len(line) + 1
        return kept, first_offset if first_offset is not None else start


class FileTailer:
    """Polls one path. `poll()` yields chunks of complete lines until the file has nothing new."""

    def __init__(
        self,
        path: Path,
        stats: FileStats,
        *,
        from_start: bool,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        read_size: int = READ_SIZE,
    ) -> None:
        self.path = path
        self.stats = stats
        self.read_size = read_size
        self.splitter = LineSplitter(stats, max_line_bytes)
        self._from_start = from_start
        self._file: BinaryIO | None = None
        self._inode: tuple[int, int] | None = None
        self.opened_once = False

    def poll(self) -> Iterator[Chunk]:
        if self._file is None and not self._open():
            return
        yield from self._read_available()
        replaced = self._check_path()
        if replaced:
            yield from self._read_available()  # the new file may already hold lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> bool:
        try:
            f = open(self.path, "rb")  # noqa: SIM115  (kept open across polls)
        except FileNotFoundError:
            self.stats.up = False
            return False
        except OSError:
            self.stats.up = False
            return False
        st = os.fstat(f.fileno())
        self._file, self._inode = f, (st.st_dev, st.st_ino)
        start = 0
        if not self.opened_once and not self._from_start:
            start = _start_of_last_line(f, st.st_size)
        self.opened_once = True
        f.seek(start)
        self.stats.offset = start
        self.stats.size = st.st_size
        self.stats.up = True
        self.splitter.reset(start)
        return True

    def _read_available(self) -> Iterator[Chunk]:
        assert self._file is not None
        yield from read_lines(self._file, self.stats, self.splitter, self.read_size)

    def _check_path(self) -> bool:
        """At the end of the open file: notice truncation or a new file at the path. True if reopened."""
        f = self._file
        assert f is not None
        own = os.fstat(f.fileno())
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.stats.size = own.st_size
            return False  # deleted or renamed away: keep the open file until a new one appears
        if (st.st_dev, st.st_ino) != self._inode:
            self.close()
            self.stats.rotations += 1
            return self._open()
        self.stats.size = st.st_size
        if st.st_size < self.stats.offset:
            self.stats.truncations += 1
            f.seek(0)
            self.stats.offset = 0
            self.splitter.reset(0)
            return True
        return False


def read_lines(f: BinaryIO | gzip.GzipFile, stats: FileStats, splitter: LineSplitter, size: int) -> Iterator[Chunk]:
    """Read `f` to its current end in blocks of `size`; yield the complete lines, counting what was read."""
    while data := f.read(size):
        offset = stats.offset
        stats.offset = offset + len(data)
        stats.bytes_read += len(data)
        stats.last_read_time = time.time()
        chunk = splitter.feed(data, offset)
        if chunk is not None:
            stats.lines_read += len(chunk[1])
            yield chunk


def _start_of_last_line(f: BinaryIO, size: int) -> int:
    """Offset just after the last newline, so that a line still being written is read whole later."""
    position = size
    block = 64 * 1024
    while position > 0:
        step = min(block, position)
        f.seek(position - step)
        data = f.read(step)
        newline = data.rfind(b"\n")
        if newline >= 0:
            return position - step + newline + 1
        position -= step
    return 0


class GzipFileReader:
    """A finished, gzip-compressed session-stats file: read once from its start, never followed."""

    def __init__(self, path: Path, stats: FileStats, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.path = path
        self.stats = stats
        self.splitter = LineSplitter(stats, max_line_bytes)
        self._done = False

    def poll(self) -> Iterator[Chunk]:
        if self._done:
            return
        try:
            raw = open(self.path, "rb")  # noqa: SIM115
        except OSError:
            self.stats.up = False
            return
        self.stats.up = True
        self.stats.size = os.fstat(raw.fileno()).st_size
        with raw, gzip.GzipFile(fileobj=raw) as f:
            try:
                yield from self._read(f)
            except (OSError, EOFError) as e:  # corrupt or truncated archive: keep what was read
                self.stats.reject("bad_gzip", self.stats.offset, str(e))
        self._done = True

    def _read(self, f: gzip.GzipFile) -> Iterator[Chunk]:
        yield from read_lines(f, self.stats, self.splitter, READ_SIZE)

    def close(self) -> None:
        self._done = True
