"""The runs table's queries on a real Prometheus scraping a real daemon: a finished run (both real files read under
it, its client killed) and a live one, each cell checked against what the run API says."""

import json
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from dashboards import runs
from tests.conftest import real_lines
from tests.servers import DaemonProcess, PrometheusServer, http_get, wait_until
from tests.test_runs_daemon import SOURCES, api, start_harness

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick


def by_run(prometheus: PrometheusServer, expr: str) -> dict[str, dict[str, Any]]:
    return {r["metric"]["run"]: {**r["metric"], "value": float(r["value"][1])} for r in prometheus.query(expr)}


def test_runs_table_shows_each_run_as_the_api_does(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path / ".dashboard", SOURCES)
    prometheus = PrometheusServer(tmp_path, [f"127.0.0.1:{daemon.port}"])
    try:
        harness = start_harness(tmp_path, daemon.directory, "finished-1")
        for n in (1, 2):
            log = tmp_path / "net" / f"node{n}" / "session-logs"
            log.parent.mkdir(parents=True)
            log.write_bytes(b"\n".join(real_lines(n)) + b"\n")
        wait_until(lambda: api(daemon, "/finished-1")[1]["accepted_blocks"].get("-1") == 26, 60, "26 blocks")
        harness.kill()
        wait_until(lambda: api(daemon, "/finished-1")[1]["status"] == "completed", 10, "the run to complete")
        command = [sys.executable, "-m", "ton_exporter", "run", "start", "live-1", "--dir", str(daemon.directory)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        finished = api(daemon, "/finished-1")[1]
        live = api(daemon, "/live-1")[1]
        columns = dict(runs.COLUMNS)
        wait_until(lambda: "finished-1" in by_run(prometheus, columns["end"]), 30, "the end scraped")
        wait_until(lambda: "live-1" in by_run(prometheus, columns["status"]), 30, "the live run scraped")

        info = by_run(prometheus, columns["info"])["finished-1"]
        assert (info["description"], info["branch"], info["commit"]) == ("crash me", "feature/x", "ab12cd3")
        cells = {name: by_run(prometheus, expr) for name, expr in runs.COLUMNS}
        assert cells["nodes"]["finished-1"]["value"] == 2
        assert cells["start"]["finished-1"]["value"] == pytest.approx(finished["start"] * 1000)
        assert cells["end"]["finished-1"]["value"] == pytest.approx(finished["end"] * 1000)
        duration = finished["end"] - finished["start"]
        assert cells["duration"]["finished-1"]["value"] == pytest.approx(duration)
        assert cells["blocks/s"]["finished-1"]["value"] == pytest.approx(26 / duration)
        assert {run: cell["value"] for run, cell in cells["status"].items()} == {"finished-1": 0, "live-1": 1}
        assert "live-1" not in cells["end"]
        assert cells["link_to"]["finished-1"]["value"] == pytest.approx(finished["end"] * 1000)
        assert cells["link_to"]["live-1"]["value"] == pytest.approx(time.time() * 1000, abs=30_000)
        assert cells["start"]["live-1"]["value"] == pytest.approx(live["start"] * 1000)
        assert cells["link_from"]["finished-1"]["value"] == cells["start"]["finished-1"]["value"]

        end = time.time()
        expr = runs._blocks_per_second().queries[0].expr.replace("$__rate_interval", "1m")
        params = urllib.parse.urlencode({"query": expr, "start": end - 120, "end": end, "step": 5})
        status, _, body = http_get(f"{prometheus.url}/api/v1/query_range?{params}")
        assert status == 200
        assert {r["metric"]["run"] for r in json.loads(body)["data"]["result"]} >= {"finished-1"}
    finally:
        prometheus.stop()
        daemon.stop()
