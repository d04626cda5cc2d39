"""The run registry in process: hellos checked, lifecycle, run label, retention, saved copy; config.yaml checked;
the exporter's run label switched on real data."""

import json
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from tests.conftest import real_lines
from tests.metrics_text import parse
from ton_exporter.app import Exporter
from ton_exporter.exposition.http_server import Request
from ton_exporter.exposition.run_families import RunsCollector
from ton_exporter.runs.config import ConfigError, parse_config
from ton_exporter.runs.daemon import FINISHED_SERIES_SECONDS, Daemon
from ton_exporter.runs.http_api import RunApi, is_loopback
from ton_exporter.runs.registry import LINGER_SECONDS, Retention, RunError, RunRegistry, new_run
from ton_exporter.sources.discovery import SourcePattern


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def registry(path: Path | None = None, retention: Retention | None = None) -> tuple[RunRegistry, Clock]:
    clock = Clock()
    return RunRegistry(path, retention, clock=clock), clock


def test_a_hello_gives_metadata_with_tontester_spellings_and_keeps_the_rest_as_info() -> None:
    hello = {
        "run_id": "alice-20260614172054",
        "metadata": {
            "description": "16 nodes",
            "git_branch": "feature/x",
            "git_commit_id": "ab12cd3",
            "node_count": 16,
            "labels": {"user": "alice", "preset": 3},
            "config": {"slots": 4},
        },
    }
    run = new_run(hello, 100.0)
    assert (run.run_id, run.description, run.branch, run.commit, run.nodes) == (
        "alice-20260614172054",
        "16 nodes",
        "feature/x",
        "ab12cd3",
        16,
    )
    assert run.labels == {"user": "alice", "preset": "3"}
    assert run.info == {"config": {"slots": 4}}


@pytest.mark.parametrize(
    ("hello", "reason"),
    [
        ({"metadata": {}}, "bad_run_id"),
        ({"run_id": ""}, "bad_run_id"),
        ({"run_id": "has space"}, "bad_run_id"),
        ({"run_id": "x" * 129}, "bad_run_id"),
        ({"run_id": 7}, "bad_run_id"),
        ({"run_id": "r", "metadata": []}, "bad_metadata"),
        ({"run_id": "r", "metadata": {"nodes": -1}}, "bad_metadata"),
        ({"run_id": "r", "metadata": {"nodes": True}}, "bad_metadata"),
        ({"run_id": "r", "metadata": {"description": 5}}, "bad_metadata"),
        ({"run_id": "r", "metadata": {"labels": {"run": "x"}}}, "bad_metadata"),
        ({"run_id": "r", "metadata": {"labels": {"Bad-Name": "x"}}}, "bad_metadata"),
        ({"run_id": "r", "metadata": {"labels": {f"l{i}": "x" for i in range(9)}}}, "bad_metadata"),
    ],
)
def test_malformed_hellos_are_refused_with_a_reason(hello: dict[str, Any], reason: str) -> None:
    with pytest.raises(RunError) as refused:
        new_run(hello, 0.0)
    assert refused.value.reason == reason


def test_lifecycle_and_the_run_label() -> None:
    runs, clock = registry()
    assert runs.label() == "default"
    runs.start(new_run({"run_id": "a"}, clock()))
    assert runs.label() == "a"
    with pytest.raises(RunError, match="is running"):
        runs.start(new_run({"run_id": "a"}, clock()))
    clock.now += 10
    runs.start(new_run({"run_id": "b"}, clock()))
    assert runs.label() == "b"  # the newest running run
    clock.now += 10
    runs.end("b")
    assert runs.label() == "a"
    runs.end("a")
    assert runs.get("a").duration(clock()) == 20
    clock.now += LINGER_SECONDS - 1
    assert runs.label() == "a"  # the engine's last batches, written after the harness left
    clock.now += 2
    assert runs.label() == "default"
    with pytest.raises(RunError, match="exists"):
        runs.start(new_run({"run_id": "a"}, clock()))


