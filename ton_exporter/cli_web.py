"""The HTTP edge's command-line options (`--web.config.file`, `--web.max-connections`), as Prometheus's exporters
spell them; docs/http-edge.md describes the file and the limits."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ton_exporter.exposition.http_server import Limits
from ton_exporter.exposition.web_config import WebConfig, WebConfigError, load_web_config


def web_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--web.max-connections",
        "max_connections",
        type=click.IntRange(8),
        default=Limits.max_connections,
        show_default=True,
        help="Cap on open HTTP connections (lowered to fit the file-descriptor limit); at the cap the oldest "
        "idle connection is closed to admit a new one.",
    )(f)
    return click.option(
        "--web.config.file",
        "web_config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="exporter-toolkit web configuration: TLS (and client certificates), basic auth users, headers.",
    )(f)


def load_web(path: Path | None) -> WebConfig:
    try:
        return load_web_config(path)
    except WebConfigError as e:
        raise click.UsageError(f"--web.config.file {path}: {e}") from None
