"""The monitoring daemon: the exporter, the run registry, the registration socket and the run API, configured by
`<dir>/config.yaml` and following it.

* Local mode (tontester): runs are registered on `<dir>/daemon.sock`; data read is counted under the current
  run (registry.py says which). The configuration file is watched (watchfiles): a new host or port moves the HTTP
  server there (the old one stays if the new address cannot be had), new sources restart the ingest (read
  positions and counters carried by the saved state), an invalid file is logged and changes nothing, a deleted
  file stops the daemon as SIGTERM does: the socket removed, the runs still connected interrupted, runs and state
  saved, exit status 0.
* Testnet mode: one run, from the configuration, that never ends; no socket, no run API.

Runs left aside keep their per-node series exported, frozen, for `FINISHED_SERIES_SECONDS` (every scraper sees
their last values), then only their run-level series remain, until retention removes the run.
"""

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path
from typing import Any

from watchfiles import awatch

from ton_exporter.app import DEFAULT_RUN, Exporter, parse_source
from ton_exporter.exposition.http_server import Handler, HttpServer, HttpStats, Request, Response
from ton_exporter.exposition.run_families import RunsCollector
from ton_exporter.exposition.web_config import WebConfig, WebConfigError, load_web_config
from ton_exporter.remote.fleet import Fleet, FleetCollector
from ton_exporter.runs.config import CONFIG_NAME, ConfigError, DaemonConfig, load_config, missing_config
from ton_exporter.runs.http_api import PREFIX, RunApi
from ton_exporter.runs.lock import DirectoryLock
from ton_exporter.runs.registry import Run, RunRegistry, new_run
from ton_exporter.runs.socket_server import SOCKET_NAME, RunSocketServer

log = logging.getLogger("ton_exporter.daemon")

TICK_SECONDS = 1.0
SAVE_SECONDS = 5.0
FINISHED_SERIES_SECONDS = 300.0
RUNS_FILE = "runs.json"


