"""Quantiles are accurate: every p50/p95/p99 a dashboard panel draws, evaluated by a real Prometheus from the
panel's own query, is within 10% of the exact quantile of the raw values it summarizes.

The data are the real files of both nodes repeated as one continuing session (SYNTHETIC, tests/live_session.py).
Prometheus scrapes what an exporter shows after reading the first FIRST repetitions, then what it shows after
reading all of them (live equals batch: the same as one exporter reading on). A histogram panel's rate over both
samples covers exactly the repetitions in between: the exact quantile of those raw values is what it must draw
(within the width of a bucket, aggregation/buckets.py). A window-gauge panel shows each node's newest complete
window: it must draw the exact quantile of that window's raw values (to float precision), or where it spans
several series (`max by`), the largest of theirs. The text-log panels read the SYNTHETIC text-log sample, copied
on between the two expositions. Exact is the standard library's "inclusive" quantile (numpy's
default, R's type 7), which shares no code with aggregation/quantiles.py.
"""

import bisect
import itertools
import math
import re
import statistics
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from dashboards.catalogue import DASHBOARDS
from tests.conftest import FakeWall
from tests.live_session import PHASES, NodeCount, continuing_records, count_node, engine_writes, rows, write_files
from tests.replay import REPEAT_SECONDS, shifted
from tests.servers import MetricsStandIn, PrometheusServer, wait_until
from ton_exporter.aggregation.buckets import BROADCAST_BLOCK_BUCKETS, BROADCAST_SECONDS_BUCKETS, TIMING_BUCKETS
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

FIRST, ALL = 2, 8  # repetitions of the 13 s run: the histograms are judged on the 6 in between (78 s)
LATER_COPIES = 2  # of the text-log sample, read between the two expositions
TEXT_LOGS = Path(__file__).parent / "fixtures" / "text-logs"
SESSION_NODES = ("node1", "node2")
TOLERANCE = 0.10
RUN = "demo"
WORKCHAINS = {"masterchain": "-1", "basechain": "0", "-1": "-1", "0": "0"}
QUANTILE = re.compile(r'histogram_quantile\((0\.\d+)|agg="p(\d\d)"|:p(\d\d)_rate')


class SwitchedMetricsServer(MetricsStandIn):
    """Serves one exposition until `switch`, then another: an exporter that read on between two scrapes."""

    def __init__(self, first: bytes, then: bytes) -> None:
        self.switched = threading.Event()
        super().__init__(lambda: then if self.switched.is_set() else first)


def text_logs(directory: Path, copies: int) -> str:
    """The SYNTHETIC text-log sample, each file `copies` times over (a node that logged on); its glob."""
    for path in TEXT_LOGS.glob("node*/log*"):
        target = directory / path.relative_to(TEXT_LOGS)
        target.parent.mkdir(parents=True, exist_ok=True)
        # each copy REPEAT_SECONDS later in log time: a block broadcast again is another broadcast (LOG-05)
        target.write_bytes(b"".join(shifted(path.read_bytes(), k * REPEAT_SECONDS) for k in range(copies)))
    return str(directory / "node*" / "log*")


def exposition(tmp: Path, repetitions: int, copies: int) -> tuple[bytes, Exporter]:
    """What an exporter shows after `repetitions` of the session and `copies` of the text-log sample."""
    paths = write_files(tmp / f"after-{repetitions}", engine_writes(repetitions, every=None))
    patterns = [SourcePattern(str(p), node) for node, p in paths.items()]
    patterns.append(SourcePattern(text_logs(tmp / f"text-logs-{copies}", copies), None, "text_log"))
    wall = FakeWall()
    exporter = Exporter(patterns, run=RUN, from_start=True, wall=wall)
    exporter.poll_once()
    wall.now += 30  # every slot retired (15 s after its last event), the last window with events complete
    return generate_latest(exporter.registry), exporter


