"""The fixtures of every SSH test module (a client key, one real OpenSSH server on loopback); conftest.py makes
them visible to all of them."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sshd import Sshd, keygen


@pytest.fixture
def client_key(tmp_path: Path) -> Path:
    """A fresh ed25519 key pair of the client; the servers authorise its public half."""
    return keygen(tmp_path / "id_ed25519")


@pytest.fixture
def sshd(tmp_path: Path, client_key: Path) -> Iterator[Sshd]:
    """One OpenSSH server on loopback, its own port and host key, stopped after the test."""
    server = Sshd(tmp_path / "sshd", client_key)
    yield server
    server.stop()
