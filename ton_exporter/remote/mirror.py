"""Remote files copied, append-only, into a local spool that the local tailer follows.

Why a spool: the local tailer already gives every guarantee (identity, partial lines, offsets and counters saved
together); the spool turns whatever the remote files do into files that only grow, so those guarantees carry over.

Invariants:
* A spool file holds the bytes of exactly one remote file, from its first byte, in order; its size is how far that
  remote file has been fetched. The spool lives in the state directory, so a restart resumes from it: nothing is
  fetched twice, nothing skipped.
* Remote files are matched to spool files by content (the first `HEAD_BYTES` bytes, one head the start of the
  other), as local identity's `same_content` does: SFTP gives no inode. A renamed file (rotation) keeps its head and
  so its spool file; a new file at the path, or a truncated and rewritten one, has another head and gets a new
  spool file; a copytruncate copy has the original's head and continues its spool file.
* At most `CHUNK_BYTES` are held in memory per file per read.
* Starting at the end (a first start without --from-start, as a local file existing at the start is read from its
  end): a remote file that exists when its stream is first polled starts its spool file at the end of its last
  complete line. The spool file then holds the remote bytes from that offset (`.base` beside it says which) and
  the remote file's head (`.head`), by which it is matched; what was written before is never fetched or counted.
* The spool does not grow without bound: a spool file whose remote file is gone (no candidate matched it in a
  poll that listed and opened every candidate) is deleted once the saved state says the local tailer read it to
  its end (`prune`); until then it stays, so that a restart still finds every byte it has to count.
"""

import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from ton_exporter.sources.identity import HEAD_BYTES

CHUNK_BYTES = 1024 * 1024
SPOOL_SUFFIX = ".log"


@dataclass
class SpoolFile:
    path: Path
    head: bytes  # the remote file's first bytes (up to HEAD_BYTES)
    size: int  # how far the remote file has been fetched: base + the spool file's size
    base: int = 0  # the remote offset of the spool file's first byte

    def same_content(self, head: bytes) -> bool:
        if not head or not self.head:
            return False
        shorter, longer = sorted((self.head, head), key=len)
        return longer.startswith(shorter)


