"""docker-compose.yml and its VictoriaMetrics override, proven without a Docker engine: Debian's `docker-compose
config` and the compose-spec schema accept them; every file they mount exists and is what the services are told to
read; only Grafana is published, on loopback; volumes, ports, service names, Prometheus targets and Grafana
datasources agree; and the same configuration, started natively (tests/compose_native.py: the exporter,
Prometheus, Alertmanager, node-exporter and VictoriaMetrics from Debian's binaries, in a private network
namespace where the service names resolve), has every target up, every rule group loaded and the Watchdog
routed by Alertmanager to the dead man's switch."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.catalogue import DASHBOARDS
from tests.compose_config import (
    BASE,
    REQUIRED,
    ROOT,
    VICTORIAMETRICS,
    entrypoint_path_variables,
    healthcheck_url,
    host_path,
    listen_port,
    mounts,
    published,
    resolve,
    run_config,
)
from tests.conftest import require_binary

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

VARIANTS = {"base": [BASE], "victoriametrics": [BASE, VICTORIAMETRICS]}
VOLUMES = Path("/named-volume")  # where host_path puts named volumes in the static checks
NATIVE_BINARIES = ("prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "victoria-metrics", "ip")


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("compose")
    return {variant: resolve(files, tmp / "empty.env") for variant, files in VARIANTS.items()}


def _variant_ids() -> list[str]:
    return list(VARIANTS)


def _services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = config["services"]
    return services


def _argument(service: dict[str, Any], flag: str) -> str:
    return next(str(a).split("=", 1)[1] for a in service["command"] if str(a).startswith(f"{flag}="))


def _prometheus_config(service: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    path = host_path(service, _argument(service, "--config.file"), VOLUMES)
    assert path is not None
    assert path.is_file(), path
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    return path, config


def _datasources(grafana: dict[str, Any]) -> list[dict[str, Any]]:
    directory = host_path(grafana, "/etc/grafana/provisioning/datasources", VOLUMES)
    assert directory is not None
    return [d for f in sorted(directory.glob("*.yml")) for d in yaml.safe_load(f.read_text())["datasources"]]


# --- the tools accept the files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", _variant_ids())
def test_docker_compose_config_accepts_it_with_every_variable_defaulted(variant: str, tmp_path: Path) -> None:
    (tmp_path / "empty.env").touch()
    result = run_config(VARIANTS[variant], REQUIRED, tmp_path / "empty.env")
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr  # "The X variable is not set. Defaulting to a blank string."


def test_there_is_no_default_admin_password(tmp_path: Path) -> None:
    (tmp_path / "empty.env").touch()
    result = run_config([BASE], {}, tmp_path / "empty.env")
    assert result.returncode != 0
    assert "set GRAFANA_ADMIN_PASSWORD" in result.stderr
    text = BASE.read_text() + VICTORIAMETRICS.read_text()
    assert re.findall(r"PASSWORD[^\n]*:-", text) == []


@pytest.mark.parametrize("path", [BASE, VICTORIAMETRICS], ids=lambda p: p.name)
def test_the_compose_spec_schema_accepts_it(path: Path) -> None:
    result = subprocess.run(
        [require_binary("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- what the files say ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", _variant_ids())
def test_every_mounted_file_exists_and_is_what_the_services_read(configs: dict[str, Any], variant: str) -> None:
    services = _services(configs[variant])
    for name, service in services.items():
        for mount in mounts(service):
            if not mount.named:
                assert Path(mount.source).exists(), f"{name}: {mount.source}"
                assert mount.source == "/" or Path(mount.source).is_relative_to(ROOT), f"{name}: {mount.source}"
                assert mount.read_only, f"{name}: {mount.target} is mounted writable"

    prometheus_file, prometheus = _prometheus_config(services["prometheus"])
    for rules in prometheus["rule_files"]:
        assert (prometheus_file.parent / rules).is_file(), rules
    alertmanager_file = host_path(
        services["alertmanager"], _argument(services["alertmanager"], "--config.file"), VOLUMES
    )
    assert alertmanager_file == ROOT / "prometheus" / "alertmanager.yml"
    for pattern in yaml.safe_load(alertmanager_file.read_text())["templates"]:
        assert list(alertmanager_file.parent.glob(pattern)), pattern  # relative to the config, as Alertmanager reads
        container = host_path(services["alertmanager"], f"/etc/alertmanager/{pattern.rsplit('/', 1)[0]}", VOLUMES)
        assert container is not None
        assert list(container.glob(pattern.rsplit("/", 1)[1])), pattern
    secrets = host_path(services["alertmanager"], "/etc/alertmanager/secrets", VOLUMES)
    assert secrets == ROOT / "docker" / "alertmanager-secrets"
    assert sorted(p.name for p in secrets.iterdir()) == [".gitignore", "README.md"], "no secret is committed"

    grafana = services["grafana"]
    (provider,) = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/ton.yml").read_text())["providers"]
    dashboards = host_path(grafana, provider["options"]["path"], VOLUMES)
    assert dashboards == ROOT / "grafana" / "dashboards"
    assert {p.stem for p in dashboards.glob("*/*.json")} == {d.uid for d in DASHBOARDS}
    home = host_path(grafana, grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"], VOLUMES)
    assert home is not None
    assert home.is_file(), home
    assert _datasources(grafana)


@pytest.mark.parametrize("variant", _variant_ids())
def test_only_grafana_is_published_and_only_on_loopback(configs: dict[str, Any], variant: str) -> None:
    services = _services(configs[variant])
    assert {name: published(s) for name, s in services.items() if published(s)} == {
        "grafana": [("127.0.0.1", "3000", "3000")]
    }
    assert all("network_mode" not in s for s in services.values())


def test_grafanas_host_port_moves_and_stays_on_loopback(tmp_path: Path) -> None:
    config = resolve([BASE], tmp_path / "empty.env", {"GRAFANA_PORT": "3300"})
    assert published(config["services"]["grafana"]) == [("127.0.0.1", "3300", "3000")]


@pytest.mark.parametrize("variant", _variant_ids())
def test_data_lives_in_named_volumes_each_declared_and_used(configs: dict[str, Any], variant: str) -> None:
    config = configs[variant]
    services = _services(config)
    used = {m.source for s in services.values() for m in mounts(s) if m.named}
    assert used == set(config["volumes"])
    data = {
        "exporter": next(p for p, v in entrypoint_path_variables().items() if v == "TON_STATE_DIR"),
        "prometheus": _argument(services["prometheus"], "--storage.tsdb.path"),
        "alertmanager": _argument(services["alertmanager"], "--storage.path"),
        "grafana": "/var/lib/grafana",
    }
    if "victoriametrics" in services:
        data["victoriametrics"] = _argument(services["victoriametrics"], "-storageDataPath")
    for name, path in data.items():
        on = host_path(services[name], path, VOLUMES)
        assert on is not None
        assert on.parent == VOLUMES, f"{name}: {path} is not on a named volume"


@pytest.mark.parametrize("variant", _variant_ids())
def test_service_names_ports_targets_and_datasources_agree(configs: dict[str, Any], variant: str) -> None:
    services = _services(configs[variant])
    ports = {name: listen_port(s) or 10056 for name, s in services.items()}  # the exporter: the image's default
    assert ports["exporter"] == int(re.findall(r"^EXPOSE (\d+)", (ROOT / "Dockerfile").read_text(), re.M)[0])
    for name, service in services.items():
        if name != "grafana":
            assert service["expose"] == [str(ports[name])], name
    ports["grafana"] = int(published(services["grafana"])[0][2])

    def service_of(address: str) -> str:
        host, port = address.removeprefix("http://").split("/")[0].split(":")
        assert host in services, f"{address}: no service {host}"
        assert int(port) == ports[host], f"{address}: {host} listens on {ports[host]}"
        return host

    _, prometheus = _prometheus_config(services["prometheus"])
    scraped = {
        scrape["job_name"]: {service_of(t) for static in scrape["static_configs"] for t in static["targets"]}
        for scrape in prometheus["scrape_configs"]
    }
    assert scraped == {
        "tonex": {"exporter"},
        "node": {"node-exporter"},
        "prometheus": {"prometheus"},
        "alertmanager": {"alertmanager"},
    }
    notified = {
        service_of(t)
        for a in prometheus["alerting"]["alertmanagers"]
        for s in a["static_configs"]
        for t in s["targets"]
    }
    assert notified == {"alertmanager"}
    written = {service_of(r["url"]) for r in prometheus.get("remote_write", [])}
    assert written == ({"victoriametrics"} if variant == "victoriametrics" else set())
    queried = {d["name"]: service_of(d["url"]) for d in _datasources(services["grafana"])}
    assert queried == {"Prometheus": "prometheus"} | (
        {"VictoriaMetrics": "victoriametrics"} if variant == "victoriametrics" else {}
    )


@pytest.mark.parametrize("variant", _variant_ids())
def test_every_service_has_a_health_check_on_its_port_and_restarts(configs: dict[str, Any], variant: str) -> None:
    for name, service in _services(configs[variant]).items():
        url = healthcheck_url(service)
        assert url, f"{name} has no health check"
        port = listen_port(service) or (3000 if name == "grafana" else 10056)
        assert url.startswith(f"http://127.0.0.1:{port}/"), f"{name}: {url}"
        assert service["restart"] == "unless-stopped", name


@pytest.mark.parametrize("variant", _variant_ids())
def test_images_are_pinned(configs: dict[str, Any], variant: str) -> None:
    for name, service in _services(configs[variant]).items():
        if "build" in service:
            assert Path(service["build"]["context"]) == ROOT, name
            continue
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", service["image"]), f"{name}: {service['image']}"
    assert _services(configs[variant])["grafana"]["image"].startswith("grafana/grafana-oss:11.")


def test_one_variable_points_the_exporter_at_a_tontester_network(tmp_path: Path, tontester_dir: Path) -> None:
    default = resolve([BASE], tmp_path / "empty.env")["services"]["exporter"]
    placeholder = host_path(default, "/network", VOLUMES)
    assert placeholder == ROOT / "docker" / "no-network"
    assert not list(placeholder.glob("node*/session-logs")), "the default must leave the entrypoint on the demo"

    exporter = resolve([BASE], tmp_path / "empty.env", {"TONTESTER_DIR": str(tontester_dir), "TON_RUN": "mine"})
    service = exporter["services"]["exporter"]
    (network,) = [m for m in mounts(service) if m.target == "/network"]
    assert (network.source, network.read_only) == (str(tontester_dir), True)
    assert service["environment"]["TON_RUN"] == "mine"
    assert "/network" in entrypoint_path_variables()


def test_anonymous_viewing_is_opt_in_and_read_only(configs: dict[str, Any], tmp_path: Path) -> None:
    default = _services(configs["base"])["grafana"]["environment"]
    assert default["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    opted = resolve([BASE], tmp_path / "empty.env", {"GRAFANA_ANONYMOUS": "true"})["services"]["grafana"]
    assert opted["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert opted["environment"]["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert opted["environment"]["GF_USERS_ALLOW_SIGN_UP"] == "false"


def test_the_victoriametrics_variant_is_the_stack_plus_remote_write() -> None:
    prometheus = ROOT / "prometheus"
    base = yaml.safe_load((prometheus / "prometheus-compose.yml").read_text())
    with_vm = yaml.safe_load((prometheus / "prometheus-compose-vm.yml").read_text())
    assert with_vm.pop("remote_write") == [{"url": "http://victoriametrics:8428/api/v1/write"}]
    assert with_vm == base
    stack = yaml.safe_load((ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"]
    both = yaml.safe_load((ROOT / "grafana/datasources-victoriametrics/datasources.yml").read_text())["datasources"]
    assert both[0] == stack[0]
    assert [d["uid"] for d in both] == ["ton-prometheus", "ton-victoriametrics"]


# --- started natively --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Both variants at once, each in its own network namespace (the same ports, no clash); about 70 s: Prometheus
    drops the alerts of its first evaluation, made before it knows its Alertmanager, and resends a firing alert
    after a minute (--rules.alert.resend-delay), so the Watchdog reaches Alertmanager about 65 s after start."""
    for binary in NATIVE_BINARIES:
        require_binary(binary)
    unshare = require_binary("unshare")
    probe = subprocess.run([unshare, "--net", "--mount", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.fail(f"unshare --net --mount is not permitted here ({probe.stderr.strip()}): run the tests as root")
    runs = {}
    for variant, files in VARIANTS.items():
        work = tmp_path_factory.mktemp(f"native-{variant}")
        args = [
            unshare,
            "--net",
            "--mount",
            sys.executable,
            "-m",
            "tests.compose_native",
            str(work),
            "--timeout",
            "120",
        ]
        for f in files:
            args += ["-f", str(f)]
        runs[variant] = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    verdicts = {}
    for variant, process in runs.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        verdicts[variant] = json.loads(out)
    return verdicts


@pytest.mark.parametrize("variant", _variant_ids())
def test_the_stack_started_natively_is_whole(native: dict[str, Any], configs: dict[str, Any], variant: str) -> None:
    verdict = native[variant]
    logs = json.dumps(verdict.get("logs", {}), indent=1)[-6000:]
    services = set(_services(configs[variant]))
    assert verdict["exited"] == {}, logs
    assert verdict["not_run"] == {"grafana": verdict["not_run"]["grafana"]}
    assert verdict["health"] == dict.fromkeys(services - {"grafana"}, 200), logs

    targets = {(t["job"], t["instance"]): (t["health"], t["network"], t["error"]) for t in verdict["targets"]}
    assert targets == {
        ("tonex", "exporter:10056"): ("up", "compose", ""),
        ("node", "node-exporter:9100"): ("up", "compose", ""),
        ("prometheus", "prometheus:9090"): ("up", "compose", ""),
        ("alertmanager", "alertmanager:9093"): ("up", "compose", ""),
    }, logs

    rules = ROOT / "prometheus" / "rules"
    shipped = {
        g["name"]: (str(rules / f), len(g["rules"]))
        for f in ("recording.yml", "alerts.yml")
        for g in yaml.safe_load((rules / f).read_text())["groups"]
    }
    groups = verdict["rule_groups"]
    assert {name: (g["file"], g["rules"]) for name, g in groups.items()} == shipped
    assert {name: g["health"] for name, g in groups.items()} == {name: ["ok"] for name in shipped}

    assert verdict["prometheus_alerting"]["alertmanagers"] == ["http://alertmanager:9093/api/v2/alerts"]
    watchdog = [a for a in verdict["alertmanager_alerts"] if a["labels"]["alertname"] == "Watchdog"]
    assert watchdog == [
        {"receiver": "deadmans-switch", "labels": {"alertname": "Watchdog", "severity": "none"}, "state": "active"}
    ], logs

    exporter = verdict["exporter"]
    assert (exporter["status"], exporter["runs"], sorted(exporter["collated_blocks"])) == (
        200,
        ["demo"],
        ["node1", "node2"],
    )
    assert all(blocks > 0 for blocks in exporter["collated_blocks"].values())

    sources = {"Prometheus"} | ({"VictoriaMetrics"} if variant == "victoriametrics" else set())
    assert verdict["datasources"] == {
        name: {"url": verdict["datasources"][name]["url"], "status": "success", "jobs": 4} for name in sources
    }
    if variant == "victoriametrics":
        assert verdict["remote_write"] == {"tonex": 1, "node": 1, "prometheus": 1, "alertmanager": 1}
    else:
        assert verdict["remote_write"] is None
    assert verdict["seconds"] < 120
