"""The fast text renderer writes exactly the bytes prometheus_client's `generate_latest()` writes for the same
families: on the golden exporter's whole /metrics, and on values and labels chosen to hit every formatting case."""

from collections.abc import Iterable
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.samples import Exemplar

from tests.conftest import FakeWall
from tests.test_golden_metrics import TEXT_LOGS
from ton_exporter.app import Exporter
from ton_exporter.exposition.histogram import Histogram
from ton_exporter.exposition.text_render import TextRenderer
from ton_exporter.sources.discovery import SourcePattern


class Fixed:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def test_the_renderer_writes_the_bytes_generate_latest_writes_for_the_golden_exporter(tontester_dir: Path) -> None:
    wall = FakeWall()
    logs = [SourcePattern(str(tontester_dir / f"node{n}" / "session-logs"), f"node{n}") for n in (1, 2)]
    text_logs = SourcePattern(str(TEXT_LOGS / "node*" / "log*"), None, "text_log")
    exporter = Exporter([*logs, text_logs], run="golden", from_start=True, wall=wall)
    exporter.poll_once()
    wall.now += 100
    renderer = TextRenderer()
    for _ in range(2):  # the second scrape reads the kept prefixes
        families = list(exporter.registry.collect())
        want = generate_latest(Fixed(families))
        assert renderer.render(families) == want
    assert len(want) > 100_000


def test_odd_values_labels_and_types_are_written_as_generate_latest_writes_them() -> None:
    gauge = GaugeMetricFamily("odd", 'help with \\ and\nnewline "quoted"', labels=["b", "a"])
    values = [0.0, -0.0, 1.0, 1e-05, 1.5e16, 1e22, 1234567.5, -1234567.5, float("inf"), float("-inf"), float("nan"), 3]
    for i, value in enumerate(values):
        gauge.add_metric([f'v"{i}\\\n', "x"], value)
    counter = CounterMetricFamily("things", "Things.", labels=["k"], created=1.0)
    counter.add_metric(["a"], 5, timestamp=1781457654.123)
    hist = HistogramMetricFamily("lat", "Latency.", buckets=[("0.1", 1), ("+Inf", 2)], sum_value=0.3)
    unlabelled = GaugeMetricFamily("plain", "Plain.", value=2.5)
    families: list[Metric] = [gauge, counter, hist, unlabelled]
    want = generate_latest(Fixed(families))
    assert TextRenderer().render(families) == want


def test_the_histogram_family_makes_the_samples_prometheus_client_makes() -> None:
    exemplar = Exemplar({"block": "0:8000000000000000:5"}, 0.07, 1781457654.0)
    with_exemplar: list[tuple[str, float] | tuple[str, float, Exemplar]] = [("0.1", 1.0), ("0.5", 3.0, exemplar)]
    negative: list[tuple[str, float] | tuple[str, float, Exemplar]] = [("-1.0", 1.0), ("+Inf", 2.0)]
    for bounds in ([*with_exemplar, ("+Inf", 4.0)], negative):
        ours, theirs = Histogram("h", "H.", labels=["node"]), HistogramMetricFamily("h", "H.", labels=["node"])
        for family in (ours, theirs):
            family.add_metric(["n1"], bounds, 0.9, timestamp=5.0)
            family.add_metric(["n2"], bounds, None)
        assert ours.samples == theirs.samples
