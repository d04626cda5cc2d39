"""The files of a finished run: which ones, opened plain or gzip, read as lines with the time each line is due.

A line is *due* at the time the engine wrote it: the newest event time it carries (`collated_at`,
`validated_at`, the last event's `ts` of a consensus batch, a td line's prefix time). Live, a line reaches the
exporter at that wall time; the backfill feeds it when event time reaches it. The due time is read from the
bytes without decoding the line (the pipeline decodes it once, as live): a bounded `find`, never a parse.

Lines whose due time cannot be read (a continuation line, a line about to be rejected) are due with the line
before them, and so are lines whose time goes backwards or jumps further ahead than `MAX_JUMP_SECONDS` (a
corrupt timestamp must not make the backfill sample years of nothing): a file's due times never decrease.
"""

import gzip
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ton_exporter.parsers.td_prefix import PREFIX, parse_timestamp, strip_colour
from ton_exporter.sources.discovery import SourcePattern, is_compressed
from ton_exporter.sources.file_stats import FileStats, SourceFormat
from ton_exporter.sources.line_splitter import READ_SIZE, LineSplitter

MAX_JUMP_SECONDS = 86400.0
_EVENTS = b'"consensus.stats.events"'
_TIME_KEYS = (b'"collated_at":', b'"validated_at":')
_TS = b'"ts":'
_NUMBER_END = b",}] \t"
_SPACE = b" \t"


class InputError(Exception):
    """A specification that names no readable file: bad input, said before anything is written."""


@dataclass(frozen=True)
class InputFile:
    path: str
    node: str | None  # NODE= of the specification, else from the path (sources/node_names.py)
    format: SourceFormat


def resolve(patterns: list[SourcePattern]) -> list[InputFile]:
    """Every file the patterns match now (rotated copies included; compressed ones when a pattern names them)."""
    files: list[InputFile] = []
    seen: set[str] = set()
    for pattern in patterns:
        candidates = pattern.candidates()
        if not candidates and pattern.kind == "file" and os.path.isfile(pattern.spec):
            candidates = [pattern.spec]
        if not candidates:
            raise InputError(f"{pattern.spec}: no such file (or nothing matches)")
        for path in candidates:
            if not os.access(path, os.R_OK):
                raise InputError(f"{path}: not readable")
            if path not in seen:
                seen.add(path)
                files.append(InputFile(path, pattern.node, pattern.format))
    return files


class Progress:
    """Bytes of the files on disk consumed so far (compressed bytes for a compressed file)."""

    def __init__(self) -> None:
        self.done = 0
        self.reading: list[BinaryIO] = []

    def consumed(self) -> int:
        return self.done + sum(f.tell() for f in self.reading if not f.closed)


def read_chunks(
    path: str, stats: FileStats, max_line_bytes: int, progress: Progress | None = None
) -> Iterator[tuple[int, list[bytes]]]:
    """(offset of the first line, complete lines) of a plain or gzip file; a corrupt archive is counted
    (bad_gzip) and what was read before the damage is kept. A last line without a newline is a line."""
    splitter = LineSplitter(stats, max_line_bytes)
    position = 0
    stats.up = True
    raw = open(path, "rb")  # noqa: SIM115 (closed below, also when the caller stops early)
    size_on_disk = os.fstat(raw.fileno()).st_size
    if progress is not None:
        progress.reading.append(raw)
    try:
        with gzip.GzipFile(fileobj=raw, mode="rb") if is_compressed(path) else raw as f:
            while data := f.read(READ_SIZE):
                stats.bytes_read += len(data)
                chunk = splitter.feed(data, position)
                position += len(data)
                if chunk is not None:
                    stats.lines_read += len(chunk[1])
                    yield chunk
            if splitter.partial:  # a finished file: its unterminated last line is complete
                stats.lines_read += 1
                yield splitter.partial_offset, [splitter.partial]
    except (OSError, EOFError, zlib.error) as e:
        if not is_compressed(path) or isinstance(e, FileNotFoundError | PermissionError):
            raise  # a plain file that cannot be read is not bad content: the command says so and stops
        stats.reject("bad_gzip", position, str(e))  # a corrupt or truncated archive: keep what was read
    finally:
        if progress is not None:
            progress.done += size_on_disk
            progress.reading.remove(raw)
        raw.close()
    stats.offset = stats.size = position


def session_stats_time(line: bytes) -> float | None:
    if _EVENTS in line[:64]:
        at = line.rfind(_TS)
        if at < 0:
            return None
        return _number(line, at + len(_TS))
    for key in _TIME_KEYS:
        at = line.find(key, 0, 4096)
        if at >= 0:
            return _number(line, at + len(key))
    return None


def text_log_time(line: bytes) -> float | None:
    match = PREFIX.match(strip_colour(line[:512]))
    if match is None:
        return None
    try:
        return parse_timestamp(match.group(3))
    except (ValueError, KeyError):
        return None


def _number(line: bytes, start: int) -> float | None:
    stop = min(len(line), start + 40)
    while start < stop and line[start] in _SPACE:  # `"ts": 1.5` is JSON too (pretty printers, other writers)
        start += 1
    end = start
    while end < stop and line[end] not in _NUMBER_END:
        end += 1
    try:
        return float(line[start:end])
    except ValueError:
        return None


class DueTimes:
    """A file's due times: never decreasing, never jumping more than MAX_JUMP_SECONDS ahead."""

    def __init__(self, format: str) -> None:
        self._peek = text_log_time if format == "text_log" else session_stats_time
        self.last: float | None = None

    def of(self, line: bytes) -> float | None:
        t = self._peek(line)
        last = self.last
        if t is None or t != t:  # NaN
            return last
        if last is not None and (t < last or t - last > MAX_JUMP_SECONDS):
            return last
        self.last = t
        return t
