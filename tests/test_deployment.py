"""Deployable pieces: the Dockerfile (hadolint), the image's entrypoint, the hardened systemd unit for the sidecar."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port, real_lines, require_binary
from tests.metrics_text import parse, total
from tests.servers import Process, http_get, wait_until

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "systemd" / "ton-exporter.service"
ENV_FILE = ROOT / "deploy" / "systemd" / "ton-exporter.env"
VENV_BIN = Path(sys.executable).parent


def test_dockerfile_passes_hadolint() -> None:
    hadolint = require_binary("hadolint")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_context_holds_what_the_dockerfile_copies() -> None:
    copied = re.findall(r"^COPY (.+) \S+$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    allowed = (ROOT / ".dockerignore").read_text().split()
    for sources in copied:
        for source in sources.split():
            assert (ROOT / source).exists(), source
            assert f"!{source.rstrip('/')}" in [a.rstrip("/") for a in allowed], (
                f"{source} is excluded from the context"
            )


def _scrape_until(url: str, what: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}

    def ready() -> bool:
        nonlocal samples
        status, _, body = http_get(url + "/metrics")
        samples = parse(body.decode()) if status == 200 else {}
        return total(samples, "tonex_collated_blocks_total") > 0

    wait_until(ready, 60, what)
    return samples


def test_entrypoint_tails_a_mounted_network_and_otherwise_replays(tontester_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "TON_NETWORK_DIR": str(tontester_dir),
        "TON_STATE_DIR": str(tmp_path / "state"),
        "TON_LISTEN_ADDRESS": f"127.0.0.1:{port}",
    }
    (tmp_path / "state").mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "text-logs" / "node1" / "log", tontester_dir / "node1" / "log")
    entrypoint = str(ROOT / "docker" / "entrypoint.sh")
    proc = subprocess.Popen([entrypoint], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        samples = _scrape_until(f"http://127.0.0.1:{port}", "the mounted network's blocks")
        assert total(samples, "tonex_collated_blocks_total", node="node1") == 32  # 16 per workchain, from the start
        # its text log (tontester's node<N>/log): 86 entries, each ending in ESC[0m (grep -c), 3 continuation lines
        assert total(samples, "tonex_text_log_lines_total", node="node1") == 86
        assert {dict(ls)["run"] for (n, ls) in samples if n == "tonex_node_info"} == {"tontester"}
    finally:
        proc.terminate()
        assert proc.wait(10) == 0, "SIGTERM (docker stop) ends it cleanly"

    empty = tmp_path / "no-network"
    empty.mkdir()
    proc = subprocess.Popen(
        [entrypoint], env=env | {"TON_NETWORK_DIR": str(empty)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        samples = _scrape_until(f"http://127.0.0.1:{port}", "the demo's replayed blocks")
        assert {dict(ls)["run"] for (n, ls) in samples if n == "tonex_node_info"} == {"demo"}
    finally:
        proc.terminate()
        assert proc.wait(10) == 0, "SIGTERM (docker stop) ends it cleanly"


def _unit_with_local_binary(tmp_path: Path) -> Path:
    unit = tmp_path / "ton-exporter.service"
    unit.write_text(UNIT.read_text().replace("/opt/ton-exporter/bin/ton-exporter", str(VENV_BIN / "ton-exporter")))
    return unit


def assert_verifies_and_is_hardened(analyze: str, unit: Path) -> None:
    """`systemd-analyze verify` accepts the unit and `security` rates its exposure 2.0 or lower."""
    verify = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    security = subprocess.run(
        [analyze, "security", "--offline=true", str(unit)], capture_output=True, text=True, check=False
    )
    match = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", security.stdout)
    assert match, security.stdout[-2000:] + security.stderr
    assert float(match.group(1)) <= 2.0, security.stdout  # systemd's scale: 0 (locked down) .. 10 (exposed)


def test_the_fleet_collector_s_systemd_unit_verifies_and_is_as_hardened(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze")
    fleet = UNIT.with_name("ton-exporter-fleet.service")
    unit = tmp_path / fleet.name
    unit.write_text(fleet.read_text().replace("/opt/ton-exporter/bin/ton-exporter", str(VENV_BIN / "ton-exporter")))
    assert_verifies_and_is_hardened(analyze, unit)


def test_systemd_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze")
    unit = _unit_with_local_binary(tmp_path)
    assert_verifies_and_is_hardened(analyze, unit)
    text = UNIT.read_text()
    for setting in (
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "User=ton-exporter",
        "ReadOnlyPaths=",
        "StateDirectory=",
    ):
        assert setting in text


def test_the_units_command_line_runs_with_the_example_environment(tmp_path: Path) -> None:
    """ExecStart with /etc/default/ton-exporter's variables, as systemd expands them: every option must exist."""
    logs = tmp_path / "session-logs"
    logs.write_bytes(b"")
    port = free_port()
    env = dict(re.findall(r"^(TON_\w+)=(.*)$", ENV_FILE.read_text(), re.MULTILINE))
    env |= {
        "TON_SESSION_LOGS": str(logs),
        "TON_LISTEN_ADDRESS": f"127.0.0.1:{port}",
        "STATE_DIRECTORY": str(tmp_path / "state"),
    }
    (tmp_path / "state").mkdir()
    exec_start = re.search(r"^ExecStart=(.+?)(?<!\\)$", UNIT.read_text(), re.MULTILINE | re.DOTALL)
    assert exec_start
    command = re.sub(r"\\\n\s*", " ", exec_start.group(1))
    command = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], command)
    argv = shlex.split(command)
    argv[0] = str(VENV_BIN / "ton-exporter")
    proc = Process(argv, tmp_path / "unit.log")
    try:
        wait_until(lambda: http_get(f"http://127.0.0.1:{port}/-/ready")[0] == 200, 30, proc.output())
        logs.write_bytes(b"\n".join(real_lines(1)) + b"\n")
        samples = _scrape_until(f"http://127.0.0.1:{port}", "the unit's exporter reads the file")
        assert {dict(ls)["node"] for (n, ls) in samples if n == "tonex_node_info"} == {env["TON_NODE"]}
    finally:
        proc.stop()
    assert any((tmp_path / "state").iterdir()), "the exporter saved its state in StateDirectory"
