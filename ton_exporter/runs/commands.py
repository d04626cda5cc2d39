"""`ton-exporter daemon` and `ton-exporter run start|stop|status|list|describe|delete` (cli.py adds them).

The run commands talk to the daemon over its Unix socket (owner-only, so only its user can), the same socket the
harness registers runs on. A refusal prints one `ton-exporter: error: ...` line and exits with status 2;
`run status` exits with 1 when no daemon answers.
"""

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from ton_exporter import logs
from ton_exporter.cli_options import path_option, polling_options, state_dir_option
from ton_exporter.runs.client import DEFAULT_DIR, DaemonNotRunningError, RunClient, RunRefusedError
from ton_exporter.runs.config import ConfigError
from ton_exporter.runs.daemon import run_daemon
from ton_exporter.runs.lock import NotRunningError, stop_daemon
from ton_exporter.runs.socket_server import AlreadyRunningError

_DIR_HELP = "The daemon's directory: config.yaml, daemon.sock, state/ (tontester: test/integration/.dashboard)."


def _dir_option(f: click.decorators.FC) -> click.decorators.FC:
    return path_option(
        "--dir",
        "directory",
        kind="directory",
        default=DEFAULT_DIR,
        show_default=True,
        help=_DIR_HELP,
    )(f)


@click.group("daemon", invoke_without_command=True)
@_dir_option
@state_dir_option("Where runs and read positions are saved. Default: state_dir in the config, else DIR/state.")
@polling_options("Poll files and the configuration instead of watching them.")
@click.pass_context
def daemon_command(
    ctx: click.Context,
    directory: Path,
    state_dir: Path | None,
    poll_interval: float,
    no_inotify: bool,
    log_level: str,
    log_format: str,
) -> None:
    """Run the monitoring daemon configured by DIR/config.yaml: /metrics, run registration on DIR/daemon.sock and
    the run API. Follows the file: a new port moves the HTTP server, a deleted file stops the daemon. One daemon
    per directory (DIR/daemon.lock); `daemon stop --dir DIR` stops it."""
    if ctx.invoked_subcommand is not None:
        return
    logs.configure(log_level, log_format)
    try:
        status = asyncio.run(
            run_daemon(directory, state_dir=state_dir, poll_interval=poll_interval, use_inotify=not no_inotify)
        )
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    except AlreadyRunningError as e:
        raise click.ClickException(str(e)) from e
    except KeyboardInterrupt:
        status = 0
    except OSError as e:
        raise click.ClickException(f"cannot start: {e.strerror or e}") from e
    sys.exit(status)


@daemon_command.command("stop")
@_dir_option
def daemon_stop_command(directory: Path) -> None:
    """Stop the daemon of DIR cleanly (SIGTERM: runs still connected interrupted, runs and read positions saved)
    and wait until it has. Exit status 1 when no daemon runs there."""
    try:
        pid = stop_daemon(directory)
    except NotRunningError as e:
        click.echo(f"ton-exporter: {e}", err=True)
        sys.exit(1)
    except TimeoutError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"stopped the daemon of {directory} (pid {pid})")


@click.group("run")
def run_group() -> None:
    """Register, end, list, describe and delete runs of the daemon (see docs/runs.md)."""


def _request(directory: Path, message: dict[str, Any]) -> dict[str, Any]:
    try:
        return RunClient(directory).request(message)
    except DaemonNotRunningError as e:
        raise click.ClickException(f"{e} (start it with: ton-exporter daemon --dir {directory})") from e
    except RunRefusedError as e:
        raise click.ClickException(str(e)) from e