def test_only_finished_runs_can_be_deleted() -> None:
    runs, clock = registry()
    runs.start(new_run({"run_id": "a"}, clock()))
    with pytest.raises(RunError) as refused:
        runs.delete("a")
    assert refused.value.reason == "run_running"
    runs.end("a")
    runs.delete("a")
    with pytest.raises(RunError) as unknown:
        runs.get("a")
    assert unknown.value.reason == "unknown_run"


def test_retention_keeps_the_newest_runs_and_drops_old_ones() -> None:
    runs, clock = registry(retention=Retention(runs=2, days=1))
    for name in ("a", "b", "c", "d"):
        runs.start(new_run({"run_id": name}, clock()))
        clock.now += 60
        runs.end(name)
    runs.start(new_run({"run_id": "live"}, clock()))
    assert runs.apply_retention() == ["b", "a"]
    assert sorted(runs.runs) == ["c", "d", "live"]
    clock.now += 86400 - 59  # c ended a day and a second ago, d a minute less
    assert runs.apply_retention() == ["c"]
    clock.now += 86400 * 30
    assert runs.apply_retention() == ["d"]
    assert list(runs.runs) == ["live"]  # a running run is never dropped


def test_runs_are_saved_and_a_run_live_at_a_crash_is_interrupted_at_the_last_save(tmp_path: Path) -> None:
    path = tmp_path / "runs.json"
    runs, clock = registry(path)
    runs.start(new_run({"run_id": "done", "metadata": {"description": "d"}}, clock()))
    clock.now += 5
    runs.end("done")
    runs.start(new_run({"run_id": "live"}, clock()))
    runs.note_accepted_blocks("done", {"-1": 26})
    clock.now += 7
    runs.save()
    again, _ = registry(path)
    assert again.get("done").to_json(0)["accepted_blocks"] == {"-1": 26}
    assert again.get("done").description == "d"
    live = again.get("live")
    assert (live.status, live.end) == ("interrupted", clock.now)


def test_unusable_saved_runs_are_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "runs.json"
    path.write_text('{"version": 1, "runs": [{"nope": 1}]}')
    runs, _ = registry(path)
    assert runs.runs == {}
    assert (tmp_path / "runs.json.corrupt").exists()


