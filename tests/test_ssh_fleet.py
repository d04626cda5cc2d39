"""One collector following a fleet of real OpenSSH servers on loopback (each its own port and host key, read-only
SFTP): every line of every host counted exactly once against the files, through a host killed mid-stream and
restarted and a host whose file rotates; a host with a changed host key and one that never answers are refused,
counted by reason and shown down, without delaying the others."""

import getpass
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from dashboards import health
from tests.conftest import free_port, real_lines
from tests.metrics_text import Samples, parse, total, value
from tests.servers import DaemonProcess, Process, PrometheusServer, http_get, wait_until
from tests.sshd import Sshd, keygen

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

HOSTS = int(os.environ.get("TONEX_FLEET_HOSTS", "24"))  # the devnet size; fewer while iterating


@pytest.fixture
def fleet(tmp_path: Path, client_key: Path) -> Iterator[list[Sshd]]:
    servers: list[Sshd] = []
    try:
        for index in range(HOSTS + 1):  # the last one has its host key changed (below)
            servers.append(Sshd(tmp_path / f"sshd-{index}", client_key))
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_a_fleet_is_followed_exactly_through_a_restart_a_rotation_a_changed_key_and_a_silent_host(
    tmp_path: Path, client_key: Path, fleet: list[Sshd]
) -> None:
    good, changed = fleet[:-1], fleet[-1]
    lines = real_lines(1)
    remote = tmp_path / "remote"
    for index in range(len(fleet)):
        (remote / f"v{index:02d}").mkdir(parents=True)
        (remote / f"v{index:02d}" / "session-logs").write_bytes(b"\n".join(lines[:40]) + b"\n")
    other_key = keygen(tmp_path / "impostor").with_suffix(".pub").read_text().split()
    known_hosts = "".join(s.known_hosts_line() for s in good)
    known_hosts += f"[127.0.0.1]:{changed.port} {other_key[0]} {other_key[1]}\n"
    (tmp_path / "known_hosts").write_text(known_hosts)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    nodes = [(f"v{i:02d}", s.port) for i, s in enumerate(fleet)] + [("silent", silent.getsockname()[1])]
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            mode: devnet
            host: 127.0.0.1
            port: {port}
            from_start: true
            state_dir: state
            sources:
              type: ssh
              user: {getpass.getuser()}
              ssh_key: {client_key}
              known_hosts: {tmp_path / "known_hosts"}
              poll_interval: 0.2
              nodes:
            """
        )
        + "".join(
            f"    - {{host: 127.0.0.1, port: {p}, name: {name}, session_logs_path: {remote / name / 'session-logs'}}}\n"
            for name, p in nodes
        )
    )
    expected = {name: 40 for name, _ in nodes[: len(good)]}

    def start() -> Process:
        cmd = [sys.executable, "-m", "ton_exporter", "serve", "--config", str(config)]
        return Process(cmd, tmp_path / f"serve-{len(list(tmp_path.glob('serve-*')))}.log")

    def samples() -> Samples:
        return parse(http_get(f"http://127.0.0.1:{port}/metrics")[2].decode())

    def read_lines(s: Samples) -> dict[str, int]:
        return {n: int(total(s, "tonex_source_lines_read_total", node=n)) for n in expected}

    def caught_up() -> bool:
        s = samples()
        return (
            read_lines(s) == expected
            and value(
                s, "tonex_ssh_connect_failures_total", node="silent", host=f"127.0.0.1:{nodes[-1][1]}", reason="timeout"
            )
            >= 1
        )

    serve = start()
    try:
        wait_until(caught_up, 120, f"every host read\n{serve.output()}")
        s = samples()
        for name, p in nodes[: len(good)]:
            assert value(s, "tonex_ssh_up", node=name, host=f"127.0.0.1:{p}") == 1
            assert value(s, "tonex_ssh_bytes_behind", node=name, host=f"127.0.0.1:{p}") == 0
        bad = {"node": f"v{len(good):02d}", "host": f"127.0.0.1:{changed.port}"}
        assert value(s, "tonex_ssh_up", **bad) == 0
        assert value(s, "tonex_ssh_connect_failures_total", reason="host_key", **bad) >= 1
        assert read_lines(s)  # the changed-key host read nothing
        assert total(s, "tonex_source_lines_read_total", node=bad["node"]) == 0

        # v00's sshd killed mid-stream, lines appended meanwhile, sshd restarted: every line once
        good[0].kill()
        with open(remote / "v00" / "session-logs", "ab") as f:
            f.write(b"\n".join(lines[40:70]) + b"\n")
        good[0].restart()
        expected["v00"] = 70
        # v01 rotates by rename with lines in both files
        (remote / "v01" / "session-logs").rename(remote / "v01" / "session-logs.1")
        with open(remote / "v01" / "session-logs.1", "ab") as f:
            f.write(b"\n".join(lines[40:50]) + b"\n")
        (remote / "v01" / "session-logs").write_bytes(b"\n".join(lines[50:96]) + b"\n")
        expected["v01"] = 96
        wait_until(lambda: read_lines(samples()) == expected, 120, f"after restart and rotation\n{serve.output()}")
    finally:
        serve.stop()
    # the collector restarted: resumes from the saved state and the spool, nothing read twice
    with open(remote / "v02" / "session-logs", "ab") as f:
        f.write(b"\n".join(lines[40:45]) + b"\n")
    expected["v02"] = 45
    again = start()
    try:
        wait_until(lambda: read_lines(samples()) == expected, 120, f"after the collector restart\n{again.output()}")
    finally:
        again.stop()
        silent.close()


def test_the_daemon_follows_ssh_sources_from_its_config_yaml(tmp_path: Path, client_key: Path) -> None:
    server = Sshd(tmp_path / "sshd", client_key)
    try:
        (tmp_path / "known_hosts").write_text(server.known_hosts_line())
        log = tmp_path / "remote" / "session-logs"
        log.parent.mkdir()
        lines = real_lines(2)
        log.write_bytes(b"\n".join(lines) + b"\n")
        config = (
            f"mode: devnet\nfrom_start: true\nsources:\n  type: ssh\n  user: {getpass.getuser()}\n"
            f"  ssh_key: {client_key}\n"
            f"  known_hosts: {tmp_path / 'known_hosts'}\n  poll_interval: 0.2\n"
            f"  nodes:\n    - {{host: 127.0.0.1, port: {server.port}, name: remote-1, session_logs_path: {log}}}\n"
        )
        daemon = DaemonProcess(tmp_path / ".dashboard", config)
        try:

            def read() -> int:
                s = parse(http_get(daemon.url + "/metrics")[2].decode())
                return int(total(s, "tonex_source_lines_read_total", node="remote-1"))

            wait_until(lambda: read() == len(lines), 60, f"the remote lines read\n{daemon.output()}")
            assert (
                tmp_path / ".dashboard" / "state" / "spool" / "remote-1" / "session" / "000001.log"
            ).read_bytes() == (log.read_bytes())
        finally:
            daemon.stop()
    finally:
        server.stop()


def test_slowest_blocks_over_ssh_equals_slowest_blocks_on_the_same_files_locally(
    tmp_path: Path, client_key: Path
) -> None:
    sample = Path(__file__).parent / "fixtures" / "text-logs"
    servers = [Sshd(tmp_path / f"sshd-{n}", client_key) for n in (1, 2)]
    try:
        (tmp_path / "known_hosts").write_text("".join(s.known_hosts_line() for s in servers))
        nodes = "".join(
            f"    - {{host: 127.0.0.1, port: {s.port}, name: node{n}, text_logs_path: {sample / f'node{n}' / 'log'}}}\n"
            for n, s in zip((1, 2), servers, strict=True)
        )
        config = tmp_path / "config.yaml"
        config.write_text(
            f"sources:\n  type: ssh\n  user: {getpass.getuser()}\n  ssh_key: {client_key}\n"
            f"  known_hosts: {tmp_path / 'known_hosts'}\n  nodes:\n{nodes}"
        )
        command = [sys.executable, "-m", "ton_exporter", "slowest-blocks", "--format", "json"]
        remote = subprocess.run(
            [*command, "--progress", "--config", str(config)], capture_output=True, text=True, check=False
        )
        local = subprocess.run(
            [*command, f"node1={sample / 'node1' / 'log'}", f"node2={sample / 'node2' / 'log'}"],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        for server in servers:
            server.stop()
    assert remote.returncode == 0, remote.stderr
    assert local.returncode == 0, local.stderr
    sizes = sum((sample / f"node{n}" / "log").stat().st_size for n in (1, 2)) / 2**20
    status = re.findall(r"fetching text logs over SSH: [^\r\n]*", remote.stderr)[-1]  # as last drawn
    assert status == f"fetching text logs over SSH: {sizes:.1f} MiB fetched, 0.0 MiB to go, 2/2 hosts done"
    fetched, read = json.loads(remote.stdout), json.loads(local.stdout)
    assert len(fetched["inputs"].pop("files")) == len(read["inputs"].pop("files")) == 2  # spool paths vs the paths
    assert fetched == read
    assert read["inputs"]["benchmark_lines"] > 0  # not two empty reports


def test_central_mode_over_ssh_measures_the_network_view_as_from_local_files_and_fills_the_ssh_panels(
    tmp_path: Path, client_key: Path
) -> None:
    """Both real nodes read over SSH by one collector and the same files read locally by another exporter: the
    cross-node (2/3-weight) network families are equal; a real Prometheus scraping the collector draws every SSH
    panel of the exporter-health dashboard (one host never answers, so failures and a down host are drawn too)."""
    servers = [Sshd(tmp_path / f"sshd-{n}", client_key) for n in (1, 2)]
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    processes: list[Process] = []
    try:
        (tmp_path / "known_hosts").write_text("".join(s.known_hosts_line() for s in servers))
        files = {}
        for n in (1, 2):
            files[f"node{n}"] = tmp_path / "remote" / f"node{n}" / "session-logs"
            files[f"node{n}"].parent.mkdir(parents=True)
            files[f"node{n}"].write_bytes(b"\n".join(real_lines(n)) + b"\n")
        hosts = [(f"node{n}", s.port, files[f"node{n}"]) for n, s in zip((1, 2), servers, strict=True)]
        hosts.append(("silent", silent.getsockname()[1], tmp_path / "nothing"))
        central, local = free_port(), free_port()
        config = tmp_path / "config.yaml"
        config.write_text(
            f"mode: devnet\nhost: 127.0.0.1\nport: {central}\nfrom_start: true\nstate_dir: {tmp_path / 'state'}\n"
            f"sources:\n  type: ssh\n  user: {getpass.getuser()}\n  ssh_key: {client_key}\n"
            f"  known_hosts: {tmp_path / 'known_hosts'}\n  poll_interval: 0.2\n  nodes:\n"
            + "".join(
                f"    - {{host: 127.0.0.1, port: {p}, name: {name}, session_logs_path: {f}}}\n" for name, p, f in hosts
            )
        )
        serve = [sys.executable, "-m", "ton_exporter", "serve"]
        processes.append(Process([*serve, "--config", str(config)], tmp_path / "central.log"))
        sources = [f"--session-logs={name}={path}" for name, path in files.items()]
        local_args = [*serve, "--from-start", *sources, "--web.listen-address", f"127.0.0.1:{local}"]
        processes.append(Process(local_args, tmp_path / "local.log"))

        def network(port: int) -> Samples:
            samples = parse(http_get(f"http://127.0.0.1:{port}/metrics")[2].decode())
            return {key: v for key, v in samples.items() if key[0].startswith("tonex_consensus_network_")}

        def equal() -> bool:
            mine = network(central)
            return bool(mine) and mine == network(local)

        wait_until(equal, 120, f"the same network view\n{processes[0].output()[-3000:]}")
        assert total(network(central), "tonex_consensus_network_phase_seconds_count") > 0

        prometheus = PrometheusServer(tmp_path, [f"127.0.0.1:{central}"])
        processes.append(prometheus)
        for panel in health.SSH_PANELS:
            for query in panel.queries:
                expr = query.rendered().replace("$node", ".*").replace("$__rate_interval", "1m")
                wait_until(partial(prometheus.query, expr), 120, f"{panel.title}: {expr} non-empty")
        assert prometheus.values('tonex_ssh_up{node="silent"}') == {"": 0.0}
    finally:
        for process in processes:
            process.stop()
        for server in servers:
            server.stop()
        silent.close()


@pytest.mark.parametrize("from_start", [False, True])
def test_a_first_start_reads_remote_files_from_their_end_unless_from_start_as_local_files(
    tmp_path: Path, client_key: Path, from_start: bool
) -> None:
    server = Sshd(tmp_path / "sshd", client_key)
    processes: list[Process] = []
    try:
        (tmp_path / "known_hosts").write_text(server.known_hosts_line())
        log = tmp_path / "remote" / "session-logs"
        log.parent.mkdir()
        lines = real_lines(1)
        log.write_bytes(b"\n".join(lines[:50]) + b"\n")
        port = free_port()
        (tmp_path / "config.yaml").write_text(
            f"host: 127.0.0.1\nport: {port}\nfrom_start: {str(from_start).lower()}\nstate_dir: {tmp_path / 'state'}\n"
            f"sources:\n  type: ssh\n  user: {getpass.getuser()}\n  ssh_key: {client_key}\n"
            f"  known_hosts: {tmp_path / 'known_hosts'}\n  poll_interval: 0.2\n"
            f"  nodes:\n    - {{host: 127.0.0.1, port: {server.port}, name: v1, session_logs_path: {log}}}\n"
        )
        command = [sys.executable, "-m", "ton_exporter", "serve", "--config", str(tmp_path / "config.yaml")]
        processes.append(Process(command, tmp_path / "serve.log"))

        def samples() -> Samples:
            return parse(http_get(f"http://127.0.0.1:{port}/metrics")[2].decode())

        host = {"node": "v1", "host": f"127.0.0.1:{server.port}"}
        first_poll = partial(lambda: value(samples(), "tonex_ssh_last_read_timestamp_seconds", **host) > 0)
        wait_until(first_poll, 60, f"the first poll\n{processes[0].output()[-2000:]}")
        with open(log, "ab") as f:
            f.write(b"\n".join(lines[50:60]) + b"\n")
        expected = 60 if from_start else 10
        wait_until(
            lambda: total(samples(), "tonex_source_lines_read_total", node="v1") == expected,
            60,
            f"{expected} lines read\n{processes[0].output()[-2000:]}",
        )
    finally:
        for process in processes:
            process.stop()
        server.stop()
