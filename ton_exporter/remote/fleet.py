"""Following every remote validator of an `sources: {type: ssh}` configuration: one task per host, each with its
own connection, backoff and spool, so that one slow, dead or unreachable host never delays another.

What a host's task fetches lands in its spool (mirror.py), which the local tailer follows as
`spool/<node>/session/*.log` and `spool/<node>/text/*.log`; per-host health is exported by `FleetCollector`.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ton_exporter.checkpoint import saved_read_to_end
from ton_exporter.config.model import RemoteNode, SshSources
from ton_exporter.remote.connection import REASONS, Backoff, ConnectError, connect
from ton_exporter.remote.mirror import Spool, fetch, prune
from ton_exporter.sources.discovery import SourcePattern
from ton_exporter.sources.file_stats import SourceFormat

log = logging.getLogger("ton_exporter.remote")


@dataclass
class HostHealth:
    up: bool = False
    failures: Counter[str] = field(default_factory=Counter)
    bytes_behind: int = 0
    last_read: float = 0.0  # wall time of the last successful poll of every file


class HostFollower:
    def __init__(self, node: RemoteNode, ssh: SshSources, spool_root: Path, from_start: bool = True) -> None:
        self.node = node
        self.ssh = ssh
        self.health = HostHealth()
        self.spools: list[tuple[str, Spool, SourceFormat]] = []  # (remote spec, spool, format)
        kinds: tuple[tuple[str | None, str, SourceFormat], ...] = (
            (node.session_logs_path, "session", "session_stats"),
            (node.text_logs_path, "text", "text_log"),
        )
        for spec, kind, fmt in kinds:
            if spec is not None:
                self.spools.append((spec, Spool(spool_root / node.name / kind), fmt))
        # A first start without from_start reads what exists from its end, as locally: the streams whose first
        # poll is still to come (a restart resumes from the spool instead).
        self.at_end = {spool.directory for _, spool, _ in self.spools if not from_start and not spool.files}
        self.state = spool_root.parent  # the spool lives in the state directory, beside checkpoint.json

    def _read_to_end(self, path: Path) -> bool:
        return saved_read_to_end(self.state, path)

    def patterns(self) -> Iterator[SourcePattern]:
        for _, spool, fmt in self.spools:
            yield SourcePattern(spool.pattern, self.node.name, fmt)

    async def run(self) -> None:
        backoff = Backoff()
        while True:
            try:
                conn = await connect(self.node, self.ssh)
            except ConnectError as e:
                self._failed(e.reason, e.message)
                await asyncio.sleep(backoff.next_delay())
                continue
            log.info("connected", extra={"node": self.node.name, "host": f"{self.node.host}:{self.node.port}"})
            try:
                await self._follow(conn, backoff)
            except (asyncssh.Error, OSError) as e:
                self._failed("lost", str(e) or type(e).__name__)
            finally:
                conn.close()
            await asyncio.sleep(backoff.next_delay())

    async def _follow(self, conn: asyncssh.SSHClientConnection, backoff: Backoff) -> None:
        async with conn.start_sftp_client() as sftp:
            self.health.up = True
            backoff.reset()
            while True:
                behind = 0
                for spec, spool, _ in self.spools:
                    _, left = await fetch(sftp, spec, spool, at_end=spool.directory in self.at_end)
                    self.at_end.discard(spool.directory)
                    prune(spool, self._read_to_end)
                    behind += left
                self.health.bytes_behind = behind
                self.health.last_read = time.time()
                if not behind:  # caught up: wait; behind (more than a chunk new): go on at once
                    await asyncio.sleep(self.ssh.poll_interval)

    def _failed(self, reason: str, message: str) -> None:
        self.health.up = False
        self.health.failures[reason] += 1
        log.warning(
            "cannot follow host",
            extra={
                "node": self.node.name,
                "host": f"{self.node.host}:{self.node.port}",
                "reason": reason,
                "error": message,
            },
        )


class Fleet:
    def __init__(self, ssh: SshSources, spool_root: Path, from_start: bool = True) -> None:
        self.followers = [HostFollower(node, ssh, spool_root, from_start) for node in ssh.nodes]

    def patterns(self) -> list[SourcePattern]:
        return [p for f in self.followers for p in f.patterns()]

    async def run(self) -> None:
        tasks = [asyncio.create_task(f.run(), name=f"ssh {f.node.name}") for f in self.followers]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def alongside(fleet: "Fleet | None", main: Awaitable[None]) -> None:
    """`main` (the HTTP server, which returns on SIGTERM) with the fleet's tasks running until it returns."""
    if fleet is None:
        await main
        return
    task = asyncio.create_task(fleet.run())
    try:
        await main
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class FleetCollector(Collector):
    """Per-host health: up, connect failures by reason, bytes behind, last successful read."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def collect(self) -> Iterable[Metric]:
        labels = ["node", "host"]
        up = GaugeMetricFamily("tonex_ssh_up", "1 while the host's SFTP session is open and being read.", labels=labels)
        failures = CounterMetricFamily(
            "tonex_ssh_connect_failures",
            "Failed connections and lost sessions by reason (host_key: unknown or changed host key; auth: user "
            "key refused; refused, timeout, unreachable, protocol, lost).",
            labels=[*labels, "reason"],
        )
        behind = GaugeMetricFamily(
            "tonex_ssh_bytes_behind", "Remote bytes not fetched yet (remote sizes minus read offsets).", labels=labels
        )
        last = GaugeMetricFamily(
            "tonex_ssh_last_read_timestamp_seconds", "When every file of the host was last read.", labels=labels
        )
        for f in self.fleet.followers:
            values = [f.node.name, f"{f.node.host}:{f.node.port}"]
            up.add_metric(values, 1.0 if f.health.up else 0.0)
            for reason in (*REASONS, "lost"):
                failures.add_metric([*values, reason], float(f.health.failures[reason]))
            behind.add_metric(values, float(f.health.bytes_behind))
            last.add_metric(values, f.health.last_read)
        return [up, failures, behind, last]


FetchProgress = Callable[[str, int, int], None]
"""(node, bytes fetched by the last chunk, bytes still behind on that node); behind 0 once the node is done."""


async def fetch_once(
    ssh: SshSources, spool_root: Path, kind: str = "text", progress: FetchProgress = lambda *_: None
) -> list[SourcePattern]:
    """Fetch every node's files of one kind ("text" or "session") in full, all hosts at once; the spool patterns
    to read them from (for one-shot reports such as `slowest-blocks`). A host that cannot be reached is an error."""
    followers = [HostFollower(node, ssh, spool_root) for node in ssh.nodes]

    async def one(follower: HostFollower) -> None:
        conn = await connect(follower.node, ssh)
        try:
            async with conn.start_sftp_client() as sftp:
                for spec, spool, fmt in follower.spools:
                    if (fmt == "text_log") == (kind == "text"):
                        while True:
                            fetched, behind = await fetch(sftp, spec, spool)
                            progress(follower.node.name, fetched, behind)
                            if not behind:
                                break
        finally:
            conn.close()

    await asyncio.gather(*(one(f) for f in followers))
    return [p for f in followers for p in f.patterns() if (p.format == "text_log") == (kind == "text")]