class Daemon:
    def __init__(
        self, directory: Path, *, state_dir: Path | None = None, poll_interval: float = 0.1, use_inotify: bool = True
    ) -> None:
        self.directory = directory
        self.config_path = directory / CONFIG_NAME
        self.config = load_config(self.config_path)  # ConfigError: the command line says why and exits
        self.state_dir = state_dir or Path(self.config.state_dir or directory / "state")
        self.poll_interval = poll_interval
        self.use_inotify = use_inotify
        self.http_stats = HttpStats()  # one for the daemon's life: servers and exporters come and go
        self._web_config(self.config)  # an invalid web config stops the start, as an invalid config does
        ssh, spool = self.config.ssh, self.state_dir / "spool"
        self.fleet = Fleet(ssh, spool, self.config.from_start) if ssh else None
        self.registry = RunRegistry(self.state_dir / RUNS_FILE, self.config.retention, idle_run=DEFAULT_RUN)
        if self.config.testnet:
            self.registry.keep_running(self._testnet_run(self.config))
        self.exporter, self.collector = self._new_exporter(self.config)
        self.registry.on_change.append(self._follow_runs)
        self.api = RunApi(
            self.registry, read_only=lambda: self.config.testnet, open_to_all=lambda: self.config.api_open
        )
        self.sockets: RunSocketServer | None = None
        self.http: HttpServer | None = None
        self.address = ("", 0)
        self._poller: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._stop = asyncio.Event()
        self._watch_stop = asyncio.Event()

    # --- pieces

    def _testnet_run(self, config: DaemonConfig) -> Run:
        metadata = {k: v for k, v in config.run.items() if k != "id"}
        return new_run({"run_id": config.run["id"], "metadata": metadata}, time.time())

    def _new_exporter(self, config: DaemonConfig) -> tuple[Exporter, RunsCollector]:
        sources = [parse_source(spec, None) for spec in config.sources]
        sources += [parse_source(spec, None, "text_log") for spec in config.text_logs]
        from_start = config.from_start
        if self.fleet is not None:
            sources += self.fleet.patterns()
            from_start = True  # spool files hold only what was fetched: all of it is to be read
        exporter = Exporter(sources, run=self.registry.label(), from_start=from_start, state_dir=self.state_dir)
        if self.fleet is not None:
            exporter.registry.register(FleetCollector(self.fleet))
        collector = RunsCollector(self.registry, exporter.run_nodes)
        exporter.add_collector("runs", collector)
        exporter.registry.register(self.http_stats)
        exporter.register_process_collectors()
        return exporter, collector

    def _routes(self) -> dict[str, Handler]:
        def route(path: str) -> Handler:
            def handle(request: Request) -> Response | Awaitable[Response]:
                return self.exporter.routes()[path](request)  # the exporter of the moment (sources can change)

            return handle

        return {path: route(path) for path in self.exporter.routes()} | {"/api": self._api_index}

    def _api_index(self, _: Request) -> Response:
        return Response(200, b'{"runs": "/api/runs"}\n', "application/json")

    @staticmethod
    def _web_config(config: DaemonConfig) -> WebConfig:
        try:
            return load_web_config(Path(config.web_config_file) if config.web_config_file else None)
        except WebConfigError as e:
            raise ConfigError(f"web_config_file: {e}") from None

    async def _listen(self, host: str, port: int, config: DaemonConfig | None = None) -> HttpServer:
        web = self._web_config(config or self.config)
        server = HttpServer(self._routes(), {PREFIX: self.api}, web_config=web, stats=self.http_stats)
        self.address = await server.start(host, port)
        log.info("listening", extra={"address": f"{self.address[0]}:{self.address[1]}", "mode": self.config.mode})
        return server

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "mode": self.config.mode,
            "http": f"{self.address[0]}:{self.address[1]}",
            "config": str(self.config_path),
            "state_dir": str(self.state_dir),
            "sources": list(self.config.sources),
            "text_logs": list(self.config.text_logs),
        }

    def _follow_runs(self) -> None:
        """A run started, ended or went: count from now on under the run label, and save the runs at once."""
        self.exporter.switch_run(self.registry.label())
        self.registry.save()

    # --- life

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        try:
            if not self.config.testnet:
                self.sockets = RunSocketServer(self.directory / SOCKET_NAME, self.registry, self.status)
                await self.sockets.start()
            self.http = await self._listen(self.config.host, self.config.port)
            self._start_poller()
            tasks = [loop.create_task(self._watch_config()), loop.create_task(self._tick())]
            if self.fleet is not None:
                tasks.append(loop.create_task(self.fleet.run()))
            stop = loop.create_task(self._stop.wait())
            await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done():
                    task.result()  # a crash is not a shutdown: say so
                else:
                    task.cancel()
            if self._failure is not None:
                raise self._failure
        finally:
            await self._shutdown()
        return 0

    def _start_poller(self) -> None:
        self._poller = asyncio.get_running_loop().create_task(
            self.exporter.poll_forever(self.poll_interval, self.use_inotify)
        )
        self._poller.add_done_callback(self._poller_done)

    def _poller_done(self, task: "asyncio.Task[None]") -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()
            self._stop.set()

    async def _shutdown(self) -> None:
        self._watch_stop.set()
        if self.sockets is not None:
            await self.sockets.close()
        self.registry.interrupt_running()
        self.registry.save()
        if self.http is not None:
            await self.http.close()
        await self._stop_poller()
        self.exporter.close()
        log.info("stopped", extra={"runs": len(self.registry.runs)})

    async def _stop_poller(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)

    async def _tick(self) -> None:
        last_save = time.monotonic()
        missing = 0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            # in case the watcher missed it (the directory itself removed); twice, to let a rewrite go through
            missing = 0 if self.config_path.exists() else missing + 1
            if missing >= 2:
                log.info("configuration file gone: stopping", extra={"config": str(self.config_path)})
                self._stop.set()
                return
            self.maintain()
            if self.registry.dirty and time.monotonic() - last_save >= SAVE_SECONDS:
                self.registry.save()
                last_save = time.monotonic()

    def maintain(self) -> None:
        for run_id in self.registry.apply_retention():
            self.exporter.forget_run(run_id)
        self.exporter.switch_run(self.registry.label())  # a run's lingering time is over
        self.collector.refresh()
        now = time.time()
        for run_id, nodes in list(self.exporter.past_runs.items()):
            if now - nodes.left_at > FINISHED_SERIES_SECONDS:
                self.exporter.forget_run(run_id)

    # --- the configuration file

    async def _watch_config(self) -> None:
        def is_config(_: object, path: str) -> bool:
            return Path(path).name == CONFIG_NAME

        try:
            async for _ in awatch(
                self.directory,
                watch_filter=is_config,
                debounce=300,
                stop_event=self._watch_stop,
                recursive=False,
                force_polling=not self.use_inotify,
            ):
                if not self.config_path.exists():
                    log.info("configuration file deleted: stopping", extra={"config": str(self.config_path)})
                    self._stop.set()
                    return
                await self.reload()
        except (OSError, RuntimeError) as e:  # the directory went away under the watcher: _tick takes over
            log.warning("cannot watch the configuration any more", extra={"error": str(e)})
            await self._watch_stop.wait()

    async def reload(self) -> None:
        try:
            new = load_config(self.config_path)
            if new.ssh != self.config.ssh:
                raise ConfigError("ssh sources cannot change while running: restart the daemon")
            if new.mode != self.config.mode:
                raise ConfigError(f"mode cannot change from {self.config.mode} to {new.mode} while running: restart")
            self._web_config(new)
        except ConfigError as e:
            log.error("configuration invalid: keeping the one in use", extra={"error": str(e)})
            return
        old = self.config
        if new == old:
            return
        if (new.host, new.port, new.web_config_file) != (old.host, old.port, old.web_config_file):
            try:
                server = await self._listen(new.host, new.port, new)
            except OSError as e:
                log.error(
                    "cannot listen on the new address: keeping the old one",
                    extra={"address": f"{new.host}:{new.port}", "error": e.strerror or str(e)},
                )
                new = replace(new, host=old.host, port=old.port, web_config_file=old.web_config_file)
            else:
                if self.http is not None:
                    await self.http.close()
                self.http = server
        self.config = new
        self.registry.retention = new.retention
        if new.testnet and new.run != old.run:
            self.registry.keep_running(self._testnet_run(new))
        if (new.sources, new.text_logs, new.from_start) != (old.sources, old.text_logs, old.from_start):
            await self._restart_ingest()
        log.info("configuration reloaded", extra={"config": str(self.config_path)})

    async def _restart_ingest(self) -> None:
        await self._stop_poller()
        old = self.exporter
        old.close()  # saves read positions and counters, which the new exporter resumes from
        self.exporter, self.collector = self._new_exporter(self.config)
        self.exporter.past_runs = old.past_runs
        self._start_poller()


async def run_daemon(directory: Path, **options: Any) -> int:
    """The directory's lock first: a refused daemon has read and written nothing (lock.py)."""
    if not (directory / CONFIG_NAME).exists():
        raise ConfigError(missing_config(directory / CONFIG_NAME))
    with DirectoryLock(directory):
        daemon = Daemon(directory, **options)
        with contextlib.suppress(asyncio.CancelledError):
            return await daemon.run()
    return 0
