"""`ton-exporter compare` on the real session stats of both nodes, against itself and against a SYNTHETIC candidate
made three times slower (tests/slower_run.py), from the files and from a real Prometheus holding both runs."""

import gzip
import json
import math
import re
import statistics
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dashboards.compare import SHIFT
from tests.servers import PrometheusServer, http_get
from tests.slower_run import first_event, write_slower
from ton_exporter.cli import cli

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

DATA = Path("/work/shared/data") if Path("/work/shared/data").is_dir() else Path(__file__).parent / "data"
NODES = ("node1", "node2")
FACTOR = 3.0
BUCKET_STEP = 1.15  # ten buckets per decade: a quantile interpolated within its bucket is within this factor


def _raw(node: str) -> Path:
    return DATA / f"session-logs-{node}.jsonl.gz"


def _logs(option: str, paths: dict[str, Path]) -> list[str]:
    return [a for node, p in paths.items() for a in (option, f"{node}={p}")]


@pytest.fixture(scope="module")
def slower(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("slower")
    t0 = first_event([_raw(n) for n in NODES])
    return {n: write_slower(_raw(n), tmp / f"{n}.jsonl", FACTOR, t0) for n in NODES}


def _compare(candidate: dict[str, Path], *extra: str) -> tuple[int, str]:
    args = ["compare", "--baseline", "base", "--candidate", "cand", *extra]
    args += _logs("--baseline-logs", {n: _raw(n) for n in NODES}) + _logs("--candidate-logs", candidate)
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def _figures(output: str) -> dict[str, dict[str, Any]]:
    return {f["figure"]: f for f in json.loads(output)["figures"]}


def test_a_run_against_itself_has_every_figure_unchanged_and_exits_0() -> None:
    code, output = _compare({n: _raw(n) for n in NODES}, "--format", "json")
    assert code == 0, output
    figures = _figures(output)
    for wc in ("-1", "0"):
        for name in ("blocks_per_second", "transactions_per_second", "skipped_slots_percent", "invalid_blocks"):
            assert f"{name}{{workchain={wc}}}" in figures
        for latency in ("collation", "validation", "notarization", "finalization"):
            for q in (50, 95):
                assert f"{latency}_p{q}_seconds{{workchain={wc}}}" in figures
    assert all(f["delta"] == 0 and not f["regression"] for f in figures.values())


def _collations(paths: list[Path], workchain: int) -> list[float]:
    times = []
    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as f:
            for line in f:
                r = json.loads(line)
                if r["@type"] == "validatorStats.collatedBlock" and r["block_id"]["workchain"] == workchain:
                    times.append(r["total_time"])
    return times


def _bucket(v: float, family: str = "tonex_collation_total_seconds") -> tuple[float, float]:
    """The bucket of the exporter's histogram `family` (bounds as in the golden exposition) that holds `v`."""
    golden = (Path(__file__).parent / "golden" / "metrics.prom").read_text()
    bounds = sorted({float(b) for b in re.findall(family + r'_bucket\{le="([^"]+)"', golden)})
    upper = next(b for b in bounds if v <= b)
    return max((b for b in bounds if b < upper), default=0.0), upper


def test_a_three_times_slower_candidate_is_a_regression_with_its_deltas_and_exits_1(slower: dict[str, Path]) -> None:
    code, output = _compare(slower, "--format", "json")
    assert code == 1, output
    figures = _figures(output)
    for wc in ("-1", "0"):
        blocks = figures[f"blocks_per_second{{workchain={wc}}}"]
        assert blocks["relative"] == pytest.approx(1 / FACTOR - 1, rel=1e-9)
        assert blocks["regression"]
        assert not figures[f"invalid_blocks{{workchain={wc}}}"]["regression"]
    # transactions: the masterchain's 15/s fell by two thirds; the basechain's 0.09/s is below
    # min_baseline_per_second (1/s), too few to judge
    assert figures["transactions_per_second{workchain=-1}"]["regression"]
    assert figures["transactions_per_second{workchain=0}"]["relative"] == pytest.approx(1 / FACTOR - 1, rel=1e-9)
    assert not figures["transactions_per_second{workchain=0}"]["regression"]
    # collation p50 of the basechain: the raw median, and three times it, within the bucket resolution
    collation = figures["collation_p50_seconds{workchain=0}"]
    exact = statistics.median(_collations([_raw(n) for n in NODES], 0))
    assert exact / BUCKET_STEP <= collation["baseline"] <= exact * BUCKET_STEP
    assert _bucket(collation["candidate"]) == _bucket(FACTOR * exact)  # above 1 s the buckets are 1, 2.5, 5, 10
    assert collation["regression"]  # above 2x the baseline and above 0.05 s
    # notarization three times slower too, but below min_seconds (0.05 s): not a regression
    notarization = figures["notarization_p95_seconds{workchain=-1}"]
    assert FACTOR / BUCKET_STEP <= notarization["candidate"] / notarization["baseline"] <= FACTOR * BUCKET_STEP
    assert notarization["candidate"] < 0.05
    assert not notarization["regression"]


def test_the_markdown_and_terminal_reports_mark_the_regressions(slower: dict[str, Path]) -> None:
    code, markdown = _compare(slower, "--format", "markdown")
    assert code == 1
    assert "| figure | baseline | candidate | delta | relative |" in markdown
    assert "| `blocks_per_second{workchain=-1}` | 2.23/s | 0.7432/s | -1.486/s | -66.7% | :x: regression |" in markdown
    code, table = _compare(slower)
    assert code == 1
    line = next(x for x in table.splitlines() if x.startswith("blocks_per_second{workchain=0}"))
    assert line.split()[-2:] == ["-66.7%", "REGRESSION"]


def test_bad_input_exits_2(tmp_path: Path) -> None:
    code, output = _compare({"node1": tmp_path / "absent.jsonl"})
    assert code == 2, output
    result = CliRunner().invoke(cli, ["compare", "--baseline", "a", "--candidate", "b"])
    assert result.exit_code == 2
    (tmp_path / "t.yml").write_text("alerts: {}\n")
    code, output = _compare({n: _raw(n) for n in NODES}, "--thresholds", str(tmp_path / "t.yml"))
    assert code == 2, output
    assert "TonBlockRateDropVsRun" in output
    args = ["compare", "--baseline", "a", "--candidate", "b", "--prometheus", "http://127.0.0.1:9/"]
    assert CliRunner().invoke(cli, args).exit_code == 2


def test_the_figures_from_a_prometheus_holding_both_backfilled_runs_equal_those_from_the_files(
    tmp_path: Path, slower: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    for run, paths in (("base", {n: _raw(n) for n in NODES}), ("cand", slower)):
        command = [sys.executable, "-m", "ton_exporter", "backfill", "--run", run, "--prometheus-data", str(data)]
        done = subprocess.run(command + _logs("--session-logs", paths), capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    prometheus = PrometheusServer(tmp_path, [], data_dir=data)
    try:
        args = ["--format", "json", "--prometheus", prometheus.url]
        result = CliRunner().invoke(cli, ["compare", "--baseline", "base", "--candidate", "cand", *args])
        # the compare dashboard's hidden $shift: the candidate's start minus the baseline's, in ms
        starts = {side: json.loads(result.output)[side]["start"] for side in ("baseline", "candidate")}
        shift = SHIFT.query.removeprefix("query_result(").removesuffix(")")
        at = first_event([_raw(n) for n in NODES]) + 60
        expr = shift.replace("$candidate", "cand").replace("$baseline", "base")
        _, _, body = http_get(f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": at}))
        assert [float(r["value"][1]) for r in json.loads(body)["data"]["result"]] == [
            round(1000 * (starts["candidate"] - starts["baseline"]))
        ]
    finally:
        prometheus.stop()
    assert result.exit_code == 1, result.output
    _, from_files = _compare(slower, "--format", "json")
    a, b = _figures(result.output), _figures(from_files)
    assert a.keys() == b.keys()
    for key in a:
        for side in ("baseline", "candidate"):
            x, y = a[key][side], b[key][side]
            assert (x is None and y is None) or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12), (key, side, x, y)
        assert a[key]["regression"] == b[key]["regression"]
