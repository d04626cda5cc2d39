"""Reading and checking a configuration file (YAML; JSON is YAML too) into an `ExporterConfig`.

Every mistake is one line naming the file, the line and the key (`config.yaml:7: sources.nodes[2].port: ...`);
a file with a mistake is refused whole (a running daemon keeps the configuration it has). Relative paths are
relative to the file's directory; remote paths are taken as they are (they name files on the remote host).
"""

import getpass
import os
import re
from pathlib import Path
from typing import Any

import yaml

from ton_exporter.config.model import (
    DEFAULT_PORT,
    DEFAULT_SSH_POLL_SECONDS,
    DEFAULT_SSH_PORT,
    MODES,
    SOURCE_TYPES,
    ExporterConfig,
    RemoteNode,
    SshSources,
)
from ton_exporter.runs.registry import DEFAULT_KEEP_DAYS, DEFAULT_KEEP_RUNS, RunError, new_run

CONFIG_NAME = "config.yaml"

# The least a daemon's directory needs (written by hand, or by a harness): said whenever config.yaml is missing,
# so that a new user sees how to write one. The full schema: docs/runs.md (config.yaml) and docs/fleet.md.
MINIMAL_CONFIG = """\
host: 127.0.0.1
port: 10056
sources: ['../net/node*/session-logs']   # session-stats files; relative paths from this file's directory
"""


def missing_config(path: Path) -> str:
    """What to say when `path` (a config.yaml) is missing: a minimal file to write, and where the schema is."""
    example = "\n".join(f"    {line}" for line in MINIMAL_CONFIG.splitlines())
    return f"there is no {path}; write one, for example (schema: docs/runs.md, section config.yaml):\n{example}"


IGNORED_KEYS = frozenset({"prometheus_port", "grafana_port"})  # tontester's own services, not ours
TOP_KEYS = frozenset(
    {"host", "port", "sources", "from_start", "mode", "state_dir", "retention", "api", "run", "web_config_file"}
)
LOCAL_KEYS = frozenset({"type", "session_logs", "text_logs", "nodes"})
SSH_KEYS = frozenset({"type", "user", "ssh_key", "known_hosts", "poll_interval", "nodes"})
NODE_KEYS = frozenset({"host", "port", "name", "session_logs_path", "text_logs_path"})
_NODE_ASSIGNMENT = re.compile(r"([A-Za-z0-9_.-]+)=(.+)")
_LABEL = re.compile(r"[A-Za-z0-9_.:-]+")


class ConfigError(ValueError):
    """One line: where (file:line) and which key, then what is wrong."""


class _InvalidError(Exception):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def load_config(path: Path) -> ExporterConfig:
    try:
        text = path.read_text()
    except FileNotFoundError as e:
        raise ConfigError(missing_config(path)) from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
    return parse_config(text, path.parent, path)


def parse_config(text: str, base: Path, file: Path | None = None) -> ExporterConfig:
    where = str(file) if file is not None else "configuration"
    try:
        tree = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}{line}: not valid YAML: {str(e).splitlines()[0]}") from e
    lines = _key_lines(tree)
    try:
        return _config(data, base)
    except _InvalidError as e:
        found = _nearest_line(lines, e.key)
        at = f"{where}:{found}" if found else where
        raise ConfigError(f"{at}: {e.key}: {e.message}" if e.key else f"{at}: {e.message}") from None


# --- where keys are: dotted paths ("sources.nodes[2].port") to 1-based line numbers


