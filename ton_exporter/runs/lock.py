"""One daemon per directory: an exclusive `flock` on DIR/daemon.lock, taken before anything is read or written.

Invariant: a daemon that does not hold the lock has not touched DIR (no runs.json, no checkpoint, no socket), so a
second daemon refused on the same directory changes nothing of the running one's state. The lock holder's pid is
in the file, for `ton-exporter daemon stop`. The kernel drops the lock when the process dies, however it dies:
there is no stale lock to clean up.
"""

import contextlib
import fcntl
import os
import signal
import time
from pathlib import Path

from ton_exporter.runs.socket_server import AlreadyRunningError

LOCK_NAME = "daemon.lock"
STOP_TIMEOUT_SECONDS = 30.0


class NotRunningError(RuntimeError):
    pass


class DirectoryLock:
    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = _holder(self.path)
            raise AlreadyRunningError(
                f"a daemon already answers on {self.path.parent} (pid {pid or '?'}); "
                f"stop it with: ton-exporter daemon stop --dir {self.path.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the file stays: removing it would race with a daemon starting now
            self._fd = None

    def __enter__(self) -> "DirectoryLock":
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def held(path: Path) -> bool:
    """Whether a live process holds the lock (probed with a lock of our own, released at once)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def stop_daemon(directory: Path, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
    """SIGTERM to the daemon holding DIR's lock, then wait until it has saved its state and let go; its pid."""
    path = directory / LOCK_NAME
    deadline = time.monotonic() + timeout
    if not held(path):
        raise NotRunningError(f"no daemon runs on {directory}")
    pid = _holder(path)
    while pid is None and held(path) and time.monotonic() < deadline:  # just started: the pid is being written
        time.sleep(0.05)
        pid = _holder(path)
    if pid is None:
        raise NotRunningError(f"no daemon runs on {directory}")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    while held(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the daemon (pid {pid}) did not stop within {timeout:.0f} s")
        time.sleep(0.05)
    return pid


def _holder(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
