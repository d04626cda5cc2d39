"""docker-compose.yml started natively, for machines without a Docker engine (ours, CI's).

    unshare --net --mount python -m tests.compose_native WORKDIR [-f docker-compose.yml -f override.yml ...]

In a private network and mount namespace (as root), with the compose service names resolving to 127.0.0.1
(/etc/hosts, bind-mounted over in this namespace only), every service compose would start runs from Debian's
binary of its image (prom/prometheus: /usr/bin/prometheus, ...; the exporter: docker/entrypoint.sh, as in its
image), on the port compose gives it, with the command of the resolved compose file (`docker-compose config`),
every container path in it replaced by the host path compose would mount there: the bind mounts' sources (the
repository's files), a directory of WORKDIR per named volume. Grafana has no Debian package: its provisioned
datasources are queried instead, at their URLs, from inside the namespace.

Polls until the stack is whole (no sleep of a fixed length), at most --timeout seconds, then prints a JSON
verdict on stdout: health checks, Prometheus's targets and rule groups, the alerts Alertmanager received and the
receivers it routed them to, the exporter's /metrics, the datasources' answers and, with VictoriaMetrics, the
series it received by remote_write. tests/test_compose.py asserts on it.
"""

import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

from tests.compose_config import (
    BASE,
    ROOT,
    entrypoint_path_variables,
    healthcheck_url,
    host_path,
    resolve,
    translate,
)
from tests.metrics_text import parse
from tests.servers import http_get

