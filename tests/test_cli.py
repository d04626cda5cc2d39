"""The command line as a user meets it: help, mistakes, and the demo."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from tests.metrics_text import Samples, parse, total, value
from tests.servers import ExporterProcess, http_get, wait_until
from ton_exporter.cli import cli
from ton_exporter.config import load_config

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ton_exporter", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["demo"],
        ["daemon"],
        ["slowest-blocks"],
        *(["run", name] for name in ("start", "list", "describe")),
    ],
)
def test_help_explains_every_option(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0
    target: click.Command = cli
    for name in command:
        assert isinstance(target, click.Group)
        target = target.commands[name]
    for param in target.params:
        if isinstance(param, click.Option):
            assert param.help, f"{param.name} has no help text"
            assert param.opts[0] in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--session-logs", "x", "--bogus"], "No such option '--bogus'"),
        (["serve"], "Missing option '--session-logs'"),
        (["serve", "--session-logs", "/no/such/dir/session-logs"], "directory /no/such/dir does not exist"),
        (["serve", "--session-logs", "/no/such/dir/"], "directory /no/such/dir/ does not exist"),
        (["serve", "--text-log", "node1=/no/such/dir/"], "directory /no/such/dir/ does not exist"),
        (["serve", "--session-logs", "x", "--window.lateness", "-5"], "--window.lateness"),
        (["serve", "--session-logs", "x", "--web.listen-address", "nonsense"], "HOST:PORT"),
        (["serve", "--session-logs", "x", "--web.listen-address", "256.1.1.1:18771"], "cannot listen on 256.1.1.1"),
        (["serve", "--session-logs", "x", "--web.listen-address", "no-such.invalid:1"], "cannot listen on no-such"),
        (["serve", "--session-logs", "net/log", "--text-log", "net/log"], "as --session-logs and as --text-log"),
        (["serve", "--session-logs", "a=x", "--node", "b"], "--node b and a=x name different nodes"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_mistakes_give_one_clear_line_and_exit_2(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ton-exporter: error: ")
    assert message in lines[0]


def test_a_directory_holding_only_subdirectories_is_waited_for_and_the_log_says_so(tmp_path: Path) -> None:
    (tmp_path / "net" / "node1").mkdir(parents=True)
    exporter = ExporterProcess(tmp_path, ["serve", "--session-logs", str(tmp_path / "net")])
    try:
        warning = [line for line in exporter.output().splitlines() if "level=warning" in line]
        assert len(warning) == 1, exporter.output()
        assert 'msg="directory holds no file yet; waiting (subdirectories are not searched' in warning[0]
        assert f"directory={tmp_path / 'net'}" in warning[0]
    finally:
        exporter.stop()


@pytest.mark.parametrize("command", [["run", "start", "r1"], ["daemon"]])
def test_a_missing_config_yaml_is_said_with_a_minimal_one_that_loads(tmp_path: Path, command: list[str]) -> None:
    result = run(*command, "--dir", str(tmp_path))
    assert result.returncode == 2
    first, *example = result.stderr.rstrip("\n").splitlines()
    assert first.startswith("ton-exporter: error: ")
    assert f"there is no {tmp_path / 'config.yaml'}; write one, for example (schema: docs/runs.md" in first
    (tmp_path / "config.yaml").write_text("\n".join(line.removeprefix("    ") for line in example) + "\n")
    config = load_config(tmp_path / "config.yaml")
    assert (config.host, config.port) == ("127.0.0.1", 10056)
    assert config.sources == (str(tmp_path.parent / "net" / "node*" / "session-logs"),)


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = run("serve", "--session-logs", str(tmp_path / "f"), "--web.listen-address", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("ton-exporter: error: cannot listen on")


def test_demo_serves_moving_metrics_from_the_bundled_data(tmp_path: Path) -> None:
    demo = ExporterProcess(tmp_path, ["demo", "--dir", str(tmp_path / "replay")])
    try:

        def count(name: str) -> float:
            return total(parse(http_get(demo.url + "/metrics")[2].decode()), name)

        first = wait_until(lambda: count("tonex_collated_blocks_total"), 30, "the demo's first collations")
        # one loop of the 11.7 s run takes 13 s; consensus batches are written ~5 s after their events
        wait_until(lambda: count("tonex_collated_blocks_total") > first, 40, "collations to keep coming")
        accepted = wait_until(lambda: count("tonex_accepted_blocks_total"), 40, "accepted blocks")
        wait_until(lambda: count("tonex_accepted_blocks_total") > accepted, 40, "accepted blocks to keep coming")
        samples = parse(http_get(demo.url + "/metrics")[2].decode())
        assert total(samples, "tonex_source_lines_rejected_total") == 0
        nodes = {dict(ls)["node"] for (name, ls) in samples if name == "tonex_collated_blocks_total"}
        assert nodes == {"node1", "node2"}
        assert {dict(ls)["run"] for (name, ls) in samples if name == "tonex_collated_blocks_total"} == {"demo"}
    finally:
        demo.stop()


def test_demo_history_shows_a_complete_window_at_once(tmp_path: Path) -> None:
    began = time.time()
    demo = ExporterProcess(tmp_path, ["demo", "--history", "180", "--dir", str(tmp_path / "replay")])
    try:

        def windows() -> Samples | None:
            samples = parse(http_get(demo.url + "/metrics")[2].decode())
            shown = {dict(ls)["node"] for (name, ls) in samples if name == "tonex_window_start_timestamp_seconds"}
            return samples if shown == {"node1", "node2"} else None

        samples: Samples = wait_until(windows, 30, "window gauges of both nodes")
        for node in ("node1", "node2"):
            # a window that ended before the demo started: only the history can have filled it
            assert value(samples, "tonex_window_start_timestamp_seconds", node=node) + 60 <= began
            assert total(samples, "tonex_window_collated_blocks", node=node) > 0
        assert value(samples, "tonex_run_start_timestamp_seconds", run="demo") < began - 120  # the run began with it
    finally:
        demo.stop()


def test_the_demo_listens_on_loopback_unless_asked() -> None:
    """A demo is for the machine it runs on; `--web.listen-address :10056` opens it to every interface."""
    demo = cli.commands["demo"]
    address = next(p for p in demo.params if p.name == "listen_address")
    assert address.default == "127.0.0.1:10056"
    serve = next(p for p in cli.commands["serve"].params if p.name == "listen_address")
    assert serve.default == ":10056"  # a sidecar is scraped from another host
