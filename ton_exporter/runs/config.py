"""The daemon's configuration file, `.dashboard/config.yaml` (JSON is YAML too), read and checked in full.

Every mistake is one message naming the key; a file with a mistake is refused whole (the daemon keeps the
configuration it has). Relative source paths are relative to the file's directory.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ton_exporter.runs.registry import DEFAULT_KEEP_DAYS, DEFAULT_KEEP_RUNS, Retention, RunError, new_run

CONFIG_NAME = "config.yaml"
DEFAULT_PORT = 10056
MODES = ("local", "testnet")
IGNORED_KEYS = frozenset({"prometheus_port", "grafana_port"})  # tontester's own services, not ours
_NODE_ASSIGNMENT = re.compile(r"([A-Za-z0-9_.-]+)=(.+)")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class DaemonConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    sources: tuple[str, ...] = ()
    from_start: bool = False
    mode: str = "local"
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


def load_config(path: Path) -> DaemonConfig:
    try:
        text = path.read_text()
    except FileNotFoundError as e:
        raise ConfigError(f"{path} does not exist") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
    return parse_config(text, path.parent)


def parse_config(text: str, base: Path) -> DaemonConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"not valid YAML: {str(e).splitlines()[0]}") from e
    if not isinstance(data, dict):
        raise ConfigError("the file must be a mapping of keys (host, port, sources, ...)")
    if "dashboard_port" in data and "port" not in data:
        data["port"] = data.pop("dashboard_port")  # tontester's name for it
    known = {"host", "port", "sources", "from_start", "mode", "retention", "api", "run", "web_config_file"}
    unknown = sorted(set(map(str, data)) - known - IGNORED_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    defaults = DaemonConfig()
    port = data.get("port", defaults.port)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port must be a number from 0 to 65535, got {port!r}")
    host = _string(data, "host", defaults.host)
    mode = _string(data, "mode", defaults.mode)
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    retention = _mapping(data, "retention", {"runs", "days"})
    keep_runs = _number(retention, "retention.runs", defaults.keep_runs, whole=True)
    keep_days = _number(retention, "retention.days", defaults.keep_days, whole=False)
    api = _mapping(data, "api", {"open"})
    run = _mapping(data, "run", {"id", "description", "branch", "commit", "nodes", "labels"})
    if mode == "testnet":
        _check_run(run)
    elif run:
        raise ConfigError("run: is for testnet mode (mode: testnet); in local mode runs are registered")
    return DaemonConfig(
        host=host,
        port=port,
        sources=tuple(_resolve(spec, base) for spec in _sources(data.get("sources", []))),
        from_start=_flag(data, "from_start"),
        mode=mode,
        keep_runs=int(keep_runs) if keep_runs is not None else None,
        keep_days=float(keep_days) if keep_days is not None else None,
        api_open=_flag(api, "open", "api.open"),
        run=run,
        web_config_file=str(base / _string(data, "web_config_file", "-")) if "web_config_file" in data else "",
    )


def _string(data: dict[str, Any], key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} must be a non-empty string, got {value!r}")
    return value


def _flag(data: dict[str, Any], key: str, name: str = "") -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{name or key} must be true or false, got {value!r}")
    return value


def _mapping(data: dict[str, Any], key: str, keys: set[str]) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a mapping")
    unknown = sorted(set(map(str, value)) - keys)
    if unknown:
        raise ConfigError(f"{key}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(keys))})")
    return value


def _number(data: dict[str, Any], name: str, default: float | None, *, whole: bool) -> float | None:
    key = name.rpartition(".")[2]
    if key not in data:
        return default
    value = data[key]
    if value is None:
        return None  # no limit
    kinds = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
        what = "a whole number" if whole else "a number"
        raise ConfigError(f"{name} must be {what} >= 0, or null for no limit; got {value!r}")
    return float(value)


def _sources(value: object) -> list[str]:
    specs = [value] if isinstance(value, str) else value
    if not isinstance(specs, list) or not all(isinstance(s, str) and s for s in specs):
        raise ConfigError("sources must be a list of session-stats paths, globs or directories ([NODE=]PATH)")
    return specs


def _resolve(spec: str, base: Path) -> str:
    match = _NODE_ASSIGNMENT.fullmatch(spec)
    if match and not (base / spec).exists():
        return f"{match.group(1)}={os.path.normpath(base / match.group(2))}"
    return os.path.normpath(base / spec)


def _check_run(run: dict[str, Any]) -> None:
    if "id" not in run:
        raise ConfigError("testnet mode needs run: with an id (and description, branch, commit, nodes, labels)")
    try:
        new_run({"run_id": run["id"], "metadata": {k: v for k, v in run.items() if k != "id"}}, 0.0)
    except RunError as e:
        raise ConfigError(f"run: {e.message}") from e