# Debian's binary for each image (its ENTRYPOINT); the services built from the repository run docker/entrypoint.sh.
BINARIES = {
    "prom/prometheus": "prometheus",
    "prom/alertmanager": "prometheus-alertmanager",
    "prom/node-exporter": "prometheus-node-exporter",
    "victoriametrics/victoria-metrics": "victoria-metrics",
}
NOT_RUN = {"grafana/grafana-oss": "no Debian package of Grafana: its provisioned datasources are queried instead"}
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In each child: SIGKILL when the driver dies, however it dies (nothing outlives the namespace's owner)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _isolate(service_names: list[str], work: Path) -> None:
    if [name for _, name in socket.if_nameindex()] != ["lo"]:  # a new network namespace has nothing else
        sys.exit("compose_native: run me in a private network namespace: unshare --net --mount python -m ...")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    hosts = work / "hosts"
    hosts.write_text(f"127.0.0.1 localhost {' '.join(service_names)}\n::1 localhost\n")
    subprocess.run(["mount", "--bind", str(hosts), "/etc/hosts"], check=True)


def _image(service: dict[str, Any]) -> str:
    return str(service.get("image", "")).rsplit(":", 1)[0]


def _command(name: str, service: dict[str, Any], volumes: Path) -> tuple[list[str], dict[str, str]]:
    env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
    if "build" in service:
        for container_path, variable in entrypoint_path_variables().items():
            path = host_path(service, container_path, volumes)
            if path is not None:
                env[variable] = str(path)
        return [str(ROOT / "docker" / "entrypoint.sh")], env
    if _image(service) not in BINARIES:
        sys.exit(f"compose_native: no native binary known for {name}'s image {service.get('image')}")
    binary = shutil.which(BINARIES[_image(service)])
    if binary is None:
        sys.exit(f"compose_native: {BINARIES[_image(service)]} (for {name}) is not installed; run ./dev test")
    return [binary, *(translate(a, service, volumes) for a in service.get("command", []))], env


def start_order(services: dict[str, Any]) -> list[str]:
    """Dependencies before their dependents (depends_on), as compose starts them; it stops them in reverse."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name not in order:
            for dependency in services[name].get("depends_on", {}):
                visit(dependency)
            order.append(name)

    for name in sorted(services):
        visit(name)
    return order


def start(config: dict[str, Any], work: Path) -> dict[str, subprocess.Popen[bytes]]:
    volumes = work / "volumes"
    for name in config.get("volumes", {}):
        (volumes / name).mkdir(parents=True)
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # ton-exporter of this environment
    processes = {}
    for name in start_order(config["services"]):
        service = config["services"][name]
        if _image(service) in NOT_RUN:
            continue
        argv, env = _command(name, service, volumes)
        log = open(work / f"{name}.log", "wb")  # noqa: SIM115
        processes[name] = subprocess.Popen(
            argv,
            env={"PATH": path, "HOME": str(work), **env},
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (the driver starts no thread)
        )
    return processes


def stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM, dependents first (Prometheus flushes its remote_write queue to a VictoriaMetrics still up)."""
    for process in reversed(processes.values()):
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get_json(url: str) -> Any:
    status, _, body = http_get(url, timeout=3)
    if status != 200:
        raise ValueError(f"{url}: HTTP {status}")
    return json.loads(body)


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    answer = _get_json(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def _health(config: dict[str, Any]) -> dict[str, int]:
    out = {}
    for name, service in config["services"].items():
        url = healthcheck_url(service)
        if url and _image(service) not in NOT_RUN:
            try:  # every service listens on this namespace's loopback, as on its container's
                out[name] = http_get(url, timeout=3)[0]
            except OSError:
                out[name] = 0
    return out


def _targets() -> list[dict[str, str]]:
    active = _get_json("http://prometheus:9090/api/v1/targets?state=active")["data"]["activeTargets"]
    return [
        {
            "job": t["labels"]["job"],
            "instance": t["labels"]["instance"],
            "network": t["labels"].get("network", ""),
            "health": t["health"],
            "error": t["lastError"],
        }
        for t in active
    ]


def _rule_groups() -> dict[str, dict[str, Any]]:
    groups = _get_json("http://prometheus:9090/api/v1/rules")["data"]["groups"]
    return {
        g["name"]: {"file": g["file"], "rules": len(g["rules"]), "health": sorted({r["health"] for r in g["rules"]})}
        for g in groups
    }


def _prometheus_alerting() -> dict[str, Any]:
    """The Alertmanagers Prometheus sends to, and its firing alerts."""
    managers = _get_json("http://prometheus:9090/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    alerts = _get_json("http://prometheus:9090/api/v1/alerts")["data"]["alerts"]
    return {
        "alertmanagers": [m["url"] for m in managers],
        "firing": sorted({a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}),
    }


def _alertmanager_alerts() -> list[dict[str, Any]]:
    groups = _get_json("http://alertmanager:9093/api/v2/alerts/groups")
    return [
        {"receiver": g["receiver"]["name"], "labels": a["labels"], "state": a["status"]["state"]}
        for g in groups
        for a in g["alerts"]
    ]


def _exporter() -> dict[str, Any]:
    status, _, body = http_get("http://exporter:10056/metrics", timeout=5)
    samples = parse(body.decode()) if status == 200 else {}
    blocks: dict[str, float] = {}
    for (name, labels), value in samples.items():
        if name == "tonex_collated_blocks_total":
            node = dict(labels)["node"]
            blocks[node] = blocks.get(node, 0) + value
    runs = sorted({dict(labels)["run"] for (name, labels) in samples if name == "tonex_node_info"})
    return {"status": status, "runs": runs, "collated_blocks": blocks}


def _datasources(config: dict[str, Any], volumes: Path) -> dict[str, dict[str, Any]]:
    """Every Prometheus datasource Grafana would provision, asked what Grafana's panels ask."""
    grafana = next((s for s in config["services"].values() if _image(s) in NOT_RUN), None)
    directory = host_path(grafana, "/etc/grafana/provisioning/datasources", volumes) if grafana else None
    out = {}
    for path in sorted(directory.glob("*.y*ml")) if directory else []:
        for source in yaml.safe_load(path.read_text())["datasources"]:
            try:
                series = len(_query(source["url"], "count by (job) (up)"))
                out[source["name"]] = {"url": source["url"], "status": "success", "jobs": series}
            except (OSError, ValueError, KeyError) as e:
                out[source["name"]] = {"url": source["url"], "status": f"error: {e}", "jobs": 0}
    return out


def _remote_write(config: dict[str, Any]) -> dict[str, int] | None:
    """With VictoriaMetrics in the stack: the series of each job it holds (what Prometheus wrote to it)."""
    if "victoriametrics" not in config["services"]:
        return None
    params = urllib.parse.urlencode({"match[]": '{__name__="up"}'})
    series = _get_json(f"http://victoriametrics:8428/api/v1/series?{params}")["data"]
    jobs: dict[str, int] = {}
    for labels in series:
        jobs[labels["job"]] = jobs.get(labels["job"], 0) + 1
    return jobs


def observe(config: dict[str, Any], volumes: Path) -> dict[str, Any]:
    state: dict[str, Any] = {"health": _health(config)}
    for key, probe in (
        ("targets", _targets),
        ("rule_groups", _rule_groups),
        ("prometheus_alerting", _prometheus_alerting),
        ("alertmanager_alerts", _alertmanager_alerts),
        ("exporter", _exporter),
        ("datasources", lambda: _datasources(config, volumes)),
        ("remote_write", lambda: _remote_write(config)),
    ):
        try:
            state[key] = probe()
        except (OSError, ValueError, KeyError) as e:
            state[key] = f"error: {e}"
    return state


def whole(state: dict[str, Any]) -> bool:
    """Every part answers, every target is up, every rule evaluated, the Watchdog reached Alertmanager, the
    exporter has read blocks of both demo nodes, every datasource has data, VictoriaMetrics (if any) every job."""
    if any(isinstance(v, str) for v in state.values()):
        return False
    targets = state["targets"]
    jobs = {t["job"] for t in targets}
    return (
        all(code == 200 for code in state["health"].values())
        and bool(targets)
        and all(t["health"] == "up" for t in targets)
        and all(g["health"] == ["ok"] for g in state["rule_groups"].values())
        and any(a["labels"].get("alertname") == "Watchdog" for a in state["alertmanager_alerts"])
        and len(state["exporter"]["collated_blocks"]) >= 2
        and all(d["jobs"] == len(jobs) for d in state["datasources"].values())
        and (state["remote_write"] is None or set(state["remote_write"]) == jobs)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path, help="an empty directory for volumes, logs and the hosts file")
    parser.add_argument("-f", "--file", type=Path, action="append", help="compose files (default docker-compose.yml)")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    files = args.file or [BASE]
    config = resolve(files, args.work / "empty.env")
    _isolate(list(config["services"]), args.work)

    began = time.monotonic()
    processes = start(config, args.work)
    state: dict[str, Any] = {}
    try:
        while time.monotonic() - began < args.timeout:
            state = observe(config, args.work / "volumes")
            exited = {name: p.returncode for name, p in processes.items() if p.poll() is not None}
            if whole(state) or exited:
                break
            time.sleep(0.5)
        state["exited"] = {name: p.returncode for name, p in processes.items() if p.poll() is not None}
    finally:
        stop(processes)
    state["seconds"] = round(time.monotonic() - began, 1)
    state["compose_files"] = [str(f) for f in files]
    state["commands"] = {name: p.args for name, p in processes.items()}
    state["not_run"] = {n: NOT_RUN[_image(s)] for n, s in config["services"].items() if _image(s) in NOT_RUN}
    state["exit_codes"] = {name: p.returncode for name, p in processes.items()}
    if not whole(state):
        state["logs"] = {name: (args.work / f"{name}.log").read_text(errors="replace")[-3000:] for name in processes}
    json.dump(state, sys.stdout, indent=1, default=str)


if __name__ == "__main__":
    main()