def test_run_api_refuses_other_addresses_unless_opened_and_everything_in_testnet_mode() -> None:
    runs, clock = registry()
    runs.start(new_run({"run_id": "a"}, clock()))
    request = Request("GET", "/api/runs", "", {}, peer="192.0.2.7")
    assert RunApi(runs, read_only=lambda: False, open_to_all=lambda: False)(request).status == 403
    assert RunApi(runs, read_only=lambda: False, open_to_all=lambda: True)(request).status == 200
    local = Request("GET", "/api/runs/a", "", {}, peer="127.0.0.1")
    assert RunApi(runs, read_only=lambda: True, open_to_all=lambda: True)(local).status == 403
    assert [is_loopback(a) for a in ("127.0.0.1", "127.8.0.1", "::1", "::ffff:127.0.0.1", "10.0.0.1", "")] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_config_reads_every_key_and_resolves_sources_against_its_directory(tmp_path: Path) -> None:
    text = """
host: 0.0.0.0
dashboard_port: 8080
sources: [../net/node*/session-logs, node9=/abs/session-logs]
retention: {runs: 5, days: null}
api: {open: true}
grafana_port: 3000
"""
    config = parse_config(text, tmp_path / ".dashboard")
    assert (config.host, config.port, config.keep_runs, config.keep_days, config.api_open) == (
        "0.0.0.0",
        8080,
        5,
        None,
        True,
    )
    assert config.sources == (str(tmp_path / "net/node*/session-logs"), "node9=/abs/session-logs")
    testnet = parse_config("mode: testnet\nrun: {id: testnet, description: live, nodes: 24}", tmp_path)
    assert testnet.testnet
    assert testnet.run["nodes"] == 24


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: [", "not valid YAML"),
        ("- a list", "must be a mapping"),
        ("port: 70000", "port: must be a number from 0 to 65535"),
        ("port: '1'", "port: must be a number"),
        ("prot: 1", "prot: unknown key"),
        ("mode: mainnet", "mode: must be one of"),
        ("retention: {runs: -1}", "retention.runs"),
        ("retention: {weeks: 1}", "retention.weeks: unknown key"),
        ("sources: [1]", "sources: must be a list of paths"),
        ("mode: testnet", "testnet mode needs run"),
        ("mode: testnet\nrun: {id: 'a b'}", "run: run_id must be"),
        ("run: {id: x}", "run: is for testnet mode"),
        ("api: {open: yes please}", "api.open: must be true or false"),
    ],
)
def test_config_mistakes_are_one_clear_message(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(text, tmp_path)
    assert message in str(refused.value)


def _collated(text: str, run: str) -> float:
    samples = parse(text)
    return sum(
        v for (name, labels), v in samples.items() if name == "tonex_collated_blocks_total" and ("run", run) in labels
    )


def test_switching_runs_counts_from_zero_for_the_new_run_and_freezes_the_old(tmp_path: Path) -> None:
    """node1's real rows: the first 40 lines under run a, the rest under run b; collated rows counted by hand."""
    lines = real_lines(1)
    collated = [b"collatedBlock" in line[:40] for line in lines]
    first, rest = sum(collated[:40]), sum(collated[40:])
    assert (first, rest) == (16, 16)
    log = tmp_path / "node1" / "session-logs"
    log.parent.mkdir()
    log.write_bytes(b"\n".join(lines[:40]) + b"\n")
    exporter = Exporter([SourcePattern(str(log), "node1")], run="a", from_start=True)
    runs, clock = registry()
    exporter.registry.register(RunsCollector(runs, exporter.run_nodes))
    for name in ("a", "b"):
        runs.start(new_run({"run_id": name}, clock()))
    exporter.poll_once()
    exporter.switch_run("b")
    with open(log, "ab") as f:
        f.write(b"\n".join(lines[40:]) + b"\n")
    exporter.poll_once()
    text = generate_latest(exporter.registry).decode()
    assert (_collated(text, "a"), _collated(text, "b")) == (first, rest)
    info = {dict(labels)["run"] for (name, labels) in parse(text) if name == "tonex_node_info"}
    assert info == {"a", "b"}
    exporter.forget_run("a")
    text = generate_latest(exporter.registry).decode()
    assert (_collated(text, "a"), _collated(text, "b")) == (0, rest)
    assert json.loads(json.dumps(runs.get("a").to_json(clock())))["status"] == "running"


def test_the_daemon_forgets_a_runs_series_minutes_after_it_and_drops_runs_by_retention(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("port: 0\nretention: {runs: 1}\n")
    daemon = Daemon(tmp_path)
    runs, exporter = daemon.registry, daemon.exporter
    for name in ("a", "b"):
        runs.start(new_run({"run_id": name}, time.time()))
        runs.end(name)
        runs.get(name).end = time.time() - LINGER_SECONDS - 1
    exporter.switch_run("a")  # as if data had been read under each
    exporter.switch_run("b")
    daemon.maintain()
    assert exporter.run == "default"
    assert sorted(runs.runs) == ["b"]  # the newest finished run only
    assert sorted(exporter.past_runs) == ["b"]  # a's series went with it; b's stay exported for now
    exporter.past_runs["b"].left_at -= FINISHED_SERIES_SECONDS + 1
    daemon.maintain()
    assert exporter.past_runs == {}
    assert sorted(runs.runs) == ["b"]  # the run itself stays until retention removes it
    exporter.close()
