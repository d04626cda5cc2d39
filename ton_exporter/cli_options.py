"""Command-line options shared by the commands (serve, demo, daemon, backfill, slowest-blocks, run): each defined
once, so that the same flag means and checks the same everywhere."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import click
from click.decorators import FC

from ton_exporter.aggregation.event_clock import DEFAULT_LATENESS_SECONDS
from ton_exporter.sources.line_splitter import DEFAULT_MAX_LINE_BYTES


def logging_options(f: FC) -> FC:
    f = click.option(
        "--log.level",
        "log_level",
        type=click.Choice(["debug", "info", "warning", "error"]),
        default="info",
        show_default=True,
        help="Lowest level of the exporter's own log messages.",
    )(f)
    return click.option(
        "--log.format",
        "log_format",
        type=click.Choice(["logfmt", "json"]),
        default="logfmt",
        show_default=True,
        help="Format of the exporter's own log (stderr).",
    )(f)


def polling_options(no_inotify_help: str) -> Callable[[FC], FC]:
    """--poll-interval and --no-inotify."""

    def decorate(f: FC) -> FC:
        f = click.option(
            "--poll-interval",
            type=click.FloatRange(0.01, 60),
            default=0.1,
            show_default=True,
            metavar="SECONDS",
            help="How often files are checked when change notification (inotify) is unavailable or turned off.",
        )(f)
        return click.option("--no-inotify", is_flag=True, help=no_inotify_help)(f)

    return decorate


def path_option(*decls: str, kind: Literal["directory", "file"], help: str, **kwargs: Any) -> Callable[[FC], FC]:
    """An option naming a directory or a file, as a pathlib.Path: one type for every command."""
    path = click.Path(file_okay=kind == "file", dir_okay=kind == "directory", path_type=Path)
    return click.option(*decls, type=path, help=help, **kwargs)


def config_option(help: str) -> Callable[[FC], FC]:
    """--config FILE: the daemon's config.yaml schema (docs/fleet.md), read by serve and slowest-blocks."""
    return path_option("--config", "config_file", kind="file", metavar="FILE", help=help)


def state_dir_option(help: str) -> Callable[[FC], FC]:
    """--state.dir: where read positions and counters are saved together (serve, daemon)."""
    return path_option("--state.dir", "state_dir", kind="directory", help=help)


def source_options(session_logs_help: str, text_log_help: str) -> Callable[[FC], FC]:
    """--session-logs and --text-log, repeatable, each [NODE=]PATH|GLOB|DIR (serve, backfill)."""

    def decorate(f: FC) -> FC:
        for decl, dest, help in (
            ("--text-log", "text_logs", text_log_help),
            ("--session-logs", "session_logs", session_logs_help),
        ):
            f = click.option(decl, dest, multiple=True, metavar="[NODE=]PATH|GLOB|DIR", help=help)(f)
        return f

    return decorate


def reading_options(lateness_help: str) -> Callable[[FC], FC]:
    """--window.lateness and --max-line-bytes: how windows close and which lines are too long (serve, backfill)."""

    def decorate(f: FC) -> FC:
        f = click.option(
            "--max-line-bytes",
            type=click.IntRange(1024),
            default=DEFAULT_MAX_LINE_BYTES,
            show_default=True,
            help="Longer lines are dropped and counted as rejected (reason oversize_line).",
        )(f)
        return click.option(
            "--window.lateness",
            "lateness",
            type=click.FloatRange(0, 600),
            default=DEFAULT_LATENESS_SECONDS,
            show_default=True,
            metavar="SECONDS",
            help=lateness_help,
        )(f)

    return decorate
