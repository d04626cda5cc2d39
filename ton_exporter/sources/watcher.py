"""Wake the poll loop when a watched file changes: inotify through watchfiles, polling when that is unavailable.

The directories watched are those whose entries can change what the source patterns match, not recursively (a
tontester node directory holds the node's database too), and a change wakes the loop only if its path could be
a candidate. Even with inotify the loop also runs every `safety_interval` seconds, for file systems that do not
report changes (network mounts) and for globs whose directories appear later.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from watchfiles import Change, awatch

log = logging.getLogger("ton_exporter.source")


class ChangeWatcher:
    def __init__(
        self,
        directories: Callable[[], set[str]],
        relevant: Callable[[str], bool],
        *,
        use_inotify: bool = True,
        debounce_ms: int = 50,
    ) -> None:
        self._directories = directories
        self._relevant = relevant
        self._use_inotify = use_inotify
        self._debounce_ms = debounce_ms
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watching: set[str] = set()
        self.mode = "inotify" if use_inotify else "polling"

    async def wait(self, timeout: float) -> None:
        """Until something relevant changes, or `timeout` seconds."""
        self._refresh()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        self._changed.clear()

    async def close(self) -> None:
        await self._stop_task()

    def _refresh(self) -> None:
        if not self._use_inotify:
            return
        directories = self._directories()
        if directories == self._watching and (self._task is None or not self._task.done()):
            return
        self._watching = directories
        if self._task is not None:
            self._stop.set()
            self._task = None
        if directories:
            self._stop = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._watch(sorted(directories), self._stop))

    async def _watch(self, directories: list[str], stop: asyncio.Event) -> None:
        def relevant(_change: Change, path: str) -> bool:
            return self._relevant(path)

        try:
            async for _changes in awatch(
                *directories,
                watch_filter=relevant,
                debounce=self._debounce_ms,
                step=10,
                stop_event=stop,
                recursive=False,
                ignore_permission_denied=True,
            ):
                self._changed.set()
        except (OSError, RuntimeError) as e:  # inotify unavailable or out of watches
            log.warning("file change notification unavailable; polling instead", extra={"error": str(e)[:200]})
            self._use_inotify = False
            self.mode = "polling"

    async def _stop_task(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 6)
            self._task = None
