"""The `ton-exporter` command line."""

import asyncio
import contextlib
import errno
import logging
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import click

from ton_exporter import __version__, logs
from ton_exporter.aggregation.limits import Limits
from ton_exporter.analysis import slowest_blocks
from ton_exporter.app import DEFAULT_LISTEN, DEFAULT_RUN, Exporter, parse_source, serve
from ton_exporter.backfill.command import backfill_command
from ton_exporter.cli_options import (
    config_option,
    logging_options,
    path_option,
    polling_options,
    reading_options,
    source_options,
    state_dir_option,
)
from ton_exporter.cli_web import load_web, web_options
from ton_exporter.compare.command import compare_command
from ton_exporter.config import ConfigError, ExporterConfig, load_config
from ton_exporter.exposition.http_server import Limits as HttpLimits
from ton_exporter.exposition.run_families import RunsCollector
from ton_exporter.limits_options import limits_options
from ton_exporter.remote.connection import ConnectError
from ton_exporter.remote.fleet import Fleet, FleetCollector, alongside, fetch_once
from ton_exporter.runs.commands import daemon_command, run_group
from ton_exporter.runs.registry import RunRegistry, new_run
from ton_exporter.sources.discovery import SourcePattern
from ton_exporter.sources.replay import Replay, load_bundled

log = logging.getLogger("ton_exporter")


def fail(message: str) -> NoReturn:
    click.echo(f"ton-exporter: error: {message}", err=True)
    sys.exit(2)


def parse_listen_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        fail(f"--web.listen-address must be HOST:PORT or :PORT, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    try:  # before anything is read or logged: a host that cannot be listened on is a mistake on the command line
        socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        fail(f"cannot listen on {value}: {e.strerror}")
    return host, int(port)


def _listen_option(
    f: click.decorators.FC, default: str = DEFAULT_LISTEN.replace("127.0.0.1", "")
) -> click.decorators.FC:
    return click.option(
        "--web.listen-address",
        "listen_address",
        default=default,
        show_default=True,
        metavar="HOST:PORT",
        help="Address for /metrics and the landing page. 10056 is not taken in Prometheus's default port "
        "allocations; ':PORT' listens on every interface.",
    )(f)


def _loopback_listen_option(f: click.decorators.FC) -> click.decorators.FC:
    """The demo's: loopback unless asked (a demo is for the machine it runs on)."""
    return _listen_option(f, "127.0.0.1" + DEFAULT_LISTEN)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="ton-exporter")
def cli() -> None:
    """Prometheus exporter for TON validator session stats and text logs."""


@cli.command("serve")
@config_option(
    "Read sources, listen address, from_start, state_dir and web_config_file from FILE (the daemon's "
    "config.yaml schema, see docs/fleet.md) instead of --session-logs/--text-log. Flags given as well win over "
    "the file."
)
@source_options(
    "Session-stats files (the engine's --session-logs; tontester's node<N>/session-logs): a file, a glob "
    "('net/node*/session-logs') or a directory; repeat for more. Rotated copies (.1, -YYYYMMDD, .old) are "
    "followed too. The node label comes from --node, from NODE=, from a tontester directory name, or from the "
    "file name. Compressed files are read once, from the start, when the pattern names them. Files that do not "
    "exist yet are waited for.",
    "td text logs (tontester's node<N>/log, the engine's stderr; or -l FILE with its FILE.thread<N>.log "
    "files): lines by level and component, Broadcast_benchmark histograms. Same forms and tailing as "
    "--session-logs; repeat for more. At least one --session-logs or --text-log is needed.",
)
@click.option("--node", default=None, help="Node label for every file given (a sidecar's own node).")
@click.option("--run", default=DEFAULT_RUN, show_default=True, help="Value of the `run` label on every series.")
@click.option(
    "--from-start",
    is_flag=True,
    help="Read files that already exist from their beginning. Default: from their end, like `tail -f` (files that "
    "appear later are always read from their beginning; with --state.dir, a restart resumes instead).",
)
@_listen_option
@reading_options("How long after a 60 s window ends (in event time) it is complete and shown by the window gauges.")
@state_dir_option(
    "Directory for the saved state (read positions and counters), so that a restart resumes where the "
    "exporter stopped and every line is counted once. Without it, a restart starts over as --from-start says."
)
@limits_options
@web_options
@polling_options("Do not use inotify (watchfiles); poll every --poll-interval instead.")
@logging_options
@click.pass_context
def serve_command(
    ctx: click.Context,
    config_file: Path | None,
    session_logs: tuple[str, ...],
    text_logs: tuple[str, ...],
    node: str | None,
    run: str,
    from_start: bool,
    listen_address: str,
    lateness: float,
    max_line_bytes: int,
    state_dir: Path | None,
    limits: Limits,
    poll_interval: float,
    no_inotify: bool,
    log_level: str,
    log_format: str,
    web_config_file: Path | None,
    max_connections: int,
) -> None:
    """Tail session-stats files and text logs and serve their metrics on /metrics."""
    fleet = None
    if config_file is not None:
        config = _load_config(config_file)
        session_logs = session_logs or config.sources
        text_logs = text_logs or config.text_logs
        if _default(ctx, "listen_address"):
            listen_address = f"{config.host}:{config.port}"
        from_start = from_start or config.from_start
        if state_dir is None and config.state_dir is not None:
            state_dir = Path(config.state_dir)
        if web_config_file is None and config.web_config_file:
            web_config_file = Path(config.web_config_file)  # the same key the daemon reads (docs/http-edge.md)
        if _default(ctx, "run") and config.testnet:
            run = str(config.run["id"])
        if config.ssh is not None:
            if state_dir is None:
                fail(f"{config_file}: sources.type: ssh needs state_dir (or --state.dir): the fetched bytes live there")
            fleet = Fleet(config.ssh, state_dir / "spool", from_start)
    if not session_logs and not text_logs and fleet is None:
        fail("Missing option '--session-logs' (or '--text-log') (see 'ton-exporter serve --help')")
    logs.configure(log_level, log_format)
    host, port = parse_listen_address(listen_address)
    _refuse_conflicts(session_logs, text_logs, node)
    sources = [parse_source(spec, node) for spec in session_logs]
    sources += [parse_source(spec, node, "text_log") for spec in text_logs]
    for source in sources:
        _check_source(source)
    if fleet is not None:
        sources += fleet.patterns()
        from_start = True  # spool files hold only what was fetched: all of it is to be read
    exporter = Exporter(
        sources,
        run=run,
        from_start=from_start,
        lateness=lateness,
        max_line_bytes=max_line_bytes,
        state_dir=state_dir,
        limits=limits,
    )
    exporter.register_process_collectors()
    if fleet is not None:
        exporter.registry.register(FleetCollector(fleet))
    web, http_limits = load_web(web_config_file), HttpLimits(max_connections=max_connections)
    main = serve(exporter, host, port, poll_interval, not no_inotify, web=web, limits=http_limits)
    _run(alongside(fleet, main), listen_address)