@dataclass
class Served:
    prometheus: PrometheusServer
    windows: dict[str, int]  # node -> start of the window its gauges show after all repetitions


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("quantiles")
    first, _ = exposition(tmp, FIRST, 1)
    then, exporter = exposition(tmp, ALL, 1 + LATER_COPIES)
    windows = {node.name: node.complete_window() for node in exporter.all_nodes() if node.name in SESSION_NODES}
    assert all(w is not None for w in windows.values())
    server = SwitchedMetricsServer(first, then)
    rules = [Path("prometheus/rules/recording.yml").resolve()]
    prometheus = PrometheusServer(tmp, [server.address], rules)
    try:
        samples = 'count_over_time(tonex_collated_blocks_total{node="node1", workchain="0"}[5m])'
        wait_until(lambda: prometheus.values(samples).get("", 0) >= 3, 60, "three scrapes of the first exposition")
        server.switched.set()
        # Rules evaluate every second: a few scrapes of the second exposition later, the recorded rates hold both.
        changed = 'changes(tonex_collated_blocks_total{node="node1", workchain="0"}[5m]) == 1'
        wait_until(lambda: prometheus.query(changed), 60, "the second exposition scraped")
        wait_until(lambda: prometheus.values(samples).get("", 0) >= 9, 60, "six scrapes of the second")
        yield Served(prometheus, {k: int(v) for k, v in windows.items() if v is not None})
    finally:
        prometheus.stop()
        server.stop()


# --- the raw values, counted from the records alone


def block_values(records: list[dict[str, Any]], side: str, workchain: str) -> list[tuple[float, float]]:
    """(event time, total_time) of the node's collated or validated blocks of `workchain`."""
    kind, at = {"collation": ("collatedBlock", "collated_at"), "validation": ("validatedBlock", "validated_at")}[side]
    blocks = [r for r in rows(records, f"validatorStats.{kind}") if str(r["block_id"]["workchain"]) == workchain]
    return [(r[at], r["total_time"]) for r in blocks]


def phase_values(count: NodeCount, workchain: str, phase: str) -> list[tuple[float, float]]:
    """(time of the event that ends it, duration) of a node's consensus phase."""
    slots = [e for _, e in count.per_workchain(workchain)]
    finals = [e["certObserved:finalize"] for e in slots if "certObserved:finalize" in e]
    if phase == "slot":
        starts = [min(v for k, v in e.items() if not k.startswith("certObserved")) for e in slots]
        ends = [(e.get("certObserved:finalize"), s) for e, s in zip(slots, starts, strict=True)]
        return [(end, end - start) for end, start in ends if end is not None]
    if phase == "finalization_interval":
        return [(b, b - a) for a, b in itertools.pairwise(finals) if b > a]
    first, second = PHASES[phase]
    return [(e[second], e[second] - e[first]) for e in slots if first in e and second in e and e[second] >= e[first]]


def network_values(counts: list[NodeCount], workchain: str, phase: str) -> list[tuple[float, float]]:
    """The weighted 2/3 of two validators of equal weight: both votes (or a certificate observed earlier)."""
    out = []
    slots = [dict(c.per_workchain(workchain)) for c in counts]
    for number in sorted(set(slots[0]) | set(slots[1])):
        events = [s.get(number, {}) for s in slots]
        if not all("certObserved:notarize" in e for e in events):
            continue
        reached = {}
        for vote in ("notarize", "finalize"):
            votes = [e[f"voted:{vote}"] for e in events if f"voted:{vote}" in e]
            certs = [e[f"certObserved:{vote}"] for e in events if f"certObserved:{vote}" in e]
            reached[vote] = min(max(votes), *certs) if len(votes) == 2 else min(certs)
        leader = next((e for e in events if "collateFinished" in e), None)
        if leader is None:
            continue
        if phase == "notarize":
            out.append((reached["notarize"], reached["notarize"] - leader["collateFinished"]))
        else:
            out.append((reached["finalize"], reached["finalize"] - reached["notarize"]))
    return out


