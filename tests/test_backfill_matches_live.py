"""Live and backfilled agree: the real files of both nodes, written line by line at their (shifted) times, are read
live by the monitoring daemon under a registered run and scraped by a real Prometheus; the same files are then
backfilled (`ton-exporter backfill --prometheus-data`) into a second real Prometheus. Every query of the
performance, consensus and runs dashboards runs on both over the run's range, and the answers agree within the
tolerances below, each of which says why it is not zero.

Both sides sample once a second (scrape_interval 1s, --step 1). Queries are evaluated half-way between two
backfill samples, so that each side answers from the newest sample before the evaluation time.
"""

import asyncio
import json
import math
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dashboards import consensus, performance
from dashboards.catalogue import DASHBOARDS
from tests.servers import DaemonProcess, PrometheusServer, http_get, wait_until
from tests.test_runs_daemon import say
from ton_exporter.aggregation.event_clock import window_start
from ton_exporter.backfill.inputs import DueTimes
from ton_exporter.sources.replay import Replay, load_bundled

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

RUN = "cmp-1"
LOOPS = 8  # 8 x 13 s of the real network, written at the pace it ran
STEP = 5.0  # query_range step
RATE_WINDOW = "1m"
SCRAPE_LABELS = ("job", "instance")

# --- the tolerances, and why each is not zero ----------------------------------------------------------------
# Counters and anything computed from them (rate, increase, histogram_quantile of rates): the live exporter reads a
# line some milliseconds after the replay writes it, and Prometheus scrapes at its own phase within each second,
# so a sample of either side may or may not include a line due within about a second of it. Consensus batches come
# every ~5 s and carry ~25 blocks each, so one batch on one side of a sample boundary moves a 1 m rate by up to
# ~25/60 per second, a few percent of the rate and once per boundary. RELATIVE_RATE bounds every point; the median
# point must agree much closer (MEDIAN_RATE).
RELATIVE_RATE = 0.25  # 90 % of the points of a query within this
WORST_RATE = 0.5  # and every point within this (a loaded machine delays the live reads by more than a second)
MEDIAN_RATE = 0.02
# Window gauges (the newest complete 60 s window): computed from the same complete window on both sides, so equal
# to float precision (RELATIVE_WINDOW) wherever both sides show the same window. A window switches at the same event
# time on both sides, give or take the live side's read lag and scrape phase: at a switch one or two points (STEP
# 5 s) may show the previous window on one side, so at most WINDOW_SWITCH_SHARE of the points may differ.
RELATIVE_WINDOW = 1e-9
WINDOW_SWITCH_SHARE = 1 / 6
# Slot timelines: samples carry their slot's start time on both sides: the same samples, exactly.
# Instant queries (the runs table) are not compared: a live run's start and end are its registration and stop, a
# backfilled run's its first and last event (tests/test_backfill.py checks those).


@dataclass
class Side:
    prometheus: PrometheusServer

    def range(self, expr: str, start: float, end: float) -> dict[tuple[tuple[str, str], ...], dict[float, float]]:
        params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": STEP})
        status, _, body = http_get(f"{self.prometheus.url}/api/v1/query_range?{params}", timeout=30)
        answer = json.loads(body)
        assert status == 200, f"{expr}: {body[:300]!r}"
        return {_key(r["metric"]): {float(t): float(v) for t, v in r["values"]} for r in answer["data"]["result"]}

    def instant(self, expr: str, at: float) -> dict[tuple[tuple[str, str], ...], Any]:
        params = urllib.parse.urlencode({"query": expr, "time": at})
        status, _, body = http_get(f"{self.prometheus.url}/api/v1/query?{params}", timeout=30)
        answer = json.loads(body)
        assert status == 200, f"{expr}: {body[:300]!r}"
        data = answer["data"]
        if data["resultType"] == "matrix":
            return {_key(r["metric"]): sorted((float(t), float(v)) for t, v in r["values"]) for r in data["result"]}
        return {_key(r["metric"]): float(r["value"][1]) for r in data["result"]}


def _key(metric: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in metric.items() if k not in SCRAPE_LABELS))


def _expr(raw: str, range_seconds: float) -> str:
    return (
        raw.replace("$__rate_interval", RATE_WINDOW)
        .replace("$__interval", "5s")
        .replace("$__range", f"{int(range_seconds)}s")
        .replace("$run", RUN)
        .replace("$node", ".*")
        .replace("$workchain", ".*")
        .replace("${datasource}", "")
    )


