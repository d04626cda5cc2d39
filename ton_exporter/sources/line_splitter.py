"""Blocks of bytes in, complete lines out.

The writer (ton-formats.md §1.2) appends one line per open/write/close, so a line may be seen before its `\\n`:
bytes after the last newline wait in a buffer until the newline arrives, and no half line is ever handed out. A
line longer than `max_line_bytes` is dropped whole (counted as `oversize_line`) without buffering it.
"""

import os

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


def start_of_last_line(fd: int, size: int) -> int:
    """Offset just after the last newline, so that a line still being written is read whole later."""
    position = size
    block = 64 * 1024
    while position > 0:
        step = min(block, position)
        data = os.pread(fd, step, position - step)
        newline = data.rfind(b"\n")
        if newline >= 0:
            return position - step + newline + 1
        position -= step
    return 0
