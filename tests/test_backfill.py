"""`ton-exporter backfill` on the real session stats of both nodes: OpenMetrics with a timestamp on every sample and
a final `# EOF`, counts equal to those of the raw files, blocks that a real Prometheus serves, plain and .gz alike,
bad lines counted and the good ones around them kept, bad input answered with exit status 2."""

import collections
import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import require_binary
from tests.servers import DaemonProcess, PrometheusServer, http_get
from ton_exporter.cli import cli

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

DATA = Path("/work/shared/data") if Path("/work/shared/data").is_dir() else Path(__file__).parent / "data"
NODES = ("node1", "node2")
SAMPLE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+ (\d+\.\d{3})$")


def _raw(node: str) -> Path:
    return DATA / f"session-logs-{node}.jsonl.gz"


def _records_by_type(path: Path) -> collections.Counter[str]:
    with gzip.open(path, "rt") as f:
        return collections.Counter(json.loads(line)["@type"] for line in f if line.strip())


def _backfill(tmp: Path, *extra: str, files: dict[str, Path] | None = None) -> tuple[int, str, Path]:
    out = tmp / "run.om"
    args = ["backfill", "--run", "r1", "--out", str(out), "--no-progress", *extra]
    for node, path in (files or {n: _raw(n) for n in NODES}).items():
        args += ["--session-logs", f"{node}={path}"]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output, out


def _last_values(text: str, family: str) -> dict[str, float]:
    """The newest value of every series of `family` (by its label text)."""
    newest: dict[str, tuple[float, float]] = {}
    for line in text.splitlines():
        if line.startswith(family + "{"):
            series, value, at = line.rsplit(" ", 2)
            if float(at) >= newest.get(series, (-1.0, 0.0))[0]:
                newest[series] = (float(at), float(value))
    return {s: v for s, (_, v) in newest.items()}


def test_every_sample_carries_a_timestamp_and_the_record_counts_are_those_of_the_raw_files(tmp_path: Path) -> None:
    code, output, out = _backfill(tmp_path)
    assert code == 0, output
    text = out.read_text()
    assert text.endswith("# EOF\n")
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples
    assert [line for line in samples if not SAMPLE.match(line)] == []
    counted = _last_values(text, "tonex_source_records_total")
    for node in NODES:
        expected = _records_by_type(_raw(node))
        got = {
            re.search(r'type="([^"]+)"', s).group(1): v  # type: ignore[union-attr]
            for s, v in counted.items()
            if f'node="{node}"' in s
        }
        assert got == {t: float(n) for t, n in expected.items()}
    assert "rejects by reason: none" in output


def test_plain_and_gzip_inputs_give_the_same_samples(tmp_path: Path) -> None:
    plain = {}
    for node in NODES:
        plain[node] = tmp_path / f"{node}.jsonl"
        with gzip.open(_raw(node), "rb") as f, open(plain[node], "wb") as g:
            shutil.copyfileobj(f, g)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    code_a, _, out_a = _backfill(tmp_path / "a")
    code_b, _, out_b = _backfill(tmp_path / "b", files=plain)
    assert code_a == code_b == 0

    def without_files(path: Path) -> list[str]:
        # the file label names the input; the size and read offsets of a .gz are those of its decompressed text
        return [
            re.sub(r'file="[^"]*"', "", line)
            for line in path.read_text().splitlines()
            if not line.startswith(("tonex_source_file_size_bytes", "tonex_source_read_bytes_total"))
        ]

    assert without_files(out_a) == without_files(out_b)


def test_a_bad_line_is_counted_with_its_reason_and_the_lines_around_it_are_kept(tmp_path: Path) -> None:
    with gzip.open(_raw("node1"), "rb") as f:
        lines = f.read().splitlines(keepends=True)
    broken = tmp_path / "node1.jsonl"
    broken.write_bytes(
        b"".join(lines[:10]) + b'{"@type": "validatorStats.collatedBlock", "trunc\n' + b"".join(lines[10:])
    )
    code, output, out = _backfill(tmp_path, files={"node1": broken})
    assert code == 0, output
    assert "invalid_json" in output
    text = out.read_text()
    rejected = _last_values(text, "tonex_source_lines_rejected_total")
    assert sum(v for s, v in rejected.items() if 'reason="invalid_json"' in s) == 1
    counted = _last_values(text, "tonex_source_records_total")
    assert sum(counted.values()) == sum(_records_by_type(_raw("node1")).values())


def test_a_missing_input_or_no_output_is_bad_input_with_exit_status_2(tmp_path: Path) -> None:
    code, output, _ = _backfill(tmp_path, files={"node1": tmp_path / "absent.jsonl"})
    assert code == 2, output
    result = CliRunner().invoke(cli, ["backfill", "--run", "r1", "--session-logs", str(_raw("node1"))])
    assert result.exit_code == 2, result.output


def test_blocks_written_by_promtool_are_served_by_a_real_prometheus(tmp_path: Path) -> None:
    require_binary("promtool")
    data = tmp_path / "data"
    command = [sys.executable, "-m", "ton_exporter", "backfill", "--run", "r1", "--prometheus-data", str(data)]
    for node in NODES:
        command += ["--session-logs", f"{node}={_raw(node)}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert list(data.glob("*/meta.json")), "no block written"
    prometheus = PrometheusServer(tmp_path, [], data_dir=data)
    try:
        expected = sum(sum(_records_by_type(_raw(n)).values()) for n in NODES)
        got = prometheus.values("sum(last_over_time(tonex_source_records_total[1y]))")
        assert got == {"": float(expected)}
    finally:
        prometheus.stop()


def _event_times(path: Path) -> list[float]:
    """Every event time of a file as the runs table would bound it: collated_at, validated_at, consensus events."""
    times = []
    with gzip.open(path, "rt") as f:
        for line in f:
            record = json.loads(line)
            for key in ("collated_at", "validated_at"):
                if key in record:
                    times.append(float(record[key]))
    return times


def test_a_registered_backfill_is_listed_by_the_runs_api_finished_with_its_range_and_metadata(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path / "daemon")
    try:
        extra = ("--register", str(daemon.directory), "--description", "archived devnet run")
        code, output, _ = _backfill(tmp_path, *extra, "--branch", "feature/x", "--commit", "0123abc")
        assert code == 0, output
        status, _, body = http_get(daemon.url + "/api/runs/r1")
        assert status == 200, body
        run = json.loads(body)
        _, _, metrics = http_get(daemon.url + "/metrics")
    finally:
        daemon.stop()
    assert (run["description"], run["branch"], run["commit"]) == ("archived devnet run", "feature/x", "0123abc")
    assert (run["status"], run["nodes"]) == ("completed", 2)
    times = [t for n in NODES for t in _event_times(_raw(n))]
    assert (run["start"], run["end"]) == (min(times), max(times))
    # the runs dashboard reads the daemon's tonex_run_* series: the run is among them like a live one
    assert re.search(rb'^tonex_run_info\{[^}]*run="r1"', metrics, re.M), metrics[:2000]


def test_text_logs_are_backfilled_too_every_line_of_every_node_read(tmp_path: Path) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "text-logs"
    out = tmp_path / "run.om"
    args = ["backfill", "--run", "t1", "--out", str(out), "--no-progress", "--text-log", f"{fixtures}/node*/log*"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    read = _last_values(out.read_text(), "tonex_source_lines_read_total")
    for node_dir in sorted(fixtures.glob("node*")):
        expected = sum(len(p.read_bytes().splitlines()) for p in node_dir.glob("log*"))
        assert sum(v for s, v in read.items() if f'node="{node_dir.name}"' in s) == expected, node_dir.name
