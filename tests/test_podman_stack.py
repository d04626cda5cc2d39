"""The README's third command, `docker compose up`, run for real as far as this machine allows: Debian's podman
builds the exporter image from the Dockerfile and runs it, and podman-compose starts docker-compose.yml (Grafana
left out: no Grafana image can be built from Debian's packages).

No image registry can be reached, so the images the files name are stand-ins built here from Debian's own
packages: one debootstrap root filesystem (bookworm, minbase, with Python and Debian's Prometheus, Alertmanager
and node-exporter) is imported once and tagged under each name, with the entrypoint the upstream image has. The
stand-in for the exporter's base image carries wheels of the exporter's dependencies (downloaded from the same
index `./dev test` installs from), so that the Dockerfile's `pip install .` runs unchanged. What this proves and
what it does not: docs/deployment.md, "The compose stack, run for real".

The root filesystem and the wheels are cached under /var/tmp/tonex-standin (keyed by what they hold); from
nothing this module took 249 s here, warm 78 s (docs/deployment.md).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import free_port, real_lines, require_binary
from tests.metrics_text import parse, total
from tests.servers import http_get, wait_until

pytestmark = [pytest.mark.external, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("/var/tmp/tonex-standin")
SUITE = "bookworm"
PACKAGES = (
    "ca-certificates",
    "python3",
    "python3-pip",
    "python-is-python3",
    "wget",  # the compose health checks of Prometheus, Alertmanager and node-exporter run it
    "prometheus",
    "prometheus-alertmanager",
    "prometheus-node-exporter",
)
# The entrypoint of each upstream image, by the service that runs it.
ENTRYPOINTS = {
    "prometheus": "/usr/bin/prometheus",
    "alertmanager": "/usr/bin/prometheus-alertmanager",
    "node-exporter": "/usr/bin/prometheus-node-exporter",
}
# What podman needs on this kind of machine (a VM with hybrid cgroups, whose limits a container cannot raise):
# runc (crun refuses hybrid cgroups), limits a container may take, and netavark, whose DNS lets compose services
# find each other by name (Debian's default, CNI, has none without a plugin Debian does not ship).
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"
"""
EXPORTER_IMAGE = "localhost/ton-exporter:local"
SERVICES = ("exporter", "prometheus", "alertmanager", "node-exporter")


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


class Podman:
    """podman (and podman-compose, which inherits its environment) with CONTAINERS_CONF."""

    def __init__(self, conf: Path) -> None:
        self.binary = require_binary("podman")
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def __call__(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.binary, *args], capture_output=True, text=True, env=self.env, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            pytest.fail(f"podman {' '.join(args)} failed ({result.returncode}): {result.stderr[-3000:]}")
        return result

    def has_image(self, name: str) -> bool:
        return self("image", "exists", name, check=False).returncode == 0

    def build(self, tag: str, context: Path, containerfile: str, *extra: str) -> None:
        (context / "Containerfile.standin").write_text(containerfile)
        self("build", "--pull=never", *extra, "-t", tag, "-f", str(context / "Containerfile.standin"), str(context))


def _rootfs_tarball() -> Path:
    """The stand-in root filesystem as a tarball, made with debootstrap unless cached."""
    tarball = CACHE / f"rootfs-{_key(SUITE, PACKAGES)}.tar"
    if tarball.exists():
        return tarball
    if os.geteuid() != 0:
        pytest.fail("building the stand-in images needs root (debootstrap); ./dev test runs as root in CI")
    debootstrap = require_binary("debootstrap")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        rootfs = Path(work) / "rootfs"
        command = [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        partial = tarball.with_suffix(".partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(rootfs, arcname=".")
        partial.rename(tarball)
    return tarball


def _wheels() -> Path:
    """Wheels of the exporter's dependencies and build backend, for the base stand-in's offline `pip install .`."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [*meta["project"]["dependencies"], *meta["build-system"]["requires"], "wheel"]
    directory = CACHE / f"wheels-{_key(wanted, sys.version_info[:2])}"
    if not (directory / "complete").exists():
        directory.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(directory), *wanted]
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        (directory / "complete").write_text("")
    return directory


def _upstream_names() -> dict[str, str]:
    """The image names the files use: the Dockerfile's FROM, and each compose service's image."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = next(line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM "))
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {"base": base, **{name: services[name]["image"] for name in ENTRYPOINTS}}


