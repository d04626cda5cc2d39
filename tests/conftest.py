"""Shared fixtures: the real session stats, free ports, and real binaries (never mocked)."""

import gzip
import json
import logging
import shutil
import socket
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parent.parent / "ton_exporter" / "data"
NODE1_GZ = DATA / "session-logs-node1.jsonl.gz"
NODE2_GZ = DATA / "session-logs-node2.jsonl.gz"


def real_lines(node: int) -> list[bytes]:
    """The real session-stats lines of node1 or node2 (ton_exporter/data, copied unchanged from ../shared/data)."""
    path = NODE1_GZ if node == 1 else NODE2_GZ
    return gzip.decompress(path.read_bytes()).splitlines()


def consensus_events(lines: Iterable[bytes | str]) -> Iterator[tuple[str, float, dict[str, Any]]]:
    """(session id, ts, event) of every event of the `consensus.stats.events` batches among session-stats lines,
    read with json alone (tests compute their expectations from this, not from the exporter's parser)."""
    for line in lines:
        record = json.loads(line)
        if record.get("@type") == "consensus.stats.events":
            for item in record["events"]:
                yield record["id"], item["ts"], item["event"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_binary(name: str) -> str:
    """Path of a binary the tests need. Missing is a failure, never a skip: `./dev test` installs them."""
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))  # pip-installed tools
    if path is None:
        pytest.fail(f"{name} is not installed; run ./dev test, which installs Debian's prometheus packages")
    return path


@pytest.fixture
def tontester_dir(tmp_path: Path) -> Path:
    """A tontester-like network directory holding copies of the real files: node1/session-logs, node2/..."""
    for node in (1, 2):
        target = tmp_path / f"node{node}" / "session-logs"
        target.parent.mkdir()
        target.write_bytes(b"\n".join(real_lines(node)) + b"\n")
    return tmp_path


class FakeWall:
    """A wall clock the test moves by hand (`wall.now += 100`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# Fixtures that start real binaries or processes: a test that uses one is `external` (not in ./dev test --quick)
# even in a module whose other tests are quick.
EXTERNAL_FIXTURES = {"live_prometheus"}


@pytest.fixture
def quiet_log() -> Iterator[None]:
    """Fuzz examples each start a new file's stats, whose first reject of each reason is logged: not wanted here."""
    logger = logging.getLogger("ton_exporter")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if EXTERNAL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.external)


# The SSH fixtures live beside the OpenSSH helper; imported here (last: tests.sshd imports free_port from this
# module) so that every SSH test module sees them.
from tests.ssh_fixtures import client_key, sshd  # noqa: E402, F401
