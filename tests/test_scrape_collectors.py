"""One collector per concern, node_exporter's way: each is timed and reports success; one that raises is logged
once and left out, and the rest of the scrape is still served."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from tests.conftest import real_lines
from tests.metrics_text import Samples, parse
from ton_exporter.app import Exporter, parse_source

CONCERNS = {"blocks", "consensus", "text_logs", "bounds", "sources", "state", "build"}


class Broken(Collector):
    def collect(self) -> Iterator[Metric]:
        raise RuntimeError("a family that cannot be computed")


def exporter_of_node1(tmp_path: Path) -> Exporter:
    log = tmp_path / "session-logs"
    log.write_bytes(b"\n".join(real_lines(1)) + b"\n")
    exporter = Exporter([parse_source(f"node1={log}", None)], from_start=True, state_dir=tmp_path / "state")
    exporter.poll_once()
    return exporter


def test_every_concern_reports_its_success_and_duration(tmp_path: Path) -> None:
    samples = parse(generate_latest(exporter_of_node1(tmp_path).registry).decode())
    success = by_collector(samples, "tonex_scrape_collector_success")
    assert success == dict.fromkeys(CONCERNS, 1.0)
    assert set(by_collector(samples, "tonex_scrape_collector_duration_seconds")) == CONCERNS


def test_a_failing_concern_is_left_out_and_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    exporter = exporter_of_node1(tmp_path)
    exporter.add_collector("runs", Broken())
    with caplog.at_level(logging.ERROR, logger="ton_exporter.scrape"):
        texts = [generate_latest(exporter.registry).decode() for _ in range(3)]
    samples = parse(texts[-1])
    success = by_collector(samples, "tonex_scrape_collector_success")
    assert success == dict.fromkeys(CONCERNS, 1.0) | {"runs": 0.0}
    lines = len(real_lines(1))
    read = sum(v for (sample, _), v in samples.items() if sample == "tonex_source_lines_read_total")
    assert read == lines  # the rest of the scrape is whole
    failures = [r for r in caplog.records if "collector failed" in r.getMessage()]
    assert len(failures) == 1
    assert getattr(failures[0], "collector", None) == "runs"


def by_collector(samples: Samples, name: str) -> dict[str, float]:
    return {dict(labels)["collector"]: v for (sample, labels), v in samples.items() if sample == name}
