"""The Grafana dashboards: generated from dashboards/, checked like grafana's dashboard-linter, and every panel
query run against a real Prometheus scraping the demo (the bundled real data, replayed live)."""

import json
import math
import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import health, node, runs
from dashboards.__main__ import main as build
from dashboards.catalogue import DASHBOARDS
from dashboards.common import rate
from dashboards.model import DATASOURCE_VARIABLE, Query
from tests.replay import ReplayedMetricsServer, TextLogReplayer
from tests.servers import ExporterProcess, PrometheusServer, http_get, wait_until

PANELS = [(d, p) for d in DASHBOARDS for p in d.to_json()["panels"] if p["type"] != "row"]
COUNTER_SUFFIXES = ("_total", "_bucket", "_sum", "_count")

FIXTURES = Path(__file__).parent / "fixtures"

# Panels whose queries return no series on the demo data (two validators, current release), and why.
EXPECTED_EMPTY: dict[str, str] = {
    **dict.fromkeys(
        ("SSH hosts up", "SSH connect failures by reason", "SSH bytes behind", "Time since the last SSH read"),
        "the demo reads local files: the SSH series exist in central mode over SSH (tests/test_ssh_fleet.py "
        "evaluates these panels on a real Prometheus scraping a collector of real sshd hosts)",
    ),
    "Msg limit from neighbor queue": "every neighbors[].msg_limit in the data is -1 (no limit), which is skipped",
    **dict.fromkeys(
        ("Overload reasons and split wanted", "Peak block limit class"),
        "upstream's next format (PR #2488): the demo's files predate it (tests/test_upstream_next_format.py)",
    ),
}
# Panels and queries whose values are all 0 (or NaN) on the demo, and why.
NO_REJECTS = "the demo's files have no bad lines: only reasons that occur are drawn (tests/test_bad_input.py has them)"
QUIET = "the demo's two validators run a quiet network: no external messages, no queues, no limits reached"
HEALTHY = "the demo is healthy: no skipped slots, invalid candidates, retries or drifted collations"
KEPT_UP = "the exporter keeps up with the demo's files: nothing unread, rotated, late or unidentified"
DELEGATION = "the demo's validators collate their own slots (delegation: tests/test_upstream_next_format.py)"
NO_CACHE = "the demo's rows carry no storage stat cache use (0 entries; the hit ratio is 0/0)"
EXPECTED_ZERO: dict[str, str] = {
    "Skip ratio": HEALTHY,
    "Skipped slots per second": HEALTHY,
    "Invalid blocks": HEALTHY,
    "Invalid candidates": HEALTHY,
    "Collation retries per second": HEALTHY,
    "Rejected lines": NO_REJECTS,
    "External messages per second": QUIET,
    "Collated data size estimate": "estimated_collated_data is 0 in the demo's rows",
    "Block limit categories": QUIET,
    "Limit log hits by kind": QUIET,
    "Queue limit reached fraction": QUIET,
    "Collate storage stat cache (count)": NO_CACHE,
    "Collate storage stat cache (cells)": NO_CACHE,
    "Validate storage stat cache (count)": NO_CACHE,
    "Validate storage stat cache (cells)": NO_CACHE,
    "Storage stat cache hit ratio": NO_CACHE,
    "Files: bytes not read yet": KEPT_UP,
    "Tail lag": KEPT_UP,
    "Rotations and truncations": KEPT_UP,
    "Unidentified consensus sessions": KEPT_UP,
    "Late records": KEPT_UP,
}
# Parts of queries (metrics, matchers) that are 0 on the demo inside panels that otherwise draw something.
EXPECTED_ZERO_PARTS: dict[str, str] = {
    "tonex_consensus_skipped_slots_total": HEALTHY,
    "tonex_consensus_drifted_collations_total": HEALTHY,
    "tonex_consensus_unfinished_collations_total": HEALTHY,
    "tonex_consensus_unexpected_leader_collations_total": HEALTHY,
    "tonex_consensus_empty_candidates_total": "the demo's leaders never propose an empty candidate",
    'agg="min"': "the least of a window is 0 on the quiet demo (a block without queued messages)",
    "no_prefix|bad_benchmark": NO_REJECTS,
    'type="consensus.stats.id"': "one event per session: none may start in the few minutes the test looks at",
    "tonex_series_overflow_total": "the demo's two shards are far below the cap (tests/test_series_bounds.py)",
    "tonex_series_retired_groups_total": "the demo's shards never go idle (tests/test_series_bounds.py)",
    "tonex_consensus_delegated_leader_slots_total": DELEGATION,
}
# Single queries that return no series on the demo data, and why.
EXPECTED_EMPTY_QUERIES: dict[str, str] = {
    **{q.rendered(): NO_REJECTS for q in node.PANELS[-1].queries},
    **{q.rendered(): NO_REJECTS for q in health.PANELS[3].queries},
    dict(runs.COLUMNS)["end"]: "the demo's run never ends (tests/test_runs_dashboard.py ends one)",
    Query(rate("tonex_consensus_delegated_collations_total", "leader_idx"), "").rendered(): DELEGATION,
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


def test_provisioning_points_at_the_dashboards_and_the_datasource_uid() -> None:
    datasources = yaml.safe_load(Path("grafana/provisioning/datasources/prometheus.yml").read_text())
    (prometheus,) = datasources["datasources"]
    assert (prometheus["uid"], prometheus["type"]) == (DATASOURCE_VARIABLE["current"]["value"], "prometheus")
    providers = yaml.safe_load(Path("grafana/provisioning/dashboards/ton.yml").read_text())["providers"]
    assert providers[0]["options"]["foldersFromFilesStructure"] is True
    for path in Path("grafana/provisioning").rglob("*.yml"):
        # Grafana expands provisioning values with Go's os.ExpandEnv: `${VAR:-default}` would become "".
        assert ":-" not in path.read_text(), path


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


TIME_UNITS = {"s", "ms", "µs", "ns", "dtdurations", "dtdurationms"}
# Units that draw a unit-less number next to another: a count per second and a plain count share an axis fine.
KIND_OF_UNIT = {"bytes": "bytes", "decbytes": "bytes", "Bps": "bytes", **dict.fromkeys(TIME_UNITS, "duration")}


def quantity(expr: str) -> str:
    """What a query measures, read from the metric names it uses: a duration, a number of bytes, a ratio of
    seconds per second (CPU), or a count (anything else: blocks, lines, indexes, codes)."""
    if expr.startswith("count("):
        return "count"
    if re.search(r"(?:rate|increase)\(\w+_seconds_total\b", expr):
        return "ratio"
    if re.search(r"_seconds(?:_bucket|_sum|\b|:)", expr.replace("_timestamp_seconds", "")) or "time() -" in expr:
        return "duration"
    if "_bytes" in expr:
        return "bytes"
    return "count"


def overridden_units(panel: dict[str, Any]) -> set[str]:
    """Names of the fields (table columns, legends) whose unit an override sets: they are drawn on their own."""
    return {
        o["matcher"]["options"]
        for o in panel["fieldConfig"]["overrides"]
        if any(p["id"] == "unit" for p in o["properties"])
    }


@pytest.mark.parametrize(("dashboard", "panel"), PANELS, ids=lambda x: getattr(x, "uid", None) or x["title"])
def test_the_unit_fits_every_query(dashboard: Any, panel: dict[str, Any]) -> None:
    """No seconds on counts ("slot 405" drawn as 6.75 min), no bytes on lines."""
    unit, own = panel["fieldConfig"]["defaults"]["unit"], overridden_units(panel)
    for target in panel["targets"]:
        if target["legendFormat"] in own:
            continue
        measured = quantity(target["expr"])
        if unit in KIND_OF_UNIT:
            assert measured == KIND_OF_UNIT[unit], f"{panel['title']}: unit {unit} on {measured}: {target['expr']}"
        else:
            assert measured != "duration", f"{panel['title']}: a duration in {unit}: {target['expr']}"


@pytest.mark.parametrize(("dashboard", "panel"), PANELS, ids=lambda x: getattr(x, "uid", None) or x["title"])
def test_no_panel_mixes_quantities_on_one_axis(dashboard: Any, panel: dict[str, Any]) -> None:
    """Bytes beside lines per second, CPU beside scrape seconds: one axis, one quantity."""
    own = overridden_units(panel)
    kinds = {quantity(t["expr"]) for t in panel["targets"] if t["legendFormat"] not in own}
    assert len(kinds) <= 1, f"{panel['title']} mixes {kinds}"


@pytest.mark.parametrize(("dashboard", "panel"), PANELS, ids=lambda x: getattr(x, "uid", None) or x["title"])
def test_every_query_of_a_run_s_data_selects_the_run(dashboard: Any, panel: dict[str, Any]) -> None:
    """Other runs must not leak in: a dashboard with a run variable filters every query of the exporter's series
    by it (series without a run label, tonex_source_*, through a join on the run's nodes)."""
    if "run" not in {v["name"] for v in dashboard.to_json()["templating"]["list"]}:
        return
    for target in panel["targets"]:
        if "tonex_" in target["expr"]:
            assert "$run" in target["expr"], f"{panel['title']}: no $run in {target['expr']}"


@pytest.mark.parametrize(("dashboard", "panel"), PANELS, ids=lambda x: getattr(x, "uid", None) or x["title"])
def test_window_gauges_are_aggregated_over_the_step(dashboard: Any, panel: dict[str, Any]) -> None:
    """A window gauge sampled once per step loses every window between two steps at a long range."""
    for target in panel["targets"]:
        for match in re.finditer(r"\b(tonex_window_\w+)\{[^}]*\}(\[[^\]]*\])?", target["expr"]):
            name, window = match.groups()
            if not name.endswith(("_total", "_timestamp_seconds")):
                assert window == "[$__interval]", f"{panel['title']}: {name} not over $__interval"
                assert target["interval"] == "1m"


WINDOW_GAUGE = re.compile(r"\btonex_window_\w+(?<!_total)\{")
CURRENT = re.compile(r"\b(rate|increase|histogram_quantile)\(|:\w*rate\d+m\b")


@pytest.mark.parametrize(("dashboard", "panel"), PANELS, ids=lambda x: getattr(x, "uid", None) or x["title"])
def test_a_panel_that_mixes_time_bases_says_so(dashboard: Any, panel: dict[str, Any]) -> None:
    """Window gauges trail the events by one to two minutes, rates and histogram quantiles are current
    (docs/precision.md): a panel drawing both says so in its description."""
    exprs = [t["expr"] for t in panel.get("targets", [])]
    windows = any(WINDOW_GAUGE.search(e) for e in exprs)
    current = any(CURRENT.search(e) for e in exprs if not WINDOW_GAUGE.search(e))
    if windows and current:
        assert "two time bases" in panel.get("description", ""), panel["title"]


def test_workchains_are_named_wherever_a_legend_names_them() -> None:
    for _, panel in PANELS:
        for target in panel["targets"]:
            if "{{workchain}}" in target["legendFormat"] and not target["expr"].rstrip().endswith("]"):
                assert '"masterchain", "workchain", "-1"' in target["expr"], panel["title"]


def test_the_slot_timeline_never_stacks_the_bars_of_different_nodes() -> None:
    """The timeline's bars stack the parts of one slot; with two nodes they would stack two nodes' slots."""
    for dashboard, panel in PANELS:
        stacked_bars = panel["fieldConfig"]["defaults"]["custom"].get("stacking", {}).get("mode") == "normal"
        if stacked_bars and any("tonex_consensus_timeline" in t["expr"] for t in panel["targets"]):
            variables = {v["name"]: v for v in dashboard.to_json()["templating"]["list"][1:]}
            for name in ("node", "workchain"):
                assert (variables[name]["multi"], variables[name]["includeAll"]) == (False, False), panel["title"]


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_every_variable_a_query_uses_is_defined(dashboard: Any) -> None:
    model = dashboard.to_json()
    defined = {v["name"] for v in model["templating"]["list"]}
    builtin = {"__rate_interval", "__range", "__interval"}
    panels = [p for p in model["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in model["panels"]}) == len(model["panels"]), "panel ids are unique"
    for panel in panels:
        used = {v for t in panel["targets"] for v in re.findall(r"\$(\w+)", t["expr"])}
        assert used <= defined | builtin, f"{panel['title']}: undefined {used - defined - builtin}"
        if panel.get("repeat"):
            assert panel["repeat"] in defined


def test_the_catalogue_is_covered() -> None:
    ids = {
        p["description"].rsplit("(chart catalogue ", 1)[1].rstrip(")")
        for _, p in PANELS
        if "(chart catalogue" in p["description"]
    }
    assert len(PANELS) >= 60
    assert len(ids) >= 55


@pytest.fixture(scope="module")
def live_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    tmp = tmp_path_factory.mktemp("dashboards")
    demo = ExporterProcess(tmp, ["demo", "--history", "180", "--dir", str(tmp / "replay")])
    # The demo has no text logs: a second exporter reads the SYNTHETIC sample under the demo's run.
    # The text logs and the engine stand-in keep moving (replayed), so that their rates are not 0.
    replayer = TextLogReplayer(FIXTURES / "text-logs", tmp / "text-logs")
    text_logs = ExporterProcess(
        tmp, ["serve", "--from-start", "--run", "demo", "--text-log", str(tmp / "text-logs" / "node*" / "log*")]
    )
    engine = ReplayedMetricsServer((FIXTURES / "engine-metrics.txt").read_bytes())
    engine_job = (
        "  - job_name: ton-engine\n    static_configs:\n"
        f"      - targets: ['{engine.address}']\n        labels: {{node: node1}}\n"
    )
    recording_rules = Path("prometheus/rules/recording.yml").resolve()  # the shipped ones: the overview reads them
    targets = [f"127.0.0.1:{demo.port}", f"127.0.0.1:{text_logs.port}"]
    prometheus = PrometheusServer(tmp, targets, [recording_rules], extra_config=engine_job)
    try:
        # The demo's 3 minutes of history (--history 180) make complete windows and retired slots at once (without
        # it, window gauges wait up to 90 s for the first complete minute); rates wait for two samples.
        wait_until(
            lambda: len(prometheus.query("tonex_window_collated_blocks > 0")) == 4,
            150,
            "a complete window on each node",
        )
        wait_until(lambda: prometheus.query("tonex_consensus_timeline_slot"), 60, "the first retired slots")
        wait_until(lambda: prometheus.query("rate(tonex_accepted_blocks_total[1m]) > 0"), 60, "two samples to rate")
        wait_until(lambda: prometheus.query("workchain:tonex_accepted_blocks:max_rate1m"), 60, "recorded rates")
        wait_until(lambda: prometheus.query("node_workchain:tonex_collation_total_seconds:p95_rate5m"), 60, "rules")
        wait_until(lambda: prometheus.query("rate(tonex_text_log_lines_total[1m]) > 0"), 60, "text-log rates")
        own = 'rate(tonex_consensus_collation_seconds_count{node="node1", workchain="-1"}[1m]) > 0'
        wait_until(lambda: prometheus.query(own), 90, "an own masterchain collation of node1 (the consensus view)")
        # node1's own collations on both workchains in the last minute: the node dashboard shows node1.
        both = 'count(rate(tonex_collation_total_seconds_count{node="node1"}[1m]) > 0) == 2'
        wait_until(lambda: prometheus.query(both), 90, "node1's collations on both workchains")
        wait_until(lambda: prometheus.query("rate(ton_received_total[1m]) > 0"), 60, "engine rates")
        yield prometheus
    finally:
        prometheus.stop()
        engine.stop()
        text_logs.stop()
        replayer.stop()
        demo.stop()


def substitute(expr: str, dashboard: Any, repeat: str = "") -> str:
    """The query as Grafana sends it by default: a multi-value variable at All, a single-value one at a value."""
    values = {"run": "demo", "node": "node1", "workchain": "-1", "baseline": "demo", "candidate": "demo", "shift": "1"}
    for variable in dashboard.to_json()["templating"]["list"][1:]:
        if variable.get("multi") and variable["name"] != repeat:
            values[variable["name"]] = ".*"  # a repeated panel's copy has one value of its variable
    for name, value in values.items():
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return expr.replace("$__rate_interval", "1m").replace("$__range", "10m").replace("$__interval", "1m")


# Series one panel may draw on the demo (two validators, two workchains): more are unreadable lines. A stack of the
# 21 validation stages is the largest readable one; a panel without a legend (the slot timeline's bars, one
# series per position, coloured by part) is exempt.
MAX_SERIES = 24
# Legend labels that name a value worth seeing even when it is the only one on the demo.
MAY_NOT_VARY = {"code": "an HTTP status: only 200 on the demo, an error code appears beside it"}


def legend_labels(target: dict[str, Any]) -> set[str]:
    return set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target["legendFormat"]))


def numbers(series: dict[str, Any]) -> list[float]:
    samples = series["values"] if "values" in series else [series["value"]]
    return [float(v) for _, v in samples]


def check_values(panel: dict[str, Any], results: list[tuple[dict[str, Any], list[Any]]]) -> None:
    """Data that is there is drawn: every series has finite values (not only NaN), and every query has a non-zero
    one, unless the panel or the query is expected to be zero on the demo (and the table says why)."""
    for target, result in results:
        values = [v for s in result for v in numbers(s)]
        if panel["title"] in EXPECTED_ZERO:
            assert not any(v for v in values if math.isfinite(v)), (
                f"{panel['title']} has data: drop it from EXPECTED_ZERO"
            )
        if not result or panel["title"] in EXPECTED_ZERO or any(m in target["expr"] for m in EXPECTED_ZERO_PARTS):
            continue
        for series in result:
            assert any(math.isfinite(v) for v in numbers(series)), f"{panel['title']}: only NaN in {series['metric']}"
        assert any(math.isfinite(v) and v != 0 for v in values), f"{panel['title']}: all zero: {target['expr']}"


def check_readable(dashboard: Any, panel: dict[str, Any], results: list[tuple[dict[str, Any], list[Any]]]) -> None:
    """A bound on the series of a panel, and legends that name only labels that tell its series apart: never a
    single-value variable's label, and any other label only if it varies on the demo (a multi-value variable's
    label may: the user can select several)."""
    series = [s for _, result in results for s in result]
    if panel["type"] != "table" and panel["options"].get("legend", {}).get("showLegend", True):
        assert len(series) <= MAX_SERIES, f"{panel['title']}: {len(series)} series"
    variables = {v["name"]: v.get("multi", False) for v in dashboard.to_json()["templating"]["list"][1:]}
    for target, _ in results:
        for label in legend_labels(target):
            assert variables.get(label, True), f"{panel['title']}: the legend names {label}, which has one value"
            if len(series) < 2 or label in variables or label in MAY_NOT_VARY:
                continue
            values = {s["metric"].get(label) for t, r in results if label in legend_labels(t) for s in r}
            assert len(values) > 1, f"{panel['title']}: every series says {label}={values}"


@pytest.mark.parametrize(("dashboard", "panel"), PANELS, ids=lambda x: getattr(x, "uid", None) or x["title"])
def test_every_query_returns_series(live_prometheus: PrometheusServer, dashboard: Any, panel: dict[str, Any]) -> None:
    results = []
    for target in panel["targets"]:
        expr = substitute(target["expr"], dashboard, panel.get("repeat", ""))
        if target.get("instant"):
            url = f"{live_prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        else:
            end = time.time()
            params = {"query": expr, "start": end - 300, "end": end, "step": 15}
            url = f"{live_prometheus.url}/api/v1/query_range?" + urllib.parse.urlencode(params)
        status, _, body = http_get(url)
        answer = json.loads(body)
        assert (status, answer["status"]) == (200, "success"), f"{expr}: {body[:300]!r}"
        results.append((target, answer["data"]["result"]))
        if panel["title"] in EXPECTED_EMPTY:
            assert not answer["data"]["result"], f"{panel['title']} has data now: drop it from EXPECTED_EMPTY"
        elif target["expr"] in EXPECTED_EMPTY_QUERIES:
            assert not answer["data"]["result"], f"{expr} has data now: drop it from EXPECTED_EMPTY_QUERIES"
        else:
            assert answer["data"]["result"], f"{panel['title']}: no series for {expr}"
    check_readable(dashboard, panel, results)
    check_values(panel, results)


ANNOTATED = [d for d in DASHBOARDS if d.annotations]


def test_the_performance_consensus_and_node_dashboards_carry_the_annotations() -> None:
    assert {d.uid for d in ANNOTATED} == {"ton-performance", "ton-consensus", "ton-node"}
    for dashboard in ANNOTATED:
        names = [a["name"] for a in dashboard.to_json()["annotations"]["list"][1:]]
        assert names == ["Run start", "Run end", "Consensus session"]


@pytest.mark.parametrize("dashboard", ANNOTATED, ids=lambda d: d.uid)
def test_annotation_queries_run_and_the_run_start_is_the_run_s_time(
    live_prometheus: PrometheusServer, dashboard: Any
) -> None:
    run_start = live_prometheus.values('tonex_run_start_timestamp_seconds{run="demo"}')[""]
    for annotation in dashboard.to_json()["annotations"]["list"][1:]:
        result = live_prometheus.query(substitute(annotation["expr"], dashboard))
        if annotation["name"] == "Run start":
            assert [float(r["value"][1]) for r in result] == [run_start * 1000]
            assert annotation["useValueForTime"] is True
        if annotation["name"] == "Run end":
            assert result == [], "the demo's run never ends"