@run_group.command("start")
@click.argument("run_id")
@click.option("--description", default="", help="What the run is about.")
@click.option("--branch", default="", help="Git branch under test.")
@click.option("--commit", default="", help="Git commit under test.")
@click.option("--nodes", type=click.IntRange(0), default=None, help="Number of nodes of the network.")
@click.option("--label", "labels", multiple=True, metavar="NAME=VALUE", help="A label of tonex_run_info; repeatable.")
@_dir_option
def start_command(
    run_id: str,
    description: str,
    branch: str,
    commit: str,
    nodes: int | None,
    labels: tuple[str, ...],
    directory: Path,
) -> None:
    """Start RUN_ID now; it runs until `ton-exporter run stop RUN_ID`. Starts the daemon if none runs."""
    metadata: dict[str, Any] = {"description": description, "branch": branch, "commit": commit}
    if nodes is not None:
        metadata["nodes"] = nodes
    pairs = [label.partition("=") for label in labels]
    if any(not sep for _, sep, _ in pairs):
        raise click.UsageError("--label must be NAME=VALUE")
    metadata["labels"] = {name: value for name, _, value in pairs}
    try:
        RunClient(directory).ensure_daemon()
    except DaemonNotRunningError as e:
        raise click.ClickException(str(e)) from e
    answer = _request(directory, {"command": "start", "run_id": run_id, "metadata": metadata})
    click.echo(f"run {answer['run']['run_id']} started at {answer['run']['start_iso']}")


@run_group.command("stop")
@click.argument("run_id")
@_dir_option
def stop_command(run_id: str, directory: Path) -> None:
    """End RUN_ID now (completed)."""
    run = _request(directory, {"command": "stop", "run_id": run_id})["run"]
    click.echo(f"run {run['run_id']} {run['status']}, {run['duration_seconds']:.1f} s")


@run_group.command("status")
@_dir_option
def status_command(directory: Path) -> None:
    """Is the daemon running, where, and which runs are live. Exit status 1 when no daemon answers."""
    try:
        answer = RunClient(directory).request({"command": "status"})
    except (DaemonNotRunningError, RunRefusedError, OSError) as e:
        click.echo(f"daemon not running: {e}")
        sys.exit(1)
    daemon = answer["daemon"]
    click.echo(f"daemon running: pid {daemon['pid']}, mode {daemon['mode']}, http {daemon['http']}")
    click.echo(f"run label now: {answer['label']}")
    for run in answer["running"]:
        click.echo(f"running: {run['run_id']} since {run['start_iso']} ({run['duration_seconds']:.0f} s)")


@run_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON, as GET /api/runs gives them.")
@_dir_option
def list_command(as_json: bool, directory: Path) -> None:
    """Every run kept, newest first."""
    runs = _request(directory, {"command": "list"})["runs"]
    if as_json:
        click.echo(json.dumps({"runs": runs}, indent=2))  # the API's shape, as the help says
        return
    rows = [("RUN", "STATUS", "START (UTC)", "DURATION", "NODES", "BLOCKS/S", "BRANCH", "COMMIT", "DESCRIPTION")]
    for r in runs:
        bps = r["blocks_per_second"]
        rows.append(
            (
                r["run_id"],
                "live" if r["status"] == "running" else r["status"],
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["start"])),
                f"{r['duration_seconds']:.0f} s",
                "" if r["nodes"] is None else str(r["nodes"]),
                "" if bps is None else f"{bps:.2f}",
                r["branch"],
                r["commit"][:12],
                r["description"],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])


@run_group.command("describe")
@click.argument("run_id")
@click.argument("description", required=False)
@_dir_option
def describe_command(run_id: str, description: str | None, directory: Path) -> None:
    """Show RUN_ID in full, or set its description to DESCRIPTION."""
    if description is None:
        run = _request(directory, {"command": "get", "run_id": run_id})["run"]
    else:
        run = _request(directory, {"command": "describe", "run_id": run_id, "description": description})["run"]
    click.echo(json.dumps(run, indent=2))


@run_group.command("delete")
@click.argument("run_id")
@_dir_option
def delete_command(run_id: str, directory: Path) -> None:
    """Delete a finished run and its series."""
    _request(directory, {"command": "delete", "run_id": run_id})
    click.echo(f"run {run_id} deleted")
