"""The one configuration schema: `serve --config FILE` reads what `daemon --dir` reads; every mistake is one line
naming the file, the line and the key, with exit status 2; a valid file's sources are read, values checked against
the raw files."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import free_port, real_lines
from tests.metrics_text import parse, total
from tests.servers import Process, http_get, wait_until
from ton_exporter.config import ConfigError, parse_config

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

TEXT_SAMPLE = Path(__file__).parent / "fixtures" / "text-logs" / "node2" / "log"

SSH = """\
mode: devnet
sources:
  type: ssh
  user: tonex
  ssh_key: /etc/ton-exporter/id_ed25519
  known_hosts: /etc/ton-exporter/known_hosts
  nodes:
    - host: devnet-01
      session_logs_path: /var/log/validator/session-logs/
    - host: devnet-02
      port: 2222
      name: validator-02
      session_logs_path: /var/log/validator/session-logs/
      text_logs_path: /var/ton-work/log*
"""


def test_the_issue_s_ssh_example_is_read_into_typed_nodes() -> None:
    config = parse_config(SSH, Path("/etc/ton-exporter"))
    assert config.mode == "devnet"
    assert config.ssh is not None
    assert (config.ssh.user, config.ssh.known_hosts, config.ssh.poll_interval) == (
        "tonex",
        "/etc/ton-exporter/known_hosts",
        1.0,
    )
    assert [(n.host, n.port, n.name, n.text_logs_path) for n in config.ssh.nodes] == [
        ("devnet-01", 22, "devnet-01", None),
        ("devnet-02", 2222, "validator-02", "/var/ton-work/log*"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: 1\nprot: 2\n", ":2: prot: unknown key (known: "),
        ("port: 70000\n", ":1: port: must be a number from 0 to 65535, got 70000"),
        ("mode: mainnet\n", ":1: mode: must be one of local, devnet, testnet, got 'mainnet'"),
        (SSH.replace("      port: 2222\n", "      port: 'x'\n"), ":11: sources.nodes[1].port: must be a number"),
        (SSH.replace("  known_hosts: /etc/ton-exporter/known_hosts\n", ""), ":2: sources.known_hosts: is required"),
        (SSH.replace("  user: tonex\n", "  user: tonex\n  strict: false\n"), ":5: sources.strict: unknown key"),
        (SSH.replace("name: validator-02", "name: devnet-01"), ":12: sources.nodes[1].name: node 'devnet-01' is"),
        (SSH.replace("      session_logs_path: /var/log/validator/session-logs/\n    - host", "    - host"), ":8: "),
        ("sources:\n  type: ftp\n", ":2: sources.type: must be one of local, ssh, got 'ftp'"),
        ("sources: {session_logs: [1]}\n", ":1: sources.session_logs: must be a list of paths"),
        ("port: 1\nhost: a: b\n", ":2: not valid YAML"),
        ("retention: {runs: -1}\n", ":1: retention.runs: must be a whole number >= 0"),
    ],
)
def test_a_mistake_is_one_line_naming_file_line_and_key_with_exit_2(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError):
        parse_config(text, tmp_path, config)
    for command in (["serve", "--config", str(config)], ["daemon", "--dir", str(tmp_path)]):
        result = subprocess.run(
            [sys.executable, "-m", "ton_exporter", *command], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
        assert result.stderr.startswith(f"ton-exporter: error: {config}{message.split(':', 2)[0]}:"), result.stderr
        assert message in result.stderr, result.stderr
    assert not (tmp_path / "state").exists()  # a refused daemon wrote nothing


def test_serve_config_reads_local_session_stats_and_text_logs_with_node_labels(tmp_path: Path) -> None:
    sessions = real_lines(1)
    (tmp_path / "stats").mkdir()
    (tmp_path / "stats" / "a.jsonl").write_bytes(b"\n".join(sessions) + b"\n")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "log").write_bytes(TEXT_SAMPLE.read_bytes())
    text_lines = TEXT_SAMPLE.read_bytes().count(b"\n")
    port = free_port()
    config = tmp_path / "etc" / "config.yaml"
    config.parent.mkdir()
    config.write_text(
        textwrap.dedent(
            f"""\
            host: 127.0.0.1
            port: {port}
            from_start: true
            state_dir: ../state
            sources:
              type: local
              session_logs: ['validator-a=../stats/a.jsonl']
              nodes:
                - name: validator-b
                  text_logs_path: ../text/log
            """
        )
    )
    serve = Process([sys.executable, "-m", "ton_exporter", "serve", "--config", str(config)], tmp_path / "serve.log")
    try:

        def read() -> dict[str, float]:
            samples = parse(http_get(f"http://127.0.0.1:{port}/metrics")[2].decode())
            return {n: total(samples, "tonex_source_lines_read_total", node=n) for n in ("validator-a", "validator-b")}

        expected = {"validator-a": len(sessions), "validator-b": text_lines}
        wait_until(lambda: read() == expected, 30, f"every line read\n{serve.output()}")
    finally:
        serve.stop()
    assert serve.proc.returncode == 0
    assert (tmp_path / "state" / "checkpoint.json").exists()
