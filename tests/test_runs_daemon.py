"""The daemon as a harness meets it: a real daemon process, its real Unix socket, real clients killed with SIGKILL,
real edits of config.yaml seen by the watcher, the run CLI and the run API."""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, real_lines
from tests.metrics_text import parse, total, value
from tests.servers import DaemonProcess, Process, http_get, wait_until

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

SOURCES = "sources: ['../net/node*/session-logs']\n"


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    process = DaemonProcess(tmp_path / ".dashboard", SOURCES)
    yield process
    process.stop()


def say(path: Path, message: bytes, newline: bool = True) -> dict[str, Any]:
    """One message on a fresh connection, the answer back."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(message + (b"\n" if newline else b""))
        answer: dict[str, Any] = json.loads(sock.recv(65536))
        return answer


def api(daemon: DaemonProcess, path: str = "", method: str = "GET", body: object = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(daemon.url + "/api/runs" + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def metrics(daemon: DaemonProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return parse(http_get(daemon.url + "/metrics")[2].decode())


HARNESS = textwrap.dedent(
    """
    import sys, time
    from ton_exporter.runs.client import registered_run
    with registered_run(sys.argv[2], dashboard_dir=sys.argv[1], description="crash me", branch="feature/x",
                        commit="ab12cd3", nodes=2, labels={"user": "ci"}, seed=7):
        print("registered", flush=True)
        time.sleep(3600)
    """
)


def start_harness(tmp_path: Path, directory: Path, run_id: str) -> Process:
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    harness = Process([sys.executable, str(script), str(directory), run_id], tmp_path / f"harness-{run_id}.log")
    wait_until(lambda: "registered" in harness.output(), 30, f"the harness to register\n{harness.output()}")
    return harness


def test_the_socket_is_owner_only_and_answers_ping(daemon: DaemonProcess) -> None:
    assert stat.S_IMODE(daemon.socket.stat().st_mode) == 0o600
    assert say(daemon.socket, b'{"command": "ping"}') == {"status": "ok", "message": "pong"}


def test_tontester_style_hello_without_newline_is_answered_and_held(daemon: DaemonProcess) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(daemon.socket))
        sock.sendall(json.dumps({"run_id": "tt-1", "metadata": {"node_count": 3, "git_branch": "b"}}).encode())
        assert json.loads(sock.recv(65536)) == {"status": "ok", "run_id": "tt-1"}
        status, run = api(daemon, "/tt-1")
        assert (status, run["status"], run["nodes"], run["branch"]) == (200, "running", 3, "b")
    wait_until(lambda: api(daemon, "/tt-1")[1]["status"] == "completed", 10, "the run to complete")


def test_a_client_killed_with_sigkill_completes_its_run(tmp_path: Path, daemon: DaemonProcess) -> None:
    harness = start_harness(tmp_path, daemon.directory, "crash-1")
    status, run = api(daemon, "/crash-1")
    assert (status, run["status"], run["end"]) == (200, "running", None)
    assert (run["description"], run["branch"], run["commit"], run["nodes"]) == ("crash me", "feature/x", "ab12cd3", 2)
    assert (run["labels"], run["info"]) == ({"user": "ci"}, {"seed": 7})
    samples = metrics(daemon)
    assert value(samples, "tonex_run_active", run="crash-1") == 1
    assert value(samples, "tonex_run_info", run="crash-1", user="ci", branch="feature/x") == 1
    before = time.time()
    harness.kill()
    after = wait_until(lambda: api(daemon, "/crash-1")[1]["status"] == "completed" and time.time(), 10, "completed")
    run = api(daemon, "/crash-1")[1]
    assert before <= run["end"] <= after
    samples = metrics(daemon)
    assert value(samples, "tonex_run_active", run="crash-1") == 0
    assert value(samples, "tonex_run_status", run="crash-1", status="completed") == 1
    assert value(samples, "tonex_run_end_timestamp_seconds", run="crash-1") == run["end"]


def test_data_read_during_a_run_is_counted_under_it(tmp_path: Path, daemon: DaemonProcess) -> None:
    """Both real files written after the hello: every row under the run; accepted blocks as the data says."""
    harness = start_harness(tmp_path, daemon.directory, "data-1")
    for n in (1, 2):
        log = tmp_path / "net" / f"node{n}" / "session-logs"
        log.parent.mkdir(parents=True)
        log.write_bytes(b"\n".join(real_lines(n)) + b"\n")

    def accepted() -> bool:
        return bool(api(daemon, "/data-1")[1]["accepted_blocks"] == {"-1": 26, "0": 26})

    wait_until(accepted, 60, "26 accepted blocks per workchain (slots retire 15 s after their last event)")
    samples = metrics(daemon)
    # collated rows, from the data's README: node1 16 + 16, node2 14 + 14
    assert total(samples, "tonex_collated_blocks_total", run="data-1") == 60
    assert total(samples, "tonex_collated_blocks_total", run="default") == 0
    assert value(samples, "tonex_run_accepted_blocks", run="data-1", workchain="-1") == 26
    harness.kill()
    run = wait_until(lambda: (r := api(daemon, "/data-1")[1])["status"] == "completed" and r, 10, "completed")
    assert run["blocks_per_second"] == pytest.approx(26 / (run["end"] - run["start"]))


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"not json", "invalid_json"),
        (b"[1, 2]", "bad_request"),
        (b"{}", "bad_request"),
        (b'{"run_id": "has space"}', "bad_run_id"),
        (b'{"run_id": "r", "metadata": {"nodes": -3}}', "bad_metadata"),
        (b'{"run_id": "r", "metadata": {"labels": {"run": "x"}}}', "bad_metadata"),
        (b'{"command": "reboot"}', "unknown_command"),
        (b'{"command": "delete", "run_id": "nope"}', "unknown_run"),
        (b"x" * (65 * 1024), "too_large"),
    ],
)
def test_malformed_messages_get_a_clear_error_and_change_nothing(
    daemon: DaemonProcess, message: bytes, reason: str
) -> None:
    answer = say(daemon.socket, message)
    assert (answer["status"], answer["reason"]) == ("error", reason)
    assert answer["error"]
    assert api(daemon)[1] == {"runs": []}
    assert value(metrics(daemon), "tonex_run_requests_rejected_total", reason=reason) == 1


def test_a_running_run_id_cannot_be_registered_twice(tmp_path: Path, daemon: DaemonProcess) -> None:
    harness = start_harness(tmp_path, daemon.directory, "twice")
    answer = say(daemon.socket, b'{"run_id": "twice"}')
    assert (answer["status"], answer["reason"]) == ("error", "run_exists")
    assert api(daemon, "/twice")[1]["status"] == "running"
    harness.kill()


def test_run_cli_and_api(tmp_path: Path, daemon: DaemonProcess) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "ton_exporter", "run", *args, "--dir", str(daemon.directory)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    started = cli("start", "cli-1", "--description", "by hand", "--nodes", "4", "--label", "user=ops")
    assert started.returncode == 0, started.stderr
    status = cli("status")
    assert (status.returncode, "running: cli-1" in status.stdout) == (0, True)
    refused = cli("delete", "cli-1")
    assert (refused.returncode, refused.stderr.strip()) == (
        2,
        "ton-exporter: error: run 'cli-1' is running: stop it first",
    )
    assert api(daemon, "/cli-1", "DELETE")[0] == 409
    assert cli("stop", "cli-1").returncode == 0
    assert "cli-1  completed" in cli("list").stdout
    assert json.loads(cli("describe", "cli-1", "edited on the CLI").stdout)["description"] == "edited on the CLI"
    assert api(daemon, "/cli-1", "PATCH", {"description": "edited on the API"})[1]["description"] == "edited on the API"
    assert json.loads(cli("describe", "cli-1").stdout)["description"] == "edited on the API"
    assert [r["run_id"] for r in json.loads(cli("list", "--json").stdout)["runs"]] == ["cli-1"]  # as GET /api/runs
    assert api(daemon, "/cli-1", "PUT", {"description": "x"})[0] == 405
    assert api(daemon, "/cli-1", "PATCH", {"nope": 1})[0] == 400
    assert api(daemon, "/cli-1", "DELETE")[0] == 200
    assert api(daemon, "/cli-1")[0] == 404
    assert api(daemon) == (200, {"runs": []})


def test_a_new_port_in_the_file_moves_the_http_server(daemon: DaemonProcess) -> None:
    old = daemon.url
    new_port = free_port()
    daemon.config.write_text(daemon.config.read_text().replace(f"port: {daemon.port}", f"port: {new_port}"))
    daemon.port = new_port
    wait_until(lambda: b"tonex_build_info" in http_get(daemon.url + "/metrics")[2], 30, "metrics on the new port")
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        http_get(old + "/-/healthy", timeout=2)
    assert say(daemon.socket, b'{"command": "ping"}')["message"] == "pong"


def test_new_sources_in_the_file_are_read(tmp_path: Path, daemon: DaemonProcess) -> None:
    log = tmp_path / "elsewhere" / "validator-7.jsonl"
    log.parent.mkdir()
    log.write_bytes(b"\n".join(real_lines(1)) + b"\n")
    daemon.config.write_text(
        daemon.config.read_text() + "sources: [../elsewhere/validator-7.jsonl]\nfrom_start: true\n"
    )

    def collated() -> float:
        return total(metrics(daemon), "tonex_collated_blocks_total", node="validator-7")

    assert wait_until(collated, 30, "the new source read") == 32  # node1's collated rows, from the data's README


def test_an_invalid_file_keeps_the_old_configuration(daemon: DaemonProcess) -> None:
    daemon.config.write_text("port: [\n")
    wait_until(lambda: "configuration invalid" in daemon.output(), 30, "the daemon to log the invalid file")
    assert "not valid YAML" in daemon.output()
    assert http_get(daemon.url + "/-/healthy")[0] == 200
    daemon.config.write_text(f"port: {daemon.port}\nprot: 1\n")
    wait_until(lambda: "prot: unknown key" in daemon.output(), 30, "the daemon to log the unknown key")
    assert daemon.proc.poll() is None
    assert http_get(daemon.url + "/-/healthy")[0] == 200


def test_deleting_the_file_stops_the_daemon_gracefully(tmp_path: Path, daemon: DaemonProcess) -> None:
    harness = start_harness(tmp_path, daemon.directory, "live-at-stop")
    daemon.config.unlink()
    assert daemon.proc.wait(30) == 0
    assert not daemon.socket.exists()
    saved = json.loads((daemon.directory / "state" / "runs.json").read_text())
    assert [(r["run_id"], r["status"]) for r in saved["runs"]] == [("live-at-stop", "interrupted")]
    assert (daemon.directory / "state" / "checkpoint.json").exists()
    harness.kill()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_the_daemon_gracefully(daemon: DaemonProcess, signum: int) -> None:
    daemon.proc.send_signal(signum)
    assert daemon.proc.wait(30) == 0
    assert not daemon.socket.exists()
    assert (daemon.directory / "state" / "checkpoint.json").exists()


def test_a_second_daemon_on_the_same_directory_refuses_and_changes_nothing(
    tmp_path: Path, daemon: DaemonProcess
) -> None:
    harness = start_harness(tmp_path, daemon.directory, "live-run")
    state = daemon.directory / "state"
    wait_until(lambda: (state / "runs.json").exists() and (state / "checkpoint.json").exists(), 30, "state saved")
    daemon.proc.send_signal(signal.SIGSTOP)  # the running daemon cannot write now: any change is the second one's
    try:
        before = {p.name: p.read_bytes() for p in state.iterdir()}
        command = [sys.executable, "-m", "ton_exporter", "daemon", "--dir", str(daemon.directory)]
        second = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        after = {p.name: p.read_bytes() for p in state.iterdir()}
    finally:
        daemon.proc.send_signal(signal.SIGCONT)
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"ton-exporter: error: a daemon already answers on {daemon.directory} (pid {daemon.proc.pid}); "
        f"stop it with: ton-exporter daemon stop --dir {daemon.directory}"
    ]
    assert after == before
    assert json.loads(before["runs.json"])["runs"][0]["status"] == "running"
    assert say(daemon.socket, b'{"command": "ping"}')["message"] == "pong"
    harness.kill()


def test_daemon_stop_stops_it_cleanly_and_says_when_none_runs(tmp_path: Path, daemon: DaemonProcess) -> None:
    harness = start_harness(tmp_path, daemon.directory, "live-at-stop")

    def stop() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "ton_exporter", "daemon", "stop", "--dir", str(daemon.directory)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    first = stop()
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"stopped the daemon of {daemon.directory} (pid {daemon.proc.pid})"
    assert daemon.proc.wait(10) == 0  # stop returned once the daemon let go of its lock
    assert not daemon.socket.exists()
    saved = json.loads((daemon.directory / "state" / "runs.json").read_text())
    assert [(r["run_id"], r["status"]) for r in saved["runs"]] == [("live-at-stop", "interrupted")]
    again = stop()
    assert again.returncode == 1
    assert again.stderr.strip() == f"ton-exporter: no daemon runs on {daemon.directory}"
    harness.kill()


def test_the_client_starts_the_daemon_when_none_runs(tmp_path: Path) -> None:
    directory = tmp_path / ".dashboard"
    directory.mkdir()
    port = free_port()
    (directory / "config.yaml").write_text(f"host: 127.0.0.1\nport: {port}\n")
    harness = start_harness(tmp_path, directory, "auto-1")
    try:
        answer = say(directory / "daemon.sock", b'{"command": "status"}')
        assert [r["run_id"] for r in answer["running"]] == ["auto-1"]
        assert answer["daemon"]["http"] == f"127.0.0.1:{port}"
        pid = answer["daemon"]["pid"]
    finally:
        harness.kill()
        (directory / "config.yaml").unlink()
    wait_until(lambda: not _alive(pid), 30, "the started daemon to stop once its config is gone")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_testnet_mode_has_one_never_ending_run_no_socket_and_no_api(tmp_path: Path) -> None:
    config = "mode: testnet\nrun: {id: testnet, description: live testnet, nodes: 24}\n"
    first = DaemonProcess(tmp_path / "etc", config, testnet=True)
    try:
        assert not first.socket.exists()
        assert http_get(first.url + "/api/runs")[0] == 403
        samples = metrics(first)
        assert value(samples, "tonex_run_active", run="testnet") == 1
        assert value(samples, "tonex_run_nodes", run="testnet") == 24
        start = value(samples, "tonex_run_start_timestamp_seconds", run="testnet")
    finally:
        first.stop()
    again = DaemonProcess(tmp_path / "etc", config, port=first.port, testnet=True)
    try:
        samples = metrics(again)
        assert value(samples, "tonex_run_start_timestamp_seconds", run="testnet") == start  # the same run goes on
        assert value(samples, "tonex_run_status", run="testnet", status="running") == 1
    finally:
        again.stop()