def _key_lines(node: yaml.Node | None, prefix: str = "") -> dict[str, int]:
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}.{key.value}" if prefix else str(key.value)
            lines[path] = key.start_mark.line + 1
            lines.update(_key_lines(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = f"{prefix}[{index}]"
            lines[path] = item.start_mark.line + 1
            lines.update(_key_lines(item, path))
    return lines


def _nearest_line(lines: dict[str, int], key: str) -> int | None:
    """The key's own line, else its closest parent's (a missing key is reported where its mapping is)."""
    while key:
        if key in lines:
            return lines[key]
        key = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", key) if re.search(r"[.\[]", key) else ""
    return None


# --- the schema


def _config(data: Any, base: Path) -> ExporterConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _InvalidError("", "the file must be a mapping of keys (host, port, sources, ...)")
    if "dashboard_port" in data and "port" not in data:
        data["port"] = data.pop("dashboard_port")  # tontester's name for it
    _known(data, "", TOP_KEYS | IGNORED_KEYS, shown=TOP_KEYS)
    mode = _string(data, "mode", "local")
    if mode not in MODES:
        raise _InvalidError("mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    sources, text_logs, ssh = _sources(data.get("sources"), base)
    retention = _mapping(data, "retention", frozenset({"runs", "days"}))
    keep_runs = _number(retention, "retention.runs", DEFAULT_KEEP_RUNS, whole=True)
    keep_days = _number(retention, "retention.days", DEFAULT_KEEP_DAYS, whole=False)
    api = _mapping(data, "api", frozenset({"open"}))
    run = _mapping(data, "run", frozenset({"id", "description", "branch", "commit", "nodes", "labels"}))
    if mode == "testnet":
        _check_run(run)
    elif run:
        raise _InvalidError("run", "is for testnet mode (mode: testnet); in local and devnet mode runs are registered")
    state_dir = data.get("state_dir")
    if state_dir is not None:
        state_dir = os.path.normpath(base / _string(data, "state_dir", ""))
    return ExporterConfig(
        host=_string(data, "host", "127.0.0.1"),
        port=_port(data, "port", DEFAULT_PORT),
        sources=sources,
        text_logs=text_logs,
        ssh=ssh,
        from_start=_flag(data, "from_start"),
        mode=mode,
        state_dir=state_dir,
        keep_runs=int(keep_runs) if keep_runs is not None else None,
        keep_days=float(keep_days) if keep_days is not None else None,
        api_open=_flag(api, "open", "api.open"),
        run=run,
        web_config_file=str(base / _string(data, "web_config_file", "")) if "web_config_file" in data else "",
    )


def _sources(value: Any, base: Path) -> tuple[tuple[str, ...], tuple[str, ...], SshSources | None]:
    """`sources:` is a list of session-stats paths (the daemon's first form) or a mapping with a `type`."""
    if value is None:
        return (), (), None
    if isinstance(value, (str, list)):
        return tuple(_resolve(spec, base) for spec in _paths(value, "sources")), (), None
    if not isinstance(value, dict):
        raise _InvalidError("sources", "must be a list of paths or a mapping (type: local | ssh, ...)")
    kind = _string(value, "type", "local", "sources.type")
    if kind not in SOURCE_TYPES:
        raise _InvalidError("sources.type", f"must be one of {', '.join(SOURCE_TYPES)}, got {kind!r}")
    if kind == "ssh":
        return (), (), _ssh(value)
    _known(value, "sources", LOCAL_KEYS)
    sessions = [_resolve(spec, base) for spec in _paths(value.get("session_logs", []), "sources.session_logs")]
    texts = [_resolve(spec, base) for spec in _paths(value.get("text_logs", []), "sources.text_logs")]
    for node in _nodes(value.get("nodes", []), remote=False):
        for path, into in ((node.session_logs_path, sessions), (node.text_logs_path, texts)):
            if path is not None:
                into.append(f"{node.name}={os.path.normpath(base / path)}")
    return tuple(sessions), tuple(texts), None


def _ssh(value: dict[str, Any]) -> SshSources:
    _known(value, "sources", SSH_KEYS)
    for key in ("ssh_key", "known_hosts"):
        if key not in value:
            raise _InvalidError(f"sources.{key}", "is required for type: ssh (host keys are always checked)")
    poll = value.get("poll_interval", DEFAULT_SSH_POLL_SECONDS)
    if isinstance(poll, bool) or not isinstance(poll, (int, float)) or not 0.01 <= poll <= 60:
        raise _InvalidError("sources.poll_interval", f"must be a number of seconds from 0.01 to 60, got {poll!r}")
    nodes = _nodes(value.get("nodes", []), remote=True)
    if not nodes:
        raise _InvalidError("sources.nodes", "type: ssh needs at least one node (host, session_logs_path, ...)")
    return SshSources(
        user=_string(value, "user", getpass.getuser(), "sources.user"),
        ssh_key=os.path.expanduser(_string(value, "ssh_key", "", "sources.ssh_key")),
        known_hosts=os.path.expanduser(_string(value, "known_hosts", "", "sources.known_hosts")),
        poll_interval=float(poll),
        nodes=nodes,
    )


def _nodes(value: Any, *, remote: bool) -> tuple[RemoteNode, ...]:
    if not isinstance(value, list):
        raise _InvalidError("sources.nodes", "must be a list of nodes")
    nodes: list[RemoteNode] = []
    names: set[str] = set()
    for index, item in enumerate(value):
        key = f"sources.nodes[{index}]"
        if not isinstance(item, dict):
            raise _InvalidError(key, "must be a mapping (host, port, name, session_logs_path, text_logs_path)")
        _known(item, key, NODE_KEYS)
        host = _string(item, "host", "", f"{key}.host") if remote or "host" in item else ""
        name = _string(item, "name", host, f"{key}.name")
        if not _LABEL.fullmatch(name):
            raise _InvalidError(f"{key}.name", f"must be letters, digits and _.:- only, got {name!r}")
        if name in names:
            raise _InvalidError(f"{key}.name", f"node {name!r} is named twice")
        names.add(name)
        session = _optional_string(item, "session_logs_path", f"{key}.session_logs_path")
        text = _optional_string(item, "text_logs_path", f"{key}.text_logs_path")
        if session is None and text is None:
            raise _InvalidError(key, "needs session_logs_path or text_logs_path (or both)")
        port = _port(item, "port", DEFAULT_SSH_PORT, f"{key}.port")
        nodes.append(RemoteNode(host, name, port, session, text))
    return tuple(nodes)


# --- values


def _known(data: dict[str, Any], where: str, keys: frozenset[str], shown: frozenset[str] | None = None) -> None:
    unknown = sorted(set(map(str, data)) - keys)
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise _InvalidError(key, f"unknown key (known: {', '.join(sorted(shown or keys))})")


def _string(data: dict[str, Any], key: str, default: str, name: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise _InvalidError(name or key, f"must be a non-empty string, got {value!r}")
    return value


def _optional_string(data: dict[str, Any], key: str, name: str) -> str | None:
    return _string(data, key, "", name) if key in data else None


def _port(data: dict[str, Any], key: str, default: int, name: str = "") -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise _InvalidError(name or key, f"must be a number from 0 to 65535, got {value!r}")
    return value


def _flag(data: dict[str, Any], key: str, name: str = "") -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise _InvalidError(name or key, f"must be true or false, got {value!r}")
    return value


def _mapping(data: dict[str, Any], key: str, keys: frozenset[str]) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise _InvalidError(key, "must be a mapping")
    _known(value, key, keys)
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
        raise _InvalidError(name, f"must be {what} >= 0, or null for no limit; got {value!r}")
    return float(value)


def _paths(value: Any, name: str) -> list[str]:
    specs = [value] if isinstance(value, str) else value
    if not isinstance(specs, list) or not all(isinstance(s, str) and s for s in specs):
        raise _InvalidError(name, "must be a list of paths, globs or directories ([NODE=]PATH)")
    return specs


def _resolve(spec: str, base: Path) -> str:
    match = _NODE_ASSIGNMENT.fullmatch(spec)
    if match and not (base / spec).exists():
        return f"{match.group(1)}={os.path.normpath(base / match.group(2))}"
    return os.path.normpath(base / spec)


def _check_run(run: dict[str, Any]) -> None:
    if "id" not in run:
        raise _InvalidError("run", "testnet mode needs run: with an id (and description, branch, commit, ...)")
    try:
        new_run({"run_id": run["id"], "metadata": {k: v for k, v in run.items() if k != "id"}}, 0.0)
    except RunError as e:
        raise _InvalidError("run", e.message) from e
