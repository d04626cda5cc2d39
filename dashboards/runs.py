"""Runs: the old run tracker's table, one row per run the exporter keeps, each linking to the performance dashboards
on its own time range and `$run`.

Blocks per second are the run's masterchain blocks accepted over its duration (`tonex_run_accepted_blocks`, kept
by the exporter with the run, over `tonex_run_duration_seconds`): one instant query, no recording rule, and still
right after the run's per-node series are gone.
"""

from collections.abc import Sequence
from typing import Any

from dashboards.model import Dashboard, Panel, Query, Row

BY_RUN = "max by (run) "
# a live run has no end yet: its links end now
LINK_END = (
    "(max by (run) (tonex_run_end_timestamp_seconds) or max by (run) (0 * tonex_run_start_timestamp_seconds + time()))"
)

COLUMNS: tuple[tuple[str, str], ...] = (
    ("info", "max by (run, description, branch, commit) (tonex_run_info)"),
    ("nodes", BY_RUN + "(tonex_run_nodes)"),
    ("start", BY_RUN + "(tonex_run_start_timestamp_seconds) * 1000"),
    ("end", BY_RUN + "(tonex_run_end_timestamp_seconds) * 1000"),
    ("duration", BY_RUN + "(tonex_run_duration_seconds)"),
    (
        "blocks/s",
        BY_RUN + '(tonex_run_accepted_blocks{workchain="-1"}) / ' + BY_RUN + "(tonex_run_duration_seconds)",
    ),
    ("status", BY_RUN + "(tonex_run_active)"),
    ("link_from", BY_RUN + "(tonex_run_start_timestamp_seconds) * 1000"),
    ("link_to", LINK_END + " * 1000"),
)


def _override(field: str, *properties: tuple[str, Any]) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [{"id": key, "value": value} for key, value in properties],
    }


def _links(targets: Sequence[Dashboard]) -> list[dict[str, Any]]:
    return [
        {
            "title": f"{d.title}: this run",
            "url": f"/d/{d.uid}?var-run=${{__data.fields.run}}&from=${{__data.fields.link_from}}"
            "&to=${__data.fields.link_to}",
        }
        for d in targets
    ]


def _runs_table(targets: Sequence[Dashboard]) -> Panel:
    live = {
        "type": "value",
        "options": {
            "1": {"text": "● live", "color": "green", "index": 0},
            "0": {"text": "finished", "color": "transparent", "index": 1},
        },
    }
    return Panel(
        "Runs",
        tuple(Query(expr, name, instant=True, table=True) for name, expr in COLUMNS),
        "none",
        "One row per run kept (newest first): description, git branch and commit, node count, start, end, duration, "
        "masterchain blocks per second (blocks accepted during the run over its duration), and status; live runs "
        "are marked. Click a run to open the performance dashboards on its time range with $run set to it.",
        kind="table",
        width=24,
        height=14,
        options={"showHeader": True, "cellHeight": "sm", "sortBy": [{"displayName": "start", "desc": True}]},
        overrides=(
            _override("run", ("links", _links(targets))),
            _override("start", ("unit", "dateTimeAsIso")),
            _override("end", ("unit", "dateTimeAsIso")),
            _override("duration", ("unit", "s")),
            _override("blocks/s", ("unit", "none"), ("decimals", 2)),
            _override("status", ("mappings", [live]), ("custom.cellOptions", {"type": "color-background"})),
            # the link's ends: epoch milliseconds as plain digits (a field's link value is its display text)
            _override("link_from", ("custom.hidden", True), ("unit", "none"), ("decimals", 0)),
            _override("link_to", ("custom.hidden", True), ("unit", "none"), ("decimals", 0)),
        ),
        transformations=(
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "Value #A": True, "job": True, "instance": True},
                    "indexByName": {"run": 0, "description": 1, "branch": 2, "commit": 3},
                    "renameByName": {f"Value #{chr(65 + i)}": name for i, (name, _) in enumerate(COLUMNS)},
                },
            },
        ),
    )


def _blocks_per_second() -> Panel:
    return Panel(
        "Masterchain blocks per second, by run",
        (
            Query(
                'max by (run) (rate(tonex_accepted_blocks_total{workchain="-1"}[$__rate_interval]))',
                "{{run}}",
            ),
        ),
        "ops",
        "Blocks accepted per second on the masterchain, the most any node of the run accepted; a live run's line "
        "goes on to now.",
        width=24,
    )


def dashboard(targets: Sequence[Dashboard]) -> Dashboard:
    return Dashboard(
        uid="ton-runs",
        title="TON runs",
        folder="TON",
        description="Test runs registered with the monitoring daemon (the old run tracker): one row per run, "
        "linking to the performance dashboards on the run's time range.",
        variables=(),
        rows=(Row("Runs", (_runs_table(targets), _blocks_per_second())),),
        time_from="now-7d",
    )
