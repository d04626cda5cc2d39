"""docker-compose.yml as Debian's `docker-compose config` resolves it (variables, merged override files, absolute
paths), and its mounts: which host path each service sees at each container path."""

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "docker-compose.yml"
VICTORIAMETRICS = ROOT / "docker-compose.victoriametrics.yml"
# The one variable compose refuses to run without (no default secret); any value will do for a config check.
REQUIRED = {"GRAFANA_ADMIN_PASSWORD": "test-only-password"}


def run_config(files: list[Path], env: dict[str, str], env_file: Path) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` with exactly `env` (plus PATH): no variable of the caller's environment and no .env
    file beside the compose file (`env_file` is read instead) changes the result."""
    args = [require_binary("docker-compose"), "--project-directory", str(ROOT), "--env-file", str(env_file)]
    for f in files:
        args += ["-f", str(f)]
    return subprocess.run(
        [*args, "config"], capture_output=True, text=True, check=False, timeout=60, env={"PATH": "/usr/bin:/bin", **env}
    )


def resolve(files: list[Path], env_file: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    env_file.touch()
    result = run_config(files, REQUIRED | (env or {}), env_file)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


@dataclass(frozen=True)
class Mount:
    source: str  # a host path, or the name of a named volume
    target: str
    read_only: bool

    @property
    def named(self) -> bool:
        return not self.source.startswith("/")


def mounts(service: dict[str, Any]) -> list[Mount]:
    out = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):  # long syntax
            out.append(Mount(volume["source"], volume["target"], bool(volume.get("read_only"))))
        else:
            source, target, *mode = volume.split(":")
            out.append(Mount(source, target, "ro" in (mode[0].split(",") if mode else [])))
    return out


def host_path(service: dict[str, Any], container_path: str, volumes: Path) -> Path | None:
    """The host path a service sees at `container_path`, through its deepest mount covering it (named volumes
    live in the directory `volumes`); None when no mount covers it (the image's own file)."""
    covering = [m for m in mounts(service) if container_path == m.target or container_path.startswith(m.target + "/")]
    if not covering:
        return None
    mount = max(covering, key=lambda m: len(m.target))
    base = volumes / mount.source if mount.named else Path(mount.source)
    rest = container_path.removeprefix(mount.target).lstrip("/")
    return base / rest if rest else base


def translate(argument: str, service: dict[str, Any], volumes: Path) -> str:
    """A command-line argument with a container path (`--flag=/path`, `-flag=/path` or `/path`) given its host
    path; anything else unchanged."""
    flag, equals, value = argument.partition("=") if argument.startswith("-") else ("", "", argument)
    if not value.startswith("/"):
        return argument
    path = host_path(service, value, volumes)
    return f"{flag}{equals}{path}" if path is not None else argument


def published(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(host ip, host port, container port) of every published port."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append((port.get("host_ip", ""), str(port.get("published", "")), str(port["target"])))
        else:
            parts = str(port).split("/")[0].split(":")
            ip = parts[0] if len(parts) == 3 else ""
            out.append((ip, parts[-2] if len(parts) >= 2 else "", parts[-1]))
    return out


def listen_port(service: dict[str, Any]) -> int | None:
    """The port a service's command makes it listen on (`--web.listen-address=:9090`, `-httpListenAddr=:8428`)."""
    for argument in service.get("command", []):
        if m := re.fullmatch(r"--?(?:web\.listen-address|httpListenAddr)=[^:]*:(\d+)", argument):
            return int(m.group(1))
    return None


def healthcheck_url(service: dict[str, Any]) -> str | None:
    """The URL a service's health check fetches: its compose healthcheck, else its Dockerfile's HEALTHCHECK."""
    if "healthcheck" in service:
        return next((a for a in service["healthcheck"]["test"] if a.startswith("http")), None)
    if "build" in service:
        dockerfile = Path(service["build"]["context"]) / service["build"].get("dockerfile", "Dockerfile")
        instruction = re.search(r"^HEALTHCHECK .*?(?<!\\)$", dockerfile.read_text(), re.MULTILINE | re.DOTALL)
        if instruction and (m := re.search(r"http://[^'\" ]+", instruction.group(0))):
            return m.group(0)
    return None


def entrypoint_path_variables() -> dict[str, str]:
    """The exporter image's entrypoint: the variables that move its container paths, by default path
    (`${TON_STATE_DIR:-/var/lib/ton-exporter}` gives {"/var/lib/ton-exporter": "TON_STATE_DIR"})."""
    text = (ROOT / "docker" / "entrypoint.sh").read_text()
    return {default: name for name, default in re.findall(r"\$\{(TON_\w+):-(/[^}]*)\}", text)}
