"""Connecting to one remote validator, and waiting before trying again.

Key authentication only; the host key is checked against the configured known_hosts, always (there is no option to
skip it). Every failure ends in exactly one reason from `REASONS`, the label of the per-host connect-failure
counter, so that a wrong host key (possibly an attack) is told apart from a host that is merely down.
"""

import asyncio
import random
from dataclasses import dataclass, field

import asyncssh

from ton_exporter.config.model import RemoteNode, SshSources

CONNECT_TIMEOUT_SECONDS = 10.0
REASONS = ("host_key", "auth", "refused", "timeout", "unreachable", "protocol")


class ConnectError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


async def connect(
    node: RemoteNode, ssh: SshSources, timeout: float = CONNECT_TIMEOUT_SECONDS
) -> asyncssh.SSHClientConnection:
    """An authenticated connection to `node`, or ConnectError with its reason."""
    try:
        return await asyncio.wait_for(
            asyncssh.connect(
                node.host,
                node.port,
                username=ssh.user,
                client_keys=[ssh.ssh_key],
                known_hosts=ssh.known_hosts,
                preferred_auth=("publickey",),
                agent_path=None,  # the configured key only, never whatever an agent offers
                password=None,
                config=(),  # no ~/.ssh/config: the exporter's file says everything
                connect_timeout=timeout,
            ),
            timeout,
        )
    except asyncssh.HostKeyNotVerifiable as e:
        raise ConnectError("host_key", f"host key not in {ssh.known_hosts} or changed: {e.reason}") from e
    except asyncssh.PermissionDenied as e:
        raise ConnectError("auth", f"key {ssh.ssh_key} refused for user {ssh.user}") from e
    except ConnectionRefusedError as e:
        raise ConnectError("refused", "connection refused") from e
    except TimeoutError as e:
        raise ConnectError("timeout", f"no answer within {timeout:g} s") from e
    except asyncssh.Error as e:
        raise ConnectError("protocol", e.reason) from e
    except OSError as e:
        raise ConnectError("unreachable", e.strerror or str(e)) from e


@dataclass
class Backoff:
    """Exponential backoff with full jitter (a delay drawn from [0, min(cap, base * 2^n)]): hosts that failed
    together do not all come back at the same instant."""

    base: float = 0.5
    cap: float = 60.0
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.attempts)
        self.attempts = min(self.attempts + 1, 32)
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempts = 0
