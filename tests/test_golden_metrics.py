"""An end-to-end golden /metrics of both real files and the SYNTHETIC text-log sample, in the node_exporter manner,
checked by promtool.

Regenerate after an intended change with `UPDATE_GOLDEN=1 ./dev test tests/test_golden_metrics.py` and review
the diff like code.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from tests.conftest import FakeWall, require_binary
from tests.metrics_text import parse
from ton_exporter import __version__
from ton_exporter.app import Exporter
from ton_exporter.exposition import reference
from ton_exporter.exposition.run_families import RunsCollector
from ton_exporter.runs.registry import RunRegistry, new_run
from ton_exporter.sources.discovery import SourcePattern

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

GOLDEN = Path(__file__).parent / "golden" / "metrics.prom"
TEXT_LOGS = Path(__file__).parent / "fixtures" / "text-logs"
VOLATILE = re.compile(r"^tonex_source_last_read_timestamp_seconds\{.*\n", re.MULTILINE)
DURATION = re.compile(r"^(tonex_scrape_collector_duration_seconds\{.*\}) .*$", re.MULTILINE)  # kept, as 0


def render(tontester_dir: Path) -> str:
    wall = FakeWall()
    logs = [SourcePattern(str(tontester_dir / f"node{n}" / "session-logs"), f"node{n}") for n in (1, 2)]
    text_logs = [SourcePattern(str(TEXT_LOGS / "node*" / "log*"), None, "text_log")]  # SYNTHETIC, 4 nodes
    exporter = Exporter(logs + text_logs, run="golden", from_start=True, wall=wall)
    exporter.add_collector("runs", RunsCollector(golden_run(), exporter.run_nodes))
    exporter.poll_once()
    wall.now += 100  # every slot retired; windows show [1781457660, 1781457720), the last window of the run
    text = generate_latest(exporter.registry).decode()
    text = (
        DURATION.sub(r"\1 0.0", VOLATILE.sub("", text))
        .replace(str(tontester_dir), "/net")
        .replace(str(TEXT_LOGS), "/text-logs")
    )
    return text.replace(f'version="{__version__}"', 'version="VERSION"')


def golden_run() -> RunRegistry:
    """The run as tontester would have registered it: from 17:20:54 to 17:21:07, the data's first and last second."""
    clock = FakeWall()
    clock.now = 1781457654.0
    runs = RunRegistry(None, clock=clock)
    metadata = {"description": "2 validators", "branch": "master", "commit": "09362158", "nodes": 2}
    runs.start(new_run({"run_id": "golden", "metadata": metadata | {"labels": {"user": "ci"}}}, clock.now))
    clock.now = 1781457667.0
    runs.end("golden")
    return runs


def metadata(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def test_metrics_match_the_golden_file(tontester_dir: Path) -> None:
    """Same families, help, types and series; same values up to float summation order (1e-9 relative)."""
    text = render(tontester_dir)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    golden = GOLDEN.read_text()
    hint = "metrics changed: review, then regenerate with UPDATE_GOLDEN=1"
    assert metadata(text) == metadata(golden), hint
    got, want = parse(text), parse(golden)
    assert set(got) == set(want), hint
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12), hint


def test_golden_file_passes_promtool_check_metrics() -> None:
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=GOLDEN.read_bytes(), capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout == b""
    assert result.stderr == b""


def test_metric_reference_is_generated_from_the_golden_file() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
    assert docs.read_text() == reference.render(GOLDEN.read_text()), (
        "regenerate with: python -m ton_exporter.exposition.reference"
    )
