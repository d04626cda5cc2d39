"""Which physical file is which, whatever its path: device and inode, plus the first bytes of its content.

The path cannot be the key: rotation renames files and recreates the path. Device and inode alone cannot either: a
deleted file's inode is reused by the next file created. The head of the content settles it: a file only grows, so
its head only lengthens, and a different file (a reused inode, a recreated path) starts with different bytes. A copy
(logrotate's copytruncate) has another inode but the same head: `same_content` recognises it.
"""

import base64
import os
from dataclasses import dataclass

HEAD_BYTES = 256


@dataclass(frozen=True, slots=True)
class FileIdentity:
    dev: int
    ino: int
    head: bytes  # the first HEAD_BYTES bytes, fewer while the file is shorter

    def same_file(self, other: "FileIdentity") -> bool:
        return self.dev == other.dev and self.ino == other.ino and self.same_content(other)

    def same_content(self, other: "FileIdentity") -> bool:
        """One head is the start of the other: the same content, possibly seen at different lengths."""
        if not self.head or not other.head:
            return False
        shorter, longer = sorted((self.head, other.head), key=len)
        return longer.startswith(shorter)

    def to_json(self) -> dict[str, object]:
        return {"dev": self.dev, "ino": self.ino, "head": base64.b64encode(self.head).decode()}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "FileIdentity":
        dev, ino, head = data["dev"], data["ino"], data["head"]
        if not isinstance(dev, int) or not isinstance(ino, int) or not isinstance(head, str):
            raise ValueError("identity fields of the wrong type")
        return cls(dev, ino, base64.b64decode(head, validate=True))


def identity_of(fd: int) -> FileIdentity:
    st = os.fstat(fd)
    return FileIdentity(st.st_dev, st.st_ino, os.pread(fd, HEAD_BYTES, 0))


def identity_at(path: str) -> FileIdentity | None:
    """The identity of the file at `path` now, or None if there is none (or it cannot be read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return identity_of(fd)
    finally:
        os.close(fd)