def _qualified(name: str) -> str:
    """What Docker makes of a short name (python:3 is docker.io/library/python:3), so that podman finds it locally."""
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        return name
    return f"docker.io/{name}" if "/" in name else f"docker.io/library/{name}"


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    return Podman(conf)


@pytest.fixture(scope="module")
def images(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every stand-in image under its upstream name, and the exporter image built from the Dockerfile."""
    names = _upstream_names()
    tarball = _rootfs_tarball()
    standin = f"localhost/tonex-standin:{tarball.stem.removeprefix('rootfs-')}"
    if not podman.has_image(standin):
        podman("import", str(tarball), standin)
    context = tmp_path_factory.mktemp("standin")
    shutil.copytree(_wheels(), context / "wheels", ignore=shutil.ignore_patterns("complete"))
    podman.build(
        _qualified(names["base"]),
        context,
        f"FROM {standin}\nCOPY wheels /opt/wheels\n"
        "ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/opt/wheels PIP_BREAK_SYSTEM_PACKAGES=1\n",
    )
    for service, entrypoint in ENTRYPOINTS.items():
        podman.build(_qualified(names[service]), context, f'FROM {standin}\nENTRYPOINT ["{entrypoint}"]\n')
    podman("build", "--pull=never", "--format", "docker", "-t", EXPORTER_IMAGE, str(ROOT))
    return names


class Container:
    def __init__(self, podman: Podman, *args: str, port: int = 10056) -> None:
        self.podman = podman
        self.host_port = free_port()
        run = ["run", "-d", "-p", f"127.0.0.1:{self.host_port}:{port}", *args]
        self.id = podman(*run).stdout.strip()

    def metrics(self) -> str:
        return http_get(f"http://127.0.0.1:{self.host_port}/metrics")[2].decode()

    def healthy(self) -> bool:
        return self.podman("healthcheck", "run", self.id, check=False).returncode == 0

    def inspect(self, template: str) -> str:
        return self.podman("inspect", "--format", template, self.id).stdout.strip()

    def remove(self) -> None:
        self.podman("rm", "-f", "-v", "-t", "0", self.id, check=False)  # with its anonymous volume


@pytest.fixture
def containers(podman: Podman) -> Iterator[list[Container]]:
    started: list[Container] = []
    yield started
    for container in started:
        container.remove()


def test_the_exporter_image_runs_as_10056_serves_the_demo_is_healthy_and_stops_cleanly_on_sigterm(
    podman: Podman, images: dict[str, str], containers: list[Container]
) -> None:
    demo = Container(podman, EXPORTER_IMAGE)
    containers.append(demo)
    wait_until(lambda: total(parse(demo.metrics()), "tonex_collated_blocks_total") > 0, 120, "the demo's blocks")
    uid = podman("exec", demo.id, "sh", "-c", "grep ^Uid: /proc/1/status").stdout.split()
    assert uid[1:] == ["10056"] * 4, uid
    assert demo.inspect("{{.Config.User}}") == "10056:10056"
    wait_until(demo.healthy, 60, "the image's HEALTHCHECK to pass")
    podman("stop", "-t", "30", demo.id)
    assert demo.inspect("{{.State.ExitCode}}") == "0"


def test_the_health_check_asks_the_address_ton_listen_address_moves_the_server_to(
    podman: Podman, images: dict[str, str], containers: list[Container]
) -> None:
    moved = Container(podman, "-e", "TON_LISTEN_ADDRESS=:10099", EXPORTER_IMAGE, port=10099)
    containers.append(moved)
    wait_until(lambda: "tonex_build_info" in moved.metrics(), 120, "the exporter on :10099")
    wait_until(moved.healthy, 60, "the HEALTHCHECK on :10099")


def test_a_mounted_tontester_network_is_counted_exactly(
    podman: Podman, images: dict[str, str], containers: list[Container], tontester_dir: Path
) -> None:
    tontester_dir.chmod(0o755)
    expected_lines = {f"node{n}": len(real_lines(n)) for n in (1, 2)}
    expected_validated = {
        f"node{n}": sum(1 for line in real_lines(n) if json.loads(line)["@type"] == "validatorStats.validatedBlock")
        for n in (1, 2)
    }
    network = Container(podman, "-v", f"{tontester_dir}:/network:ro", EXPORTER_IMAGE)
    containers.append(network)

    def counted() -> dict[str, float]:
        samples = parse(network.metrics())
        return {node: total(samples, "tonex_source_lines_parsed_total", node=node) for node in expected_lines}

    wait_until(lambda: counted() == expected_lines, 120, f"{expected_lines} lines parsed")
    samples = parse(network.metrics())
    assert total(samples, "tonex_source_lines_rejected_total") == 0
    for node, validated in expected_validated.items():
        assert total(samples, "tonex_validated_blocks_total", node=node) == validated
    assert {dict(labels)["run"] for name, labels in samples if name == "tonex_validated_blocks_total"} == {"tontester"}


def _override(ports: dict[str, int]) -> dict[str, Any]:
    """Published ports on loopback for what the test queries (the stack publishes only Grafana's)."""
    services: dict[str, Any] = {}
    for name, (port, inner) in {
        "prometheus": (ports["prometheus"], 9090),
        "alertmanager": (ports["alertmanager"], 9093),
    }.items():
        services[name] = {"ports": [f"127.0.0.1:{port}:{inner}"]}
    return {"services": services}


def test_compose_starts_the_stack_targets_up_rules_loaded_watchdog_routed_exporter_healthy(
    podman: Podman, images: dict[str, str], tmp_path: Path
) -> None:
    compose = require_binary("podman-compose")
    ports = {"prometheus": free_port(), "alertmanager": free_port()}
    override = tmp_path / "docker-compose.test.yml"
    override.write_text(yaml.safe_dump(_override(ports)))
    project = f"tonex{os.getpid()}"
    files = ["-p", project, "-f", str(ROOT / "docker-compose.yml"), "-f", str(override)]
    env = {**podman.env, "GRAFANA_ADMIN_PASSWORD": "unused-grafana-is-not-started"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [compose, *files, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
        )

    up = run("up", "-d", *SERVICES)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        prometheus = f"http://127.0.0.1:{ports['prometheus']}"

        def targets() -> dict[str, str]:
            answer = json.loads(http_get(f"{prometheus}/api/v1/targets")[2])
            return {t["labels"]["job"]: t["health"] for t in answer["data"]["activeTargets"]}

        jobs = {"tonex", "node", "prometheus", "alertmanager"}
        wait_until(lambda: targets() == dict.fromkeys(jobs, "up"), 180, f"every target up ({jobs})")
        rules = json.loads(http_get(f"{prometheus}/api/v1/rules")[2])["data"]["groups"]
        loaded = {rule["name"] for group in rules for rule in group["rules"]}
        assert {"Watchdog", "TonexExporterDown"} <= loaded, sorted(loaded)[:20]

        def watchdog_routed() -> bool:
            alerts = json.loads(http_get(f"http://127.0.0.1:{ports['alertmanager']}/api/v2/alerts")[2])
            return any(a["labels"]["alertname"] == "Watchdog" for a in alerts)

        wait_until(watchdog_routed, 180, "the Watchdog alert in Alertmanager")
        exporter = podman(
            "ps",
            "-q",
            "--filter",
            f"label=io.podman.compose.project={project}",
            "--filter",
            "label=com.docker.compose.service=exporter",
        ).stdout.split()
        assert len(exporter) == 1
        wait_until(
            lambda: podman("healthcheck", "run", exporter[0], check=False).returncode == 0, 60, "exporter healthy"
        )
    finally:
        down = run("down", "-v", "-t", "5")
        assert down.returncode == 0, down.stderr[-2000:]
