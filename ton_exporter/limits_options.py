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


# The numeric bounds: (flag, parameter, type, default, metavar, help), in the order --help lists them.
_BOUNDS: tuple[tuple[str, str, click.IntRange | click.FloatRange, float, str | None, str], ...] = (
    (
        "--limits.max-shard-depth",
        "limit_shard_depth",
        click.IntRange(0, 60),
        lim.DEFAULT_MAX_SHARD_DEPTH,
        None,
        "Deepest shard prefix accepted (2^depth shards per workchain); deeper ids are rejected (bad_shard).",
    ),
    (
        "--limits.max-shards-per-node",
        "limit_shards",
        click.IntRange(1),
        lim.DEFAULT_MAX_SHARDS_PER_NODE,
        None,
        'Live (workchain, shard) groups per node; new shards past it count under shard="overflow".',
    ),
    (
        "--limits.max-label-values",
        "limit_label_values",
        click.IntRange(1),
        lim.DEFAULT_MAX_LABEL_VALUES,
        None,
        'Distinct values per node of other labels from the data (text-log component); past it: "other".',
    ),
    (
        "--limits.idle-timeout",
        "limit_idle_timeout",
        click.FloatRange(1),
        lim.DEFAULT_IDLE_TIMEOUT_SECONDS,
        "SECONDS",
        "A shard without data for this long (event time), or a node without lines (wall time), leaves "
        "/metrics; its block counts stay in tonex_retired_blocks_total.",
    ),
)


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
        *(
            click.option(flag, dest, type=kind, default=default, show_default=True, metavar=metavar, help=help)
            for flag, dest, kind, default, metavar, help in _BOUNDS
        ),
    ]
    decorated: Callable[..., Any] = wrapped
    for option in reversed(options):
        decorated = option(decorated)
    return decorated
