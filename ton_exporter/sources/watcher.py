"""Wake the poll loop when a watched file changes: inotify through watchfiles, polling when that is unavailable.

The directories watched are those whose entries can change what the source patterns match, not recursively (a
tontester node directory holds the node's database too), and a change wakes the loop only if its path could be
a candidate. watchfiles runs in a thread of its own (its synchronous `watch`), which hands each batch of changes
to the event loop; the loop also runs every few seconds anyway, for file systems that do not report changes
(network mounts) and for globs whose directories appear later.

Busy files are polled instead. The engine opens, appends and closes the file for every line, and watchfiles
spends about 0.1 ms of CPU on each such write, as much as reading and parsing the line costs; when every
wake-up finds new lines anyway, notification buys nothing. So after `BUSY_AFTER` wake-ups in a row that found
lines, the watcher stops and the loop polls every `busy_interval`; after `CALM_AFTER` polls in a row that found
nothing, it watches again. The mode in use is exported (`tonex_source_watcher_info`).
"""

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from watchfiles import Change, watch

log = logging.getLogger("ton_exporter.source")

Changes = set[tuple[Change, str]]

BUSY_AFTER = 5
CALM_AFTER = 10


class ChangeWatcher:
    def __init__(
        self,
        directories: Callable[[], set[str]],
        relevant: Callable[[str], bool],
        *,
        use_inotify: bool = True,
        busy_interval: float = 0.2,
        debounce_ms: int = 200,
        step_ms: int = 50,
    ) -> None:
        self._directories = directories
        self._relevant = relevant
        self._use_inotify = use_inotify
        # watchfiles returns a batch after `step_ms` without a change, or `debounce_ms` after the first one:
        # at most five wake-ups a second on busy files, and a line is seen within 50 to 200 ms.
        self._debounce_ms = debounce_ms
        self._step_ms = step_ms
        self._changed = asyncio.Event()
        self._changes: Changes = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._watching: set[str] = set()
        self._busy_interval = busy_interval
        self._streak = 0  # wake-ups in a row that found lines (inotify), or polls that found none (busy)
        self.mode = "inotify" if use_inotify else "polling"

    def note(self, lines: int) -> None:
        """What the last poll read: switches between watching and polling busy files."""
        if self.mode == "inotify":
            self._streak = self._streak + 1 if lines else 0
            if self._streak >= BUSY_AFTER:
                self.mode, self._streak = "busy-polling", 0
                self._stop.set()
                self._thread = None
        elif self.mode == "busy-polling":
            self._streak = 0 if lines else self._streak + 1
            if self._streak >= CALM_AFTER:
                self.mode, self._streak = "inotify", 0
                self._watching = set()  # start watching again at the next wait

    async def wait(self, timeout: float) -> Changes | None:
        """Until something relevant changes (returns what changed), or `timeout` seconds (returns None)."""
        if self.mode == "busy-polling":
            await asyncio.sleep(self._busy_interval)
            return None
        self._refresh()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        if not self._changed.is_set():
            return None
        self._changed.clear()
        changes, self._changes = self._changes, set()
        return changes

    async def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 6)
            self._thread = None

    def _refresh(self) -> None:
        if not self._use_inotify or self.mode != "inotify":
            return
        directories = self._directories()
        if directories == self._watching and self._thread is not None and self._thread.is_alive():
            return
        self._watching = directories
        self._stop.set()  # the old thread stops at its next batch or timeout
        self._thread = None
        if directories:
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._watch,
                args=(sorted(directories), self._stop, asyncio.get_running_loop()),
                name="ton-exporter-watch",
                daemon=True,
            )
            self._thread.start()

    def _watch(self, directories: list[str], stop: threading.Event, loop: asyncio.AbstractEventLoop) -> None:
        def relevant(_change: Change, path: str) -> bool:
            return self._relevant(path)

        try:
            for changes in watch(
                *directories,
                watch_filter=relevant,
                debounce=self._debounce_ms,
                step=self._step_ms,
                stop_event=stop,
                recursive=False,
                rust_timeout=1000,
                ignore_permission_denied=True,
            ):
                loop.call_soon_threadsafe(self._deliver, changes)
        except (OSError, RuntimeError) as e:  # inotify unavailable or out of watches
            log.warning("file change notification unavailable; polling instead", extra={"error": str(e)[:200]})
            self._use_inotify = False
            self.mode = "polling"

    def _deliver(self, changes: Changes) -> None:
        self._changes |= changes
        self._changed.set()
