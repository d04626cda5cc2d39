"""Connecting to remote validators against real OpenSSH servers on loopback: the right key and host key read the
file's exact bytes over read-only SFTP; a changed host key, a wrong user key, a closed port and a server that never
answers each end in their own reason; backoff delays grow and stay under their ceiling."""

import asyncio
import getpass
import random
import socket
from pathlib import Path

import asyncssh
import pytest

from tests.conftest import free_port, real_lines
from tests.sshd import Sshd, keygen
from ton_exporter.config.model import RemoteNode, SshSources
from ton_exporter.remote.connection import Backoff, ConnectError, connect

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick


def sources(tmp_path: Path, key: Path, known_hosts: str) -> SshSources:
    path = tmp_path / "known_hosts"
    path.write_text(known_hosts)
    return SshSources(user=getpass.getuser(), ssh_key=str(key), known_hosts=str(path))


def test_the_right_keys_read_the_exact_bytes_over_read_only_sftp(tmp_path: Path, client_key: Path, sshd: Sshd) -> None:
    data = b"\n".join(real_lines(1)[:200]) + b"\n"
    (tmp_path / "session.jsonl").write_bytes(data)
    ssh = sources(tmp_path, client_key, sshd.known_hosts_line())

    async def read() -> tuple[bytes, bool]:
        conn = await connect(RemoteNode("127.0.0.1", "v1", sshd.port), ssh)
        try:
            async with conn.start_sftp_client() as sftp, sftp.open(str(tmp_path / "session.jsonl"), "rb") as f:
                content: bytes = await f.read()
            try:
                async with conn.start_sftp_client() as sftp:
                    await sftp.remove(str(tmp_path / "session.jsonl"))
                writable = True
            except asyncssh.SFTPError:
                writable = False
        finally:
            conn.close()
        return content, writable

    content, writable = asyncio.run(read())
    assert content == data
    assert not writable  # the account can read, nothing else
    assert (tmp_path / "session.jsonl").read_bytes() == data


def reason(node: RemoteNode, ssh: SshSources, timeout: float = 10.0) -> str:
    async def attempt() -> str:
        try:
            conn = await connect(node, ssh, timeout)
        except ConnectError as e:
            return e.reason
        conn.close()
        return "connected"

    return asyncio.run(attempt())


def test_a_changed_host_key_is_refused(tmp_path: Path, client_key: Path, sshd: Sshd) -> None:
    other = keygen(tmp_path / "other_host_key").with_suffix(".pub").read_text().split()
    ssh = sources(tmp_path, client_key, f"[127.0.0.1]:{sshd.port} {other[0]} {other[1]}\n")
    assert reason(RemoteNode("127.0.0.1", "v1", sshd.port), ssh) == "host_key"
    assert reason(RemoteNode("127.0.0.1", "v1", sshd.port), sources(tmp_path, client_key, "")) == "host_key"


def test_a_wrong_user_key_is_refused(tmp_path: Path, client_key: Path, sshd: Sshd) -> None:
    wrong = keygen(tmp_path / "wrong_key")
    ssh = sources(tmp_path, wrong, sshd.known_hosts_line())
    assert reason(RemoteNode("127.0.0.1", "v1", sshd.port), ssh) == "auth"


def test_a_closed_port_and_a_silent_server_have_their_own_reasons(tmp_path: Path, client_key: Path) -> None:
    ssh = sources(tmp_path, client_key, "")
    assert reason(RemoteNode("127.0.0.1", "v1", free_port()), ssh) == "refused"
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        assert reason(RemoteNode("127.0.0.1", "v1", silent.getsockname()[1]), ssh, timeout=1.0) == "timeout"


def test_backoff_delays_stay_under_a_growing_capped_ceiling() -> None:
    backoff = Backoff(base=0.5, cap=8.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(10)]
    ceilings = [min(8.0, 0.5 * 2**n) for n in range(10)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[6:]) > 0.5 * 2**2  # past the early attempts, delays reach beyond the first ceilings
    backoff.reset()
    assert backoff.next_delay() <= 0.5