class Spool:
    """The spool of one remote stream (one node, one kind of log): DIR/000001.log, DIR/000002.log, ..."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.files: list[SpoolFile] = []
        self.orphans: list[SpoolFile] = []  # after a complete poll: spool files no remote file matched
        self.last_number = 0
        for path in sorted(directory.glob(f"*{SPOOL_SUFFIX}")):
            base_file, head_file = path.with_suffix(".base"), path.with_suffix(".head")
            base = int(base_file.read_text()) if base_file.exists() else 0
            with open(path, "rb") as f:
                head = head_file.read_bytes() if head_file.exists() else f.read(HEAD_BYTES)
                self.files.append(SpoolFile(path, head, base + os.fstat(f.fileno()).st_size, base))

    @property
    def pattern(self) -> str:
        return str(self.directory / f"*{SPOOL_SUFFIX}")

    def match(self, head: bytes) -> SpoolFile | None:
        for spool in reversed(self.files):
            if spool.same_content(head):
                return spool
        return None

    def new(self) -> SpoolFile:
        self.last_number = max([self.last_number, *(int(f.path.stem) for f in self.files)])
        number = self.last_number = self.last_number + 1  # never a deleted file's name again
        spool = SpoolFile(self.directory / f"{number:06d}{SPOOL_SUFFIX}", b"", 0)
        spool.path.touch()
        self.files.append(spool)
        return spool

    def new_at(self, head: bytes, base: int) -> SpoolFile:
        """A spool file for a remote file whose first `base` bytes are left out (starting at the end)."""
        spool = self.new()
        spool.path.with_suffix(".head").write_bytes(head)  # before .base: a crash between leaves a start at 0
        spool.path.with_suffix(".base").write_text(str(base))
        spool.head, spool.size, spool.base = head, base, base
        return spool

    def append(self, spool: SpoolFile, data: bytes) -> None:
        with open(spool.path, "ab") as f:
            f.write(data)
        if len(spool.head) < HEAD_BYTES and spool.base == 0:  # a file started at its end keeps the head it had
            spool.head = (spool.head + data)[:HEAD_BYTES]
        spool.size += len(data)


async def remote_candidates(sftp: asyncssh.SFTPClient, spec: str) -> list[str]:
    """The remote files a spec names, as locally: a directory's files, a glob's matches, or a file and its rotated
    copies (FILE.N, FILE-DATE, FILE.old); compressed copies left aside."""
    if any(c in spec for c in "*?["):
        paths = await _glob(sftp, spec)
    elif await sftp.isdir(spec):
        paths = [posixpath.join(spec, name) for name in await sftp.listdir(spec) if not name.startswith(".")]
    else:
        paths = [spec, *await _glob(sftp, spec + ".*"), *await _glob(sftp, spec + "-*")]
    files = []
    for path in sorted(set(map(str, paths))):
        if path.endswith((".gz", ".xz", ".bz2", ".zst", ".lz4")):
            continue
        try:
            if await sftp.isfile(path):
                files.append(path)
        except (asyncssh.SFTPError, OSError):
            continue  # gone between listing and looking: the next poll sees what replaced it
    return files


async def fetch(sftp: asyncssh.SFTPClient, spec: str, spool: Spool, at_end: bool = False) -> tuple[int, int]:
    """Copy what is new in the remote files of `spec` into `spool`; (bytes fetched, bytes still behind). With
    `at_end` (the stream's first poll on a first start), files not in the spool start at their end."""
    fetched = behind = 0
    matched: list[SpoolFile] = []
    complete = True  # every candidate opened: a spool file no candidate matched belongs to a file that is gone
    for path in await remote_candidates(sftp, spec):
        try:
            async with sftp.open(path, "rb") as f:  # one handle: the same remote file from head to tail
                size = (await f.stat()).size or 0
                if size == 0:
                    continue
                head = _bytes(await f.read(min(HEAD_BYTES, size), 0))
                target = spool.match(head)
                if target is None and at_end:
                    target = spool.new_at(head, await _last_line_end(f, size))
                done = target.size if target is not None else 0
                if target is not None:
                    matched.append(target)
                if done >= size:
                    continue  # fetched already (or a copy still being written, shorter than what we have)
                data = _bytes(await f.read(min(CHUNK_BYTES, size - done), done))
        except (asyncssh.SFTPError, OSError):
            complete = False
            continue  # rotated away while being read: its new name is a candidate next time
        if target is None:
            target = spool.new()
            matched.append(target)
        spool.append(target, data)
        fetched += len(data)
        behind += size - target.size
    spool.orphans = [f for f in spool.files if complete and all(f is not m for m in matched)]
    return fetched, behind


def prune(spool: Spool, read_to_end: Callable[[Path], bool]) -> int:
    """Delete the orphans of the last poll that `read_to_end` says the saved state has read to their end (and
    their `.head` and `.base`); how many were deleted."""
    deleted = 0
    for orphan in spool.orphans:
        if read_to_end(orphan.path):
            for path in (orphan.path.with_suffix(".head"), orphan.path.with_suffix(".base"), orphan.path):
                path.unlink(missing_ok=True)
            spool.files.remove(orphan)
            deleted += 1
    spool.orphans = []
    return deleted


async def _last_line_end(f: asyncssh.SFTPClientFile, size: int) -> int:
    """The offset after the last newline before `size` (0 if there is none in the last CHUNK_BYTES): a partial last
    line is fetched whole once it is finished."""
    start = max(0, size - CHUNK_BYTES)
    tail = _bytes(await f.read(size - start, start))
    newline = tail.rfind(b"\n")
    return start + newline + 1 if newline >= 0 else 0


async def _glob(sftp: asyncssh.SFTPClient, pattern: str) -> list[str]:
    try:
        return [str(p) for p in await sftp.glob(pattern)]
    except asyncssh.SFTPError:
        return []  # no match (yet)


def _bytes(data: object) -> bytes:
    if not isinstance(data, bytes):
        raise TypeError("remote files are opened in binary mode")
    return data
