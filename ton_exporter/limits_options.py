"""The `--limits.*` flags of `serve`, gathered into one `Limits` (aggregation/limits.py, docs/series-bounds.md)."""

import functools
from collections.abc import Callable
from typing import Any

import click

from ton_exporter.aggregation import limits as lim


def _workchains(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        found = tuple(sorted({int(part) for part in value.split(",") if part.strip()}))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers") from None
    if not found:
        raise click.BadParameter("at least one workchain")
    return found


def limits_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the flags and hands the command one `limits` argument."""

    @functools.wraps(command)  # keeps the options decorated below (click keeps them in __dict__)
    def wrapped(**kwargs: Any) -> Any:
        kwargs["limits"] = lim.Limits(
            workchains=kwargs.pop("limit_workchains"),
            max_shard_depth=kwargs.pop("limit_shard_depth"),
            max_shards_per_node=kwargs.pop("limit_shards"),
            max_label_values=kwargs.pop("limit_label_values"),
            idle_timeout=kwargs.pop("limit_idle_timeout"),
        )
        return command(**kwargs)

    options = [
        click.option(
            "--limits.workchains",
            "limit_workchains",
            default=",".join(map(str, lim.DEFAULT_WORKCHAINS)),
            show_default=True,
            callback=_workchains,
            help="Workchains whose records are used; others are rejected (reason bad_workchain).",
        ),
        click.option(
            "--limits.max-shard-depth",
            "limit_shard_depth",
            type=click.IntRange(0, 60),
            default=lim.DEFAULT_MAX_SHARD_DEPTH,
            show_default=True,
            help="Deepest shard prefix accepted (2^depth shards per workchain); deeper ids are rejected (bad_shard).",
        ),
        click.option(
            "--limits.max-shards-per-node",
            "limit_shards",
            type=click.IntRange(1),
            default=lim.DEFAULT_MAX_SHARDS_PER_NODE,
            show_default=True,
            help='Live (workchain, shard) groups per node; new shards past it count under shard="overflow".',
        ),
        click.option(
            "--limits.max-label-values",
            "limit_label_values",
            type=click.IntRange(1),
            default=lim.DEFAULT_MAX_LABEL_VALUES,
            show_default=True,
            help='Distinct values per node of other labels from the data (text-log component); past it: "other".',
        ),
        click.option(
            "--limits.idle-timeout",
            "limit_idle_timeout",
            type=click.FloatRange(1),
            default=lim.DEFAULT_IDLE_TIMEOUT_SECONDS,
            show_default=True,
            metavar="SECONDS",
            help="A shard without data for this long (event time), or a node without lines (wall time), leaves "
            "/metrics; its block counts stay in tonex_retired_blocks_total.",
        ),
    ]
    decorated: Callable[..., Any] = wrapped
    for option in reversed(options):
        decorated = option(decorated)
    return decorated