@cli.command("demo")
@_loopback_listen_option
@path_option(
    "--dir",
    "directory",
    kind="directory",
    help="Where the replayed files are written (node1/session-logs, node2/session-logs). Default: a temporary "
    "directory, removed on exit.",
)
@click.option(
    "--history",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="Start as if the replay had begun SECONDS ago: that past is written at once, so that the 60 s window "
    "gauges show a complete window from the start (180 is enough) instead of after 50-90 s.",
)
@logging_options
def demo_command(listen_address: str, directory: Path | None, history: float, log_level: str, log_format: str) -> None:
    """Serve live metrics from the bundled real session stats of a 2-validator network, replayed in a loop
    with timestamps shifted to now."""
    logs.configure(log_level, log_format)
    host, port = parse_listen_address(listen_address)
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ton-exporter-demo-")))
        replay = Replay(directory, load_bundled(), rotate_bytes=16 * 1024 * 1024)
        sources = [SourcePattern(str(replay.path(node)), node) for node in ("node1", "node2")]
        exporter = Exporter(sources, run="demo", from_start=True)
        exporter.add_collector("runs", RunsCollector(_demo_run(time.time() - history), exporter.run_nodes))
        exporter.register_process_collectors()
        log.info("demo replaying bundled session stats", extra={"directory": str(directory)})

        async def both() -> None:
            writer = asyncio.create_task(replay.run(history=history))
            try:
                await serve(exporter, host, port)  # returns on SIGTERM/SIGINT; the replay never ends by itself
            finally:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer

        _run(both(), listen_address)


@cli.command("slowest-blocks")
@click.argument("logs", nargs=-1, metavar="[NODE=]PATH|GLOB|DIR...")
@config_option(
    "Read the text logs the configuration names (local, or fetched over SSH from every node at once) besides LOGS."
)
@click.option("--top", type=click.IntRange(1), default=10, show_default=True, help="How many blocks to list.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table: for a terminal; json: everything (slowest blocks with stages, by type, signatures); csv: the "
    "slowest blocks, one row per block and (type, called_from).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress on stderr while fetching over SSH (default: on a terminal) and while reading (default: for "
    "inputs of 16 MiB or more; drawn on a terminal only).",
)
def slowest_blocks_command(
    logs: tuple[str, ...], config_file: Path | None, top: int, output_format: str, progress: bool | None
) -> None:
    """Rank blocks by broadcast time (first compression start to last decompression end, over all nodes) from the
    Broadcast_benchmark lines of td text logs of many nodes, with per-stage breakdowns and the op/compression
    signatures blocks went through. LOGS are files, globs or directories, as for `serve --text-log`."""
    patterns = [parse_source(spec, None, "text_log") for spec in logs]
    with tempfile.TemporaryDirectory(prefix="ton-exporter-fetch-") as spool:
        if config_file is not None:
            config = _load_config(config_file)
            patterns += _config_text_logs(config, Path(spool), progress)
        if not patterns:
            fail("Missing argument 'LOGS' (or --config) (see 'ton-exporter slowest-blocks --help')")
        click.echo(slowest_blocks.run(patterns, top=top, output_format=output_format, progress=progress), nl=False)


