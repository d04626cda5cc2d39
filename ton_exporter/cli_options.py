"""Command-line options shared by `serve`, `demo` and `daemon`."""

from collections.abc import Callable

import click
from click.decorators import FC


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