class Oracle:
    """Raw values per (measure, node, workchain) for the repetitions read after the first FIRST, and per window."""

    def __init__(self) -> None:
        every = continuing_records(ALL)
        per_run = {node: len(lines) // ALL for node, lines in every.items()}
        self.all = {node: [r for _, r in lines] for node, lines in every.items()}
        self.first = {node: records[: per_run[node] * FIRST] for node, records in self.all.items()}
        self._counts: dict[tuple[str, bool], NodeCount] = {}

    def count(self, node: str, first: bool) -> NodeCount:
        key = (node, first)
        if key not in self._counts:
            self._counts[key] = count_node((self.first if first else self.all)[node])
        return self._counts[key]

    def values(self, measure: str, node: str, workchain: str, first: bool) -> list[tuple[float, float]]:
        records = (self.first if first else self.all)[node]
        if measure in ("collation_total", "validation_total"):
            return block_values(records, measure.removesuffix("_total"), workchain)
        return phase_values(self.count(node, first), workchain, measure.removeprefix("consensus_"))

    def between(self, measure: str, node: str, workchain: str) -> list[float]:
        """The values of the repetitions after the first FIRST: all of them less those of the first."""
        later = [v for _, v in self.values(measure, node, workchain, first=False)]
        earlier = [v for _, v in self.values(measure, node, workchain, first=True)]
        for v in earlier:
            later.remove(v)
        return later

    def network_between(self, workchain: str, phase: str) -> list[float]:
        later = [v for _, v in network_values([self.count(n, False) for n in self.all], workchain, phase)]
        for _, v in network_values([self.count(n, True) for n in self.all], workchain, phase):
            later.remove(v)
        return later

    def in_window(self, measure: str, node: str, workchain: str, window: int) -> list[float]:
        return [v for t, v in self.values(measure, node, workchain, first=False) if window <= t < window + 60]


ANSI = re.compile(rb"\x1b\[[0-9;]*m")
TIMING = re.compile(
    rb"\[!(collate|validateblock)\((-?\d+),[0-9a-f]+\)[^\]]*\]\t(collation took|validation took|collation failed in) "
    rb"([0-9.]+) ?s"
)
BENCHMARK = re.compile(rb"\tBroadcast_benchmark (\w+) .*?time_sec=([0-9.]+)[ \x1b]")
SPAN_LINE = re.compile(
    rb"^\[ *\d+\]\[t *\d+\]\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\]\[[^\t]*\tBroadcast_benchmark "
    rb"(\w+) block_id=(\S+) .*?time_sec=([0-9.]+)[ \x1b]"
)


def broadcast_spans() -> list[float]:
    """Per block (root hash) of the sample: first compression start to last decompression end over all nodes."""
    starts: dict[bytes, float] = {}
    ends: dict[bytes, float] = {}
    for path in TEXT_LOGS.glob("node*/log*"):
        for line in ANSI.sub(b"", path.read_bytes()).split(b"\n"):
            if (found := SPAN_LINE.match(line)) is None:
                continue
            stamp, op, block_id, seconds = found.groups()
            day, fraction = stamp.decode().split(".")
            at = datetime.strptime(day, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp() + float("0." + fraction)
            root = (block_id.split(b":")[1] if block_id.startswith(b"(") else block_id).lower()
            if op.startswith((b"serialize_", b"compress_")):
                starts[root] = min(starts.get(root, at), at - float(seconds))
            elif op.startswith((b"deserialize_", b"decompress_")):
                ends[root] = max(ends.get(root, at), at)
    return [ends[root] - start for root, start in starts.items() if root in ends]


def text_log_values(measure: str, labels: dict[str, str]) -> list[float]:
    """The text-log lines' seconds read between the two expositions (LATER_COPIES of the sample), by a regex of
    this test's own over the raw files."""
    if measure == "broadcast_block":
        return broadcast_spans() * LATER_COPIES
    out = []
    for path in TEXT_LOGS.glob("node*/log*"):
        for line in ANSI.sub(b"", path.read_bytes()).split(b"\n"):
            if measure == "broadcast_benchmark" and (found := BENCHMARK.search(line)):
                if labels["op"] == found.group(1).decode():
                    out.append(float(found.group(2)))
            elif measure.startswith("text_log_") and (timing := TIMING.search(line)):
                _, wc, kind, seconds = timing.groups()
                side = "validation" if kind == b"validation took" else "collation"
                outcome = "failed" if kind == b"collation failed in" else "ok"
                same_series = (
                    WORKCHAINS[labels["workchain"]] == wc.decode() and labels.get("outcome", outcome) == outcome
                )
                if measure == f"text_log_{side}" and same_series:
                    out.append(float(seconds))
    return out * LATER_COPIES


def exact(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


# --- the panels


@dataclass(frozen=True)
class Target:
    dashboard: str
    panel: str
    expr: str
    variables: dict[str, bool]  # name -> multi-value

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel}: {self.expr[:80]}"


def quantile_targets() -> list[Target]:
    out = []
    for dashboard in DASHBOARDS:
        spec = dashboard.to_json()
        variables = {v["name"]: v.get("multi", False) for v in spec["templating"]["list"][1:]}
        for panel in spec["panels"]:
            for target in panel.get("targets", []):
                if QUANTILE.search(target["expr"]):
                    out.append(Target(dashboard.uid, panel["title"], target["expr"], variables))
    return out


TARGETS = quantile_targets()


def substitute(target: Target) -> str:
    """As Grafana sends it: multi-value variables at All, single-value ones at node1 and the masterchain. The rate
    interval spans both expositions; a window gauge is read at its newest sample only."""
    values = {"run": RUN, "node": "node1", "workchain": "-1"}
    # The compare dashboard draws a baseline run on a candidate's time axis: here both are the one run, 1 ms apart.
    expr = target.expr.replace("${shift}", "1").replace("$shift", "1")
    for name in ("baseline", "candidate"):
        expr = expr.replace(f"${{{name}}}", RUN).replace(f"${name}", RUN)
    for name, value in values.items():
        expr = expr.replace(f"${name}", ".*" if target.variables.get(name) else value)
    return expr.replace("$__rate_interval", "5m").replace("$__interval", "2s")


def selected(expr: str, label: str, value: str) -> bool:
    """Whether the query's matcher for `label` (if any) selects `value`."""
    found = re.search(rf'\b{label}(=~|=)"([^"]*)"', expr)
    if found is None:
        return True
    op, pattern = found.groups()
    return re.fullmatch(pattern, value) is not None if op == "=~" else pattern == value


def measure_of(expr: str) -> str:
    found = re.search(r"tonex_(?:window_)?(\w+?)_seconds", expr)
    assert found is not None, expr
    return found.group(1)


def expected_value(oracle: Oracle, served: Served, expr: str, labels: dict[str, str]) -> float:
    q = next(float(a) if a else int(b or c) / 100 for a, b, c in QUANTILE.findall(expr))
    measure = measure_of(expr)
    workchains = [wc for wc in ("-1", "0") if selected(expr, "workchain", wc)]
    if "workchain" in labels:
        workchains = [WORKCHAINS[labels["workchain"]]]
    nodes = [n for n in oracle.all if selected(expr, "node", n) and labels.get("node", n) == n]
    if "tonex_window_" in expr:  # `max by`: the largest of the selected series' exact quantiles
        figures = [
            exact(values, q)
            for node in nodes
            for wc in workchains
            if (values := oracle.in_window(measure, node, wc, served.windows[node]))
        ]
        return max(figures)
    if measure == "consensus_network_phase":
        return exact([v for wc in workchains for v in oracle.network_between(wc, labels["phase"])], q)
    if expr.lstrip().startswith("label_replace") or "histogram_quantile" in expr or ":p" in expr:
        pooled = [v for node in nodes for wc in workchains for v in oracle.between(measure, node, wc)]
        return exact(pooled, q)
    raise AssertionError(f"no oracle for {expr}")


def check_text_log(expr: str, labels: dict[str, str], shown: float, target: Target) -> None:
    """The text-log panels read the SYNTHETIC sample (there are no real text logs): 1-34 lines a series, with
    outliers far from the rest, where quantile definitions part by more than 10%. What holds whatever the data: the
    value drawn lies in the bucket of the exact quantile by rank (the ceil(q * n)-th smallest value, the rank
    histogram_quantile looks for)."""
    q = next(float(a) for a, _, _ in QUANTILE.findall(expr))
    values = sorted(text_log_values(measure_of(expr), labels))
    by_rank = values[math.ceil(q * len(values)) - 1]
    bounds = TIMING_BUCKETS
    if "broadcast" in expr:
        bounds = BROADCAST_BLOCK_BUCKETS if "broadcast_block" in expr else BROADCAST_SECONDS_BUCKETS
    upper = bisect.bisect_left(bounds, by_rank)
    lower = bounds[upper - 1] if upper else 0.0
    assert lower < shown <= bounds[upper], f"{target} {labels}: {shown} outside ({lower}, {bounds[upper]}]"


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    return Oracle()


def test_the_dashboards_have_quantile_panels_of_every_kind() -> None:
    """The precision test below covers window-gauge quantiles, histogram quantiles and recorded ones."""
    exprs = " ".join(t.expr for t in TARGETS)
    for kind in ("histogram_quantile", 'agg="p95"', "p95_rate5m"):
        assert kind in exprs
    assert len(TARGETS) >= 15


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_every_quantile_a_panel_draws_is_within_ten_percent_of_the_exact_one(
    served: Served, oracle: Oracle, target: Target
) -> None:
    expr = substitute(target)
    result = served.prometheus.query(expr)
    assert result, f"{target}: no series"
    for series in result:
        labels, shown = series["metric"], float(series["value"][1])
        if measure_of(expr).startswith(("text_log_", "broadcast_")):
            check_text_log(expr, labels, shown, target)
            continue
        tolerance = 1e-9 if "tonex_window_" in expr else TOLERANCE
        expected = expected_value(oracle, served, expr, labels)
        assert shown == pytest.approx(expected, rel=tolerance), f"{target} {labels}: {shown} vs exact {expected}"
