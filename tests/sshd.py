"""A real OpenSSH server (Debian's /usr/sbin/sshd) on a loopback port of its own, with a host key of its own and a
generated sshd_config; key authentication only, SFTP only (the set-up docs/fleet.md recommends)."""

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.servers import Process, wait_until

SSHD = Path("/usr/sbin/sshd")


def keygen(path: Path) -> Path:
    """An ed25519 key pair at `path` and `path`.pub."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


class Sshd(Process):
    def __init__(self, directory: Path, authorized_key: Path, *, sftp_only: bool = True) -> None:
        if not SSHD.exists():
            pytest.fail(f"{SSHD} is not installed; run ./dev test, which installs openssh-server")
        if os.geteuid() == 0:  # an unprivileged sshd needs none, and logs in only its own user, as the tests do
            os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory (tmpfiles.d at boot)
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host_key = keygen(directory / "host_key")
        (directory / "authorized_keys").write_text(authorized_key.with_suffix(".pub").read_text())
        config = directory / "sshd_config"
        lines = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {directory / 'authorized_keys'}",
            "AuthenticationMethods publickey",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",  # the test directory's owner and modes are pytest's
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "Subsystem sftp internal-sftp",
        ]
        if sftp_only:
            lines.append("ForceCommand internal-sftp -R")  # read-only SFTP, no shell, no commands
        config.write_text("\n".join(lines) + "\n")
        self.args = [str(SSHD), "-D", "-e", "-f", str(config)]
        self.restart()

    def restart(self) -> None:
        """(Re)start on the same port with the same host key (after `kill`)."""
        super().__init__(self.args, self.log if hasattr(self, "log") else self._log_path())
        wait_until(self._ready, 30, f"sshd on port {self.port}\n{self.output()}")

    def _log_path(self) -> Path:
        return self.host_key.parent / "sshd.log"

    def known_hosts_line(self) -> str:
        kind, key = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {key}\n"

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"sshd exited: {self.output()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                return sock.recv(4).startswith(b"SSH-")
        except OSError:
            return False
