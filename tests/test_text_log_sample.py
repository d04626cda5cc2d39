"""The SYNTHETIC sample is the generator's output, and the benchmark's mtail program counts what the exporter counts
(so that `python -m bench textlog` compares equal work)."""

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from synthetic.text_logs import generate
from tests.conftest import require_binary
from tests.metrics_text import scrape
from ton_exporter.app import Exporter
from ton_exporter.parsers.td_prefix import level_name
from ton_exporter.sources.discovery import SourcePattern

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

SAMPLE = Path(__file__).parent / "fixtures" / "text-logs"
MTAIL_PROGRAM = Path(__file__).resolve().parents[1] / "bench" / "textlog.mtail"


def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    written = generate(tmp_path)
    committed = sorted(SAMPLE.glob("node*/log*"))
    assert [p.relative_to(tmp_path) for p in written] == [p.relative_to(SAMPLE) for p in committed]
    for new, old in zip(written, committed, strict=True):
        assert new.read_bytes() == old.read_bytes(), f"{old}: regenerate with python -m synthetic.text_logs"


def count(into: defaultdict[tuple[str, ...], float], name: str, labels: dict[str, str], value: float) -> None:
    """Add one sample of mtail's or the exporter's exposition (name without _total) to what both must agree on."""
    if name == "tonex_text_log_lines":
        into[("line", labels["level"], labels["component"])] += value
    elif name == "tonex_text_log_continuation_lines":
        into[("continuation",)] += value
    elif name == "tonex_broadcast_benchmark_seconds_count":
        into[("benchmark", labels["op"])] += value
    elif name == "tonex_broadcast_benchmark_compressed_bytes_sum":
        into[("compressed_bytes",)] += value


def test_mtail_program_counts_what_the_exporter_counts() -> None:
    mtail = require_binary("mtail")
    result = subprocess.run(
        [
            mtail,
            "--one_shot",
            "--one_shot_format=prometheus",
            f"--progs={MTAIL_PROGRAM}",
            f"--logs={SAMPLE}/node*/log*",
            "--logtostderr",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    theirs: defaultdict[tuple[str, ...], float] = defaultdict(float)
    for line in result.stdout.splitlines():
        if line.startswith("#") or not line:
            continue
        name, value = line.split("{")[0], float(line.rsplit(" ", 1)[1])
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if name == "tonex_text_log_lines":  # mtail writes the level as a number, the exporter as a name
            labels["level"] = level_name(int(labels["level"]))
        count(theirs, name.removesuffix("_total"), labels, value)

    exporter = Exporter([SourcePattern(f"{SAMPLE}/node*/log*", None, "text_log")], from_start=True)
    exporter.poll_once()
    ours: defaultdict[tuple[str, ...], float] = defaultdict(float)
    for (name, label_set), v in scrape(exporter.registry).items():
        count(ours, name.removesuffix("_total"), dict(label_set), v)
    assert theirs == ours
