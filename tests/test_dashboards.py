"""The Grafana dashboards: generated from dashboards/, checked like grafana's dashboard-linter, and every panel
query run against a real Prometheus scraping the demo (the bundled real data, replayed live)."""

import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards import runs
from dashboards.__main__ import main as build
from dashboards.catalogue import DASHBOARDS
from tests.servers import ExporterProcess, PrometheusServer, http_get, wait_until

PANELS = [(d, p) for d in DASHBOARDS for p in d.to_json()["panels"] if p["type"] != "row"]
COUNTER_SUFFIXES = ("_total", "_bucket", "_sum", "_count")

# Queries that may legitimately return no series on the demo data, and why.
EXPECTED_EMPTY: dict[str, str] = {
    dict(runs.COLUMNS)["end"]: "the demo's run never ends (tests/test_runs_dashboard.py ends one)",
}


def test_generated_json_matches_the_description() -> None:
    assert build(check=True) == 0, "run: python -m dashboards"


def test_uids_are_stable_and_unique() -> None:
    uids = [d.uid for d in DASHBOARDS]
    assert len(uids) == len(set(uids))
    for d in DASHBOARDS:
        on_disk = json.loads((Path("grafana/dashboards") / d.folder / f"{d.uid}.json").read_text())
        assert on_disk["uid"] == d.uid
        assert re.fullmatch(r"[a-z0-9-]{1,40}", d.uid)


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_datasource_variable(dashboard: Any) -> None:
    variables = dashboard.to_json()["templating"]["list"]
    assert (variables[0]["type"], variables[0]["name"]) == ("datasource", "datasource")
    for variable in variables[1:]:
        assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


@pytest.mark.parametrize(("dashboard", "panel"), PANELS, ids=lambda x: getattr(x, "uid", None) or x["title"])
def test_panel_conventions(dashboard: Any, panel: dict[str, Any]) -> None:
    assert panel["title"]
    assert panel["description"]
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert panel["fieldConfig"]["defaults"]["unit"], "every panel has a unit"
    assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
    for target in panel["targets"]:
        expr = target["expr"]
        assert target["datasource"] == panel["datasource"]
        for call in re.findall(r"\b(?:rate|increase|irate)\([^\[]*\[([^\]]*)\]", expr):
            assert call == "$__rate_interval", f"{panel['title']}: use $__rate_interval in {expr}"
        for metric in re.findall(r"\b(tonex_\w+)", expr):
            if metric.endswith(COUNTER_SUFFIXES) and "timeline" not in metric:
                assert re.search(rf"(?:rate|increase)\({metric}\b", expr), f"counter {metric} outside rate()"


@pytest.fixture(scope="module")
def live_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    tmp = tmp_path_factory.mktemp("dashboards")
    demo = ExporterProcess(tmp, ["demo", "--dir", str(tmp / "replay")])
    prometheus = PrometheusServer(tmp, [f"127.0.0.1:{demo.port}"])
    try:
        # slots retire 15 s (event time) after their last event: wait for the first timeline samples
        wait_until(lambda: prometheus.query("tonex_consensus_timeline_slot"), 90, "the first retired slots")
        time.sleep(3)
        yield prometheus
    finally:
        prometheus.stop()
        demo.stop()


def substitute(expr: str, variables: dict[str, str]) -> str:
    values = {"run": "demo", "node": "node1", "workchain": "-1"} | variables
    for name, value in values.items():
        expr = expr.replace(f"${name}", value)
    return expr.replace("$__rate_interval", "1m").replace("$__range", "10m").replace("$__interval", "15s")


@pytest.mark.parametrize(("dashboard", "panel"), PANELS, ids=lambda x: getattr(x, "uid", None) or x["title"])
def test_every_query_returns_series(live_prometheus: PrometheusServer, dashboard: Any, panel: dict[str, Any]) -> None:
    for target in panel["targets"]:
        expr = substitute(target["expr"], {})
        if target.get("instant"):
            url = f"{live_prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        else:
            end = time.time()
            params = {"query": expr, "start": end - 300, "end": end, "step": 15}
            url = f"{live_prometheus.url}/api/v1/query_range?" + urllib.parse.urlencode(params)
        status, _, body = http_get(url)
        answer = json.loads(body)
        assert (status, answer["status"]) == (200, "success"), f"{expr}: {body[:300]!r}"
        if target["expr"] not in EXPECTED_EMPTY:
            assert answer["data"]["result"], f"{panel['title']}: no series for {expr}"
