"""What a source specification matches: a file, a glob or a directory, and the rotated copies of what it matches.

A *stream* is one logical log: `node1/session-logs` and its rotated predecessors `session-logs.1`,
`session-logs-20261125`, `session-logs.old` (td's SIGHUP rotation) are one stream, named by the path without the
rotation suffix. Every file a specification can match right now is a *candidate*; which candidates hold lines not
read yet is for the tracker to decide by file identity.

Compressed files (`.gz`, ...) are finished copies: a pattern that matches them by accident (a rotated and then
compressed copy of a file being followed) would count their lines twice, so they are candidates only when the
specification names them (`run42/*.jsonl.gz`); they are then read once from the start.
"""

import fnmatch
import functools
import glob
import os
import re
from dataclasses import dataclass

from ton_exporter.sources.file_stats import SourceFormat

_ROTATION_SUFFIX = re.compile(r"(?:\.\d{1,6}|-\d{8}(?:\d{2,6})?|\.old)$")
COMPRESSED = (".gz", ".xz", ".bz2", ".zst", ".lz4")
_GLOB_CHARS = re.compile(r"[*?\[]")


def stream_name(path: str) -> str:
    """The stream a file belongs to: its path without a rotation suffix."""
    return _ROTATION_SUFFIX.sub("", path)


def is_compressed(path: str) -> bool:
    return path.endswith(COMPRESSED)


@dataclass(frozen=True)
class SourcePattern:
    """One `--session-logs` (or `--text-log`) value: a file path, a glob, or a directory."""

    spec: str
    node: str | None = None  # a fixed node label for everything it matches
    format: SourceFormat = "session_stats"  # which pipeline reads what it matches

    @property
    def kind(self) -> str:
        if _GLOB_CHARS.search(self.spec):
            return "glob"
        if os.path.isdir(self.spec):
            return "dir"
        return "file"

    @property
    def wants_compressed(self) -> bool:
        return is_compressed(self.spec)

    def candidates(self) -> list[str]:
        """Paths of regular files this pattern matches now, rotated copies included, sorted."""
        kind = self.kind
        if kind == "file":
            matched = [self.spec] if os.path.isfile(self.spec) else []
            bases = [self.spec]
        elif kind == "dir":
            matched = _files_in(self.spec)
            bases = []
        else:
            matched = [p for p in glob.glob(self.spec) if os.path.isfile(p)]
            bases = [p for p in matched if stream_name(p) == p]
        found = set(matched)
        for base in bases:
            found.update(_rotated_copies(base))
        return sorted(p for p in found if self.wants_compressed or not is_compressed(p))

    def could_match(self, path: str) -> bool:
        """Whether a changed absolute path can be (or become) one of this pattern's candidates; no file access.

        Called for every file event in a watched directory, so it is kept to string operations."""
        spec = self._absolute
        directory, _, name = path.rpartition("/")
        if self._kind_at_start == "file":
            return directory == self._spec_dir and name.startswith(self._spec_name)
        if self._kind_at_start == "dir":
            return directory == spec
        return fnmatch.fnmatch(path, spec) or fnmatch.fnmatch(stream_name(path), spec)

    @functools.cached_property
    def _absolute(self) -> str:
        return os.path.abspath(self.spec)

    @functools.cached_property
    def _spec_dir(self) -> str:
        return os.path.dirname(self._absolute)

    @functools.cached_property
    def _spec_name(self) -> str:
        return os.path.basename(self._absolute)

    @functools.cached_property
    def _kind_at_start(self) -> str:
        """The kind when first asked (a file pattern whose path later becomes a directory keeps its kind here)."""
        return self.kind

    def watch_dirs(self) -> set[str]:
        """Existing directories (absolute paths) whose direct entries can change what this pattern matches."""
        return {os.path.abspath(d) for d in self._watch_dirs()}

    def _watch_dirs(self) -> set[str]:
        kind = self.kind
        if kind == "dir":
            return {self.spec}
        if kind == "file":
            parent = os.path.dirname(self.spec) or "."
            return {parent} if os.path.isdir(parent) else set()
        directory_part = os.path.dirname(self.spec)
        dirs = {d for d in glob.glob(directory_part) if os.path.isdir(d)} if directory_part else {"."}
        base = _existing_prefix(self.spec)
        if base:
            dirs.add(base)
        return dirs


def _files_in(directory: str) -> list[str]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    paths = (os.path.join(directory, n) for n in names if not n.startswith("."))
    return [p for p in paths if os.path.isfile(p)]


def _rotated_copies(base: str) -> list[str]:
    directory, name = os.path.split(base)
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    return [
        os.path.join(directory, n)
        for n in names
        if n != name and n.startswith(name) and _ROTATION_SUFFIX.search(n) and _ROTATION_SUFFIX.sub("", n) == name
    ]


def _existing_prefix(pattern: str) -> str:
    """The longest leading directory of a glob that has no glob characters and exists."""
    parts = pattern.split(os.sep)
    prefix: list[str] = []
    for part in parts[:-1]:
        if _GLOB_CHARS.search(part):
            break
        prefix.append(part)
    path = os.sep.join(prefix) or ("/" if pattern.startswith("/") else ".")
    return path if os.path.isdir(path) else ""
