"""The typed configuration: what `serve --config` and `daemon --dir` run with, once checked.

Invariant: every value here has been validated by load.py; nothing downstream re-checks types or ranges.
"""

from dataclasses import dataclass, field
from typing import Any

from ton_exporter.runs.registry import DEFAULT_KEEP_DAYS, DEFAULT_KEEP_RUNS, Retention

DEFAULT_PORT = 10056
DEFAULT_SSH_PORT = 22
DEFAULT_SSH_POLL_SECONDS = 1.0
MODES = ("local", "devnet", "testnet")
SOURCE_TYPES = ("local", "ssh")


@dataclass(frozen=True)
class RemoteNode:
    """One validator followed over SSH; `name` is its node label."""

    host: str
    name: str
    port: int = DEFAULT_SSH_PORT
    session_logs_path: str | None = None
    text_logs_path: str | None = None


@dataclass(frozen=True)
class SshSources:
    """How the remote validators are reached: key authentication only, host keys always checked."""

    user: str
    ssh_key: str
    known_hosts: str
    poll_interval: float = DEFAULT_SSH_POLL_SECONDS
    nodes: tuple[RemoteNode, ...] = ()


@dataclass(frozen=True)
class ExporterConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    sources: tuple[str, ...] = ()  # local session stats, "[NODE=]PATH|GLOB|DIR", absolute
    text_logs: tuple[str, ...] = ()  # local td text logs, same forms
    ssh: SshSources | None = None  # sources.type: ssh
    from_start: bool = False
    mode: str = "local"
    state_dir: str | None = None
    keep_runs: int | None = DEFAULT_KEEP_RUNS
    keep_days: float | None = DEFAULT_KEEP_DAYS
    api_open: bool = False
    run: dict[str, Any] = field(default_factory=dict)  # testnet mode: the run, as a hello would give it
    web_config_file: str = ""  # exporter-toolkit web config (TLS, basic auth), as --web.config.file

    @property
    def retention(self) -> Retention:
        return Retention(self.keep_runs, self.keep_days)

    @property
    def testnet(self) -> bool:
        return self.mode == "testnet"

    @property
    def has_sources(self) -> bool:
        return bool(self.sources or self.text_logs or (self.ssh and self.ssh.nodes))
