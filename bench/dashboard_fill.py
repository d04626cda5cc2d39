"""How long after `docker compose up` each dashboard shows data: the demo exporter and Prometheus on the compose
stack's config (prometheus-compose.yml: its 5 s scrapes and the shipped rules), every panel of the provisioned
dashboards (grafana/dashboards) queried each second as Grafana asks it on its default range (the last 30 min,
15 s steps, $__rate_interval 1m, the demo's run and node1 on the masterchain). A time-series panel counts as
filled once one of its lines has two points; a table, stat or gauge once it has a value. The engine and text-log
dashboards are left out: the stack has no engine endpoint, the demo no text log.

    python -m bench.dashboard_fill [--history SECONDS] [--timeout SECONDS]

--history is the demo's (the image's entrypoint runs the demo with --history 180).
"""

import argparse
import json
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

from tests.alerting_servers import ConfiguredPrometheus, localize_prometheus_config
from tests.servers import ExporterProcess, http_get
from tests.test_dashboards import EXPECTED_EMPTY, EXPECTED_EMPTY_QUERIES, substitute

ROOT = Path(__file__).resolve().parent.parent
NOT_IN_THE_DEMO = {"ton-engine", "ton-text-logs"}


def panels() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((ROOT / "grafana" / "dashboards").glob("*/*.json")):
        model = json.loads(path.read_text())
        if model["uid"] not in NOT_IN_THE_DEMO:
            out += [(model["uid"], p) for p in model["panels"] if p["type"] != "row"]
    return out


def filled(prometheus: ConfiguredPrometheus, panel: dict[str, Any]) -> bool:
    if panel["title"] in EXPECTED_EMPTY:
        return True
    points_needed = 2 if panel["type"] == "timeseries" else 1
    for target in panel["targets"]:
        if target["expr"] in EXPECTED_EMPTY_QUERIES:
            continue
        expr = substitute(target["expr"], {})
        if target.get("instant"):
            params: dict[str, Any] = {"query": expr}
            url = f"{prometheus.url}/api/v1/query?"
        else:
            end = time.time()
            params = {"query": expr, "start": end - 1800, "end": end, "step": 15}
            url = f"{prometheus.url}/api/v1/query_range?"
        _, _, body = http_get(url + urllib.parse.urlencode(params))
        result = json.loads(body)["data"]["result"]
        if target.get("instant"):
            if not result:
                return False
        elif not any(len(series["values"]) >= points_needed for series in result):
            return False
    return True


def measure(timeout: float, history: float) -> dict[tuple[str, str], float | None]:
    todo = panels()
    first: dict[tuple[str, str], float | None] = {(uid, p["title"]): None for uid, p in todo}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        began = time.monotonic()
        demo = ExporterProcess(directory, ["demo", "--history", str(history), "--dir", str(directory / "replay")])
        config = localize_prometheus_config(
            ROOT / "prometheus" / "prometheus-compose.yml", {"exporter:10056": f"127.0.0.1:{demo.port}"}, interval="5s"
        )
        config["rule_files"] = [str(ROOT / "prometheus" / "rules" / Path(f).name) for f in config["rule_files"]]
        (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
        prometheus = ConfiguredPrometheus(directory / "prometheus.yml")
        try:
            while time.monotonic() - began < timeout and None in first.values():
                tick = time.monotonic()
                for uid, panel in todo:
                    if first[(uid, panel["title"])] is None and filled(prometheus, panel):
                        first[(uid, panel["title"])] = round(time.monotonic() - began, 1)
                time.sleep(max(0.0, 1 - (time.monotonic() - tick)))
        finally:
            prometheus.stop()
            demo.stop()
    return first


def report(first: dict[tuple[str, str], float | None], history: float) -> None:
    print(f"dashboard fill: seconds from the demo's start (--history {history:g}) until a panel shows data")
    print(f"{'dashboard':<22} {'panels':>6} {'median':>7} {'last':>6}  slowest panels")
    for uid in sorted({u for u, _ in first}):
        times = {t: s for (u, t), s in first.items() if u == uid}
        done = [s for s in times.values() if s is not None]
        last = "never" if None in times.values() else f"{max(done):.0f}"
        slow = sorted(times.items(), key=lambda kv: -1 if kv[1] is None else kv[1], reverse=True)[:3]
        slowest = ", ".join(f"{t} ({'never' if s is None else f'{s:.0f}'})" for t, s in slow)
        median = f"{statistics.median(done):.0f}" if done else "-"
        print(f"{uid:<22} {len(times):>6} {median:>7} {last:>6}  {slowest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=240)
    parser.add_argument("--history", type=float, default=0)
    args = parser.parse_args()
    report(measure(args.timeout, args.history), args.history)


if __name__ == "__main__":
    main()