def dashboard_queries() -> Iterator[tuple[str, str, bool]]:
    """(panel title, expr, instant) of every query of the three dashboards."""
    chosen = {performance.DASHBOARD.uid, consensus.DASHBOARD.uid, "ton-runs"}
    for d in DASHBOARDS:
        if d.uid not in chosen:
            continue
        for panel in d.to_json()["panels"]:
            for target in panel.get("targets", []):
                yield f"{d.uid}: {panel['title']}", target["expr"], bool(target.get("instant"))


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Side, Side, dict[str, float]]]:
    tmp = tmp_path_factory.mktemp("live-vs-backfill")
    net = tmp / "net"
    daemon = DaemonProcess(tmp / ".dashboard", f"sources: ['{net}/node*/session-logs']\n")
    live = PrometheusServer(tmp, [f"127.0.0.1:{daemon.port}"])
    backfilled: PrometheusServer | None = None
    try:
        wait_until(lambda: live.values("up") == {"": 1.0}, 60, "first scrape of the daemon")
        metadata = {"description": "live vs backfill", "branch": "main", "commit": "0123abc", "nodes": 2}
        assert say(daemon.socket, json.dumps({"command": "start", "run_id": RUN, "metadata": metadata}).encode())
        replay = Replay(net, load_bundled(), rotate_bytes=1 << 40)
        asyncio.run(replay.run(loops=LOOPS))
        assert say(daemon.socket, json.dumps({"command": "stop", "run_id": RUN}).encode())
        last = {n: _last_due(net / n / "session-logs") for n in ("node1", "node2")}

        # the last window is complete 60 s + lateness after it starts, and once its slots retire (15 s after their
        # last event); a few scrapes later every side has sampled it
        shown_by = window_start(max(last.values())) + 60 + 10 + 15 + 5
        wait_until(lambda: time.time() > shown_by, 150, "the live daemon to show the last windows", interval=1)

        data = tmp / "backfilled-data"
        command = [sys.executable, "-m", "ton_exporter", "backfill", "--run", RUN, "--step", "1"]
        command += ["--session-logs", str(net / "node1" / "session-logs"), "--session-logs"]
        command += [str(net / "node2" / "session-logs"), "--prometheus-data", str(data), "--out", str(tmp / "bf.om")]
        command += ["--description", "live vs backfill", "--branch", "main", "--commit", "0123abc"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stderr
        backfilled = PrometheusServer(tmp, [], data_dir=data)
        first = min(_first_due(net / n / "session-logs") for n in ("node1", "node2"))
        yield Side(live), Side(backfilled), {"first": first, "last": max(last.values())}
    finally:
        if backfilled is not None:
            backfilled.stop()
        live.stop()
        daemon.stop()


def _first_due(path: Path) -> float:
    with open(path, "rb") as f:
        t = DueTimes("session_stats").of(f.readline())
    assert t is not None
    return t


def _last_due(path: Path) -> float:
    due = DueTimes("session_stats")
    for line in path.read_bytes().splitlines():
        due.of(line)
    assert due.last is not None
    return due.last


def test_every_dashboard_query_answers_the_same_live_and_backfilled(
    sides: tuple[Side, Side, dict[str, float]],
) -> None:
    live, backfilled, span = sides
    start = math.floor(span["first"]) + 65.5  # rate windows full on both sides
    end = math.floor(span["last"]) + 60.5  # the last windows are shown by then on both sides
    report = []
    compared = 0
    for title, raw, instant in dashboard_queries():
        expr = _expr(raw, end - span["first"])
        if instant:
            continue
        a, b = live.range(expr, start, end), backfilled.range(expr, start, end)
        compared += 1
        report.append((title, expr, _compare_series(a, b, "tonex_window_" in expr)))
    for title, expr, problems in report:
        print(title, "|", expr[:100], "|", problems[:3])
    assert compared > 100
    assert not [r for r in report if r[2]], "\n".join(f"{t}: {e}\n  {p[:5]}" for t, e, p in report if p)


def _compare_series(
    a: dict[tuple[tuple[str, str], ...], dict[float, float]],
    b: dict[tuple[tuple[str, str], ...], dict[float, float]],
    window: bool,
) -> list[str]:
    problems = []
    if set(a) != set(b):
        problems.append(
            f"series differ: live only {sorted(set(a) - set(b))[:3]}, backfill only {sorted(set(b) - set(a))[:3]}"
        )
    errors = []
    for key in set(a) & set(b):
        for t in set(a[key]) & set(b[key]):
            x, y = a[key][t], b[key][t]
            if x == y or (math.isnan(x) and math.isnan(y)):
                errors.append(0.0)
                continue
            errors.append(abs(x - y) / max(abs(x), abs(y)))
    if errors:
        errors.sort()
        median, p90, worst = errors[len(errors) // 2], errors[int(len(errors) * 0.9)], errors[-1]
        if window:
            differing = sum(e > RELATIVE_WINDOW for e in errors) / len(errors)
            if median > RELATIVE_WINDOW or differing > WINDOW_SWITCH_SHARE:
                problems.append(f"{differing:.0%} of {len(errors)} points differ, median {median:.4f}")
        elif median > MEDIAN_RATE or p90 > RELATIVE_RATE or worst > WORST_RATE:
            problems.append(f"median {median:.4f}, p90 {p90:.4f}, worst {worst:.4f} over {len(errors)} points")
    return problems