def _config_text_logs(config: ExporterConfig, spool: Path, progress: bool | None) -> list[SourcePattern]:
    patterns = [parse_source(spec, None, "text_log") for spec in config.text_logs]
    if config.ssh is not None:
        shown = progress if progress is not None else sys.stderr.isatty()
        status = FetchStatus(len(config.ssh.nodes)) if shown else None
        try:
            patterns += asyncio.run(fetch_once(config.ssh, spool, progress=status or (lambda *_: None)))
        except ConnectError as e:
            fail(f"cannot fetch the text logs: {e}")
        if status is not None:
            status.finish()
    return patterns


class FetchStatus:
    """One status line on stderr while text logs are fetched over SSH: MiB fetched, MiB to go, hosts done."""

    def __init__(self, hosts: int) -> None:
        self.hosts, self.fetched, self.behind, self.done = hosts, 0, dict[str, int](), set[str]()

    def __call__(self, node: str, fetched: int, behind: int) -> None:
        self.fetched += fetched
        self.behind[node] = behind
        if not behind:
            self.done.add(node)
        click.echo(f"\r{self._line()}", nl=False, err=True)

    def _line(self) -> str:
        to_go = sum(self.behind.values()) / 2**20
        return (
            f"fetching text logs over SSH: {self.fetched / 2**20:.1f} MiB fetched, {to_go:.1f} MiB to go, "
            f"{len(self.done)}/{self.hosts} hosts done"
        )

    def finish(self) -> None:
        click.echo(f"\r{self._line()}", err=True)


def _demo_run(start: float) -> RunRegistry:
    """The demo's run: one that never ends, as in testnet mode."""
    registry = RunRegistry(None)
    metadata = {"description": "bundled real session stats of a 2-validator network, replayed", "nodes": 2}
    registry.keep_running(new_run({"run_id": "demo", "metadata": metadata}, start))
    return registry


cli.add_command(logging_options(daemon_command))
cli.add_command(run_group)
cli.add_command(backfill_command)
cli.add_command(compare_command)


def _load_config(path: Path) -> ExporterConfig:
    try:
        config = load_config(path)
    except ConfigError as e:
        fail(str(e))
    return config


def _refuse_conflicts(session_logs: tuple[str, ...], text_logs: tuple[str, ...], node: str | None) -> None:
    """Options that cannot both hold are refused, never silently resolved: one path read as two formats, or
    --node beside a NODE= that names another node."""
    paths = {spec.split("=", 1)[-1] for spec in session_logs} & {spec.split("=", 1)[-1] for spec in text_logs}
    if paths:
        fail(f"{sorted(paths)[0]} is given as --session-logs and as --text-log: a file is one or the other")
    for spec in (*session_logs, *text_logs):
        named, sep, _ = spec.partition("=")
        if node is not None and sep and "/" not in named and named != node:
            fail(f"--node {node} and {spec} name different nodes: give one of them")


def _default(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) in (click.core.ParameterSource.DEFAULT, None)


def _check_source(source: SourcePattern) -> None:
    """A file in a directory that does not exist is a typo, not a file to wait for; say so at once. A source that
    matches nothing yet is waited for, and the log says so whatever its form (file, glob or directory)."""
    kind = source.kind
    if kind == "file" and source.spec.endswith("/"):  # DIR/ names a directory, never a file called DIR
        fail(f"directory {source.spec} does not exist")
    if kind == "file":
        path = Path(source.spec)
        if not path.parent.is_dir():
            fail(f"{path}: directory {path.parent} does not exist")
        if not path.exists():
            log.warning("file does not exist yet; waiting for it", extra={"file": str(path)})
    elif kind == "glob" and not source.candidates():
        log.warning("pattern matches no file yet; waiting", extra={"pattern": source.spec})
    elif kind == "dir" and not source.candidates():
        log.warning(
            "directory holds no file yet; waiting (subdirectories are not searched: name their files, "
            "e.g. DIR/*/session-logs)",
            extra={"directory": source.spec},
        )


def _run(main: "asyncio.Future[object] | object", listen_address: str) -> None:
    try:
        asyncio.run(main)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        pass
    except socket.gaierror as e:  # an unresolvable host or a malformed address (256.1.1.1)
        fail(f"cannot listen on {listen_address}: {e.strerror}")
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            fail(f"cannot listen on {listen_address}: {e.strerror}")
        raise


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.format_message())
        sys.exit(2)
    except click.UsageError as e:
        command = e.ctx.command_path if e.ctx else "ton-exporter"
        fail(f"{e.format_message()} (see '{command} --help')")
    except click.ClickException as e:
        fail(e.format_message())
