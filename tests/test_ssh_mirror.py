"""Remote files mirrored over read-only SFTP from a real OpenSSH server into the append-only spool: partial last
lines, rename rotation, copytruncate and a reconnect with a fresh spool object leave every remote file's bytes
exactly once in exactly one spool file."""

import asyncio
import getpass
import shutil
from functools import partial
from pathlib import Path

import orjson
import pytest

from tests.conftest import real_lines
from tests.sshd import Sshd
from ton_exporter.checkpoint import saved_read_to_end
from ton_exporter.config.model import RemoteNode, SshSources
from ton_exporter.remote.connection import connect
from ton_exporter.remote.mirror import Spool, fetch, prune
from ton_exporter.sources.identity import HEAD_BYTES, FileIdentity
from ton_exporter.sources.tracker import KnownFile

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick


def test_rotation_copytruncate_partial_lines_and_reconnect_fetch_every_byte_once(
    tmp_path: Path, client_key: Path, sshd: Sshd
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(sshd.known_hosts_line())
    ssh = SshSources(user=getpass.getuser(), ssh_key=str(client_key), known_hosts=str(known_hosts))
    node = RemoteNode("127.0.0.1", "v1", sshd.port)
    remote = tmp_path / "remote"
    remote.mkdir()
    log = remote / "session-logs"
    a, b = real_lines(1)[:60], real_lines(1)[60:]
    c, d = real_lines(2)[:50], real_lines(2)[50:]
    whole_a = b"\n".join(a) + b"\n"
    spool_dir = tmp_path / "state" / "spool" / "v1" / "session"

    async def fetch_all(spool: Spool) -> int:
        conn = await connect(node, ssh)
        try:
            async with conn.start_sftp_client() as sftp:
                total = 0
                while True:  # a chunk at a time until nothing is left
                    fetched, _ = await fetch(sftp, str(log), spool)
                    total += fetched
                    if not fetched:
                        return total
        finally:
            conn.close()

    def contents() -> list[bytes]:
        return [p.read_bytes() for p in sorted(spool_dir.glob("*.log"))]

    spool = Spool(spool_dir)
    log.write_bytes(whole_a[:-40])  # the last line partial
    assert asyncio.run(fetch_all(spool)) == len(whole_a) - 40
    with open(log, "ab") as f:
        f.write(whole_a[-40:])
    asyncio.run(fetch_all(spool))
    assert contents() == [whole_a]

    log.rename(remote / "session-logs.1")  # rename rotation; the writer finishes its line in the old file
    with open(remote / "session-logs.1", "ab") as f:
        f.write(b"\n".join(b) + b"\n")
    log.write_bytes(b"\n".join(c) + b"\n")
    asyncio.run(fetch_all(spool))
    first = whole_a + b"\n".join(b) + b"\n"
    assert contents() == [first, b"\n".join(c) + b"\n"]

    shutil.copy(log, remote / "session-logs.2")  # copytruncate, then more lines in the copy-truncated file
    with open(log, "r+b") as g:
        g.truncate(0)
        g.write(b"\n".join(d) + b"\n")
    restarted = Spool(spool_dir)  # a collector restart: the spool on disk is all it knows
    asyncio.run(fetch_all(restarted))
    assert contents() == [first, b"\n".join(c) + b"\n", b"\n".join(d) + b"\n"]
    assert asyncio.run(fetch_all(Spool(spool_dir))) == 0  # and again: nothing fetched twice
    assert sum(x.count(b"\n") for x in contents()) == len(a) + len(b) + len(c) + len(d)


def remote_log(tmp_path: Path, client_key: Path, sshd: Sshd, content: bytes) -> tuple[RemoteNode, SshSources, Path]:
    """The node, the SSH settings, and the path of its session-stats file, which holds `content`."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(sshd.known_hosts_line())
    ssh = SshSources(user=getpass.getuser(), ssh_key=str(client_key), known_hosts=str(known_hosts))
    log = tmp_path / "remote" / "session-logs"
    log.parent.mkdir()
    log.write_bytes(content)
    return RemoteNode("127.0.0.1", "v1", sshd.port), ssh, log


async def poll_once(
    remote: tuple[RemoteNode, SshSources, Path], spool: Spool, at_end: bool = False, state: Path | None = None
) -> int:
    """One poll as a host's follower makes it: fetch (and prune against the checkpoint in `state`); bytes fetched."""
    node, ssh, log = remote
    conn = await connect(node, ssh)
    try:
        async with conn.start_sftp_client() as sftp:
            fetched = (await fetch(sftp, str(log), spool, at_end=at_end))[0]
            if state is not None:
                prune(spool, partial(saved_read_to_end, state))
            return fetched
    finally:
        conn.close()


def test_a_first_start_at_the_end_fetches_only_what_is_written_after_it_and_resumes_from_the_spool(
    tmp_path: Path, client_key: Path, sshd: Sshd
) -> None:
    lines = real_lines(1)
    before = b"\n".join(lines[:50]) + b"\n"
    remote = remote_log(tmp_path, client_key, sshd, before + lines[50][:30])  # a partial last line: fetched whole
    log = remote[2]  # once finished
    spool_dir = tmp_path / "spool"
    poll = partial(poll_once, remote)

    def contents() -> list[bytes]:
        return [p.read_bytes() for p in sorted(spool_dir.glob("*.log"))]

    assert asyncio.run(poll(Spool(spool_dir), at_end=True)) == 30  # the partial line's start, no earlier byte
    with open(log, "ab") as f:
        f.write(lines[50][30:] + b"\n" + b"\n".join(lines[51:60]) + b"\n")
    restarted = Spool(spool_dir)  # matched by the remote head kept beside the spool file
    assert restarted.files[0].base == len(before)
    asyncio.run(poll(restarted))
    after = b"\n".join(lines[50:60]) + b"\n"
    assert contents() == [after]
    log.rename(log.with_name("session-logs.1"))  # a file that appears later is read from its start
    log.write_bytes(b"\n".join(lines[60:70]) + b"\n")
    asyncio.run(poll(Spool(spool_dir)))
    assert contents() == [after, b"\n".join(lines[60:70]) + b"\n"]
    assert asyncio.run(poll(Spool(spool_dir))) == 0


def test_a_spool_file_is_deleted_only_once_its_remote_file_is_gone_and_the_saved_state_read_it_to_its_end(
    tmp_path: Path, client_key: Path, sshd: Sshd
) -> None:
    lines = real_lines(1)
    remote = remote_log(tmp_path, client_key, sshd, b"\n".join(lines[:30]) + b"\n")
    log, state = remote[2], tmp_path / "state"
    spool = Spool(state / "spool" / "v1" / "session")
    poll = partial(poll_once, remote, spool, state=state)

    def save(offsets: dict[Path, int]) -> None:
        """A checkpoint as the exporter writes it, holding each spool file at an offset."""
        files = []
        for path, offset in offsets.items():
            status, head = path.stat(), path.read_bytes()[:HEAD_BYTES]
            files.append(KnownFile(FileIdentity(status.st_dev, status.st_ino, head), offset, "s").to_json())
        (state / "checkpoint.json").write_bytes(
            orjson.dumps({"version": 1, "files": files, "streams": {}, "nodes": {}})
        )

    asyncio.run(poll())
    first = spool.files[0].path
    log.rename(log.with_name("session-logs.1"))  # rotated: still listed, so kept even when read
    log.write_bytes(b"\n".join(lines[30:50]) + b"\n")
    asyncio.run(poll())
    second = spool.files[1].path
    save({first: first.stat().st_size, second: second.stat().st_size})
    asyncio.run(poll())
    assert first.exists()
    log.with_name("session-logs.1").unlink()  # gone on the remote, but the saved state has not read it all
    save({first: first.stat().st_size - 1, second: second.stat().st_size})
    asyncio.run(poll())
    assert first.exists()
    save({first: first.stat().st_size, second: second.stat().st_size})  # now it has
    asyncio.run(poll())
    assert not first.exists()
    assert [f.path for f in spool.files] == [second]
    assert second.read_bytes() == log.read_bytes()
    log.rename(log.with_name("session-logs.1"))  # the next one, gone at once: no saved state of it at all
    log.with_name("session-logs.1").unlink()
    log.write_bytes(b"\n".join(lines[50:60]) + b"\n")
    (state / "checkpoint.json").unlink()
    asyncio.run(poll())
    asyncio.run(poll())
    assert second.exists()
    assert len(spool.files) == 2
    assert spool.files[1].path.name == "000003.log"  # a deleted file's name is not given again
