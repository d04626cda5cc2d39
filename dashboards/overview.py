"""Overview: read in ten seconds. Is the network healthy, how fast is it, who is slow.

It is opened most and must load fast, so it reads the shipped recording rules (prometheus/rules/recording.yml,
1 min rates, 5 min quantiles) instead of computing rates and quantiles over raw series."""

from dashboards.common import RUN, WORKCHAIN
from dashboards.model import Dashboard, Panel, Query, Row

ALL_NODES = 'run=~"$run", workchain=~"$workchain"'


def _stat(title: str, expr: str, unit: str, description: str, thresholds: tuple[float, ...] = ()) -> Panel:
    steps: list[dict[str, object]] = [{"color": "green", "value": None}]
    colors = ("orange", "red")
    steps += [{"color": colors[i], "value": v} for i, v in enumerate(thresholds)]
    return Panel(
        title,
        (Query(expr, "{{workchain}}"),),
        unit,
        description,
        kind="stat",
        width=4,
        height=4,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value"},
        field_defaults={"thresholds": {"mode": "absolute", "steps": steps}},
    )


def _blocks_per_second(workchain: str = '=~"$workchain"') -> str:
    return f'max by (workchain) (workchain:tonex_accepted_blocks:max_rate1m{{run=~"$run", workchain{workchain}}})'


def _slowest(title: str, histogram: str, description: str) -> Panel:
    expr = f"sort_desc(max by (node) (node_workchain:{histogram}:p95_rate5m{{{ALL_NODES}}}))"
    return Panel(
        title,
        (Query(expr, "{{node}}", instant=True),),
        "s",
        description + " 95th percentile over 5 min, the worst workchain; the slowest node is on top.",
        kind="bargauge",
        width=8,
        options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
    )


HEALTH = (
    _stat(
        "Nodes reporting",
        "count((time() - max by (node) (tonex_source_last_event_timestamp_seconds)) < 60 "
        'and on (node) tonex_node_info{run=~"$run"})',
        "short",
        "Nodes whose files brought an event in the last minute.",
    ),
    _stat(
        "Blocks per second (master)",
        _blocks_per_second('="-1"'),
        "ops",
        "Masterchain blocks accepted per second.",
    ),
    _stat(
        "Blocks per second (shards)",
        _blocks_per_second('="0"'),
        "ops",
        "Shard blocks accepted per second.",
    ),
    _stat(
        "Transactions per second",
        f"sum(workchain:tonex_collated_transactions:rate1m{{{ALL_NODES}}})",
        "ops",
        "Transactions of collated blocks, all workchains.",
    ),
    _stat(
        "Slot end-to-end p95",
        f"max(workchain:tonex_consensus_slot_seconds:p95_rate5m{{{ALL_NODES}}})",
        "s",
        "From a slot's first event to its finalize certificate, 95th percentile over 5 min, the worst workchain.",
        (0.5, 2.0),
    ),
    _stat(
        "Skipped slots per second",
        f"sum(workchain:tonex_consensus_skipped_slots:max_rate1m{{{ALL_NODES}}})",
        "ops",
        "Slots that got a skip certificate. Anything above 0 deserves a look.",
        (0.001, 0.1),
    ),
)

OVERVIEW = (
    Panel(
        "Blocks per second",
        (Query(_blocks_per_second(), "{{workchain}}"),),
        "ops",
        "Blocks accepted per second, by workchain (the most complete node's count).",
        width=12,
        catalogue_id="THR-01",
    ),
    Panel(
        "Invalid blocks and rejected lines",
        (
            Query(
                f'sum by (node) (node_workchain_result:tonex_validated_blocks:rate1m{{{ALL_NODES}, result="invalid"}})',
                "invalid {{node}}",
            ),
            Query(
                'sum by (node) (rate(tonex_source_lines_rejected_total{node=~".*"}[$__rate_interval]))',
                "rejected lines {{node}}",
            ),
        ),
        "ops",
        "Candidates found invalid, and lines the exporter could not use. Both are 0 on a healthy network.",
        width=12,
    ),
)

WHO_IS_SLOW = (
    _slowest("Collation p95 by node", "tonex_collation_total_seconds", "Collation total_time."),
    _slowest("Validation p95 by node", "tonex_validation_total_seconds", "Validation total_time."),
    _slowest("Notarization p95 by node", "tonex_consensus_notarization_seconds", "Candidate received to notarized."),
)

DASHBOARD = Dashboard(
    uid="ton-overview",
    title="TON overview",
    folder="TON",
    description="Is the network healthy, how fast is it, who is slow. Start here; the other dashboards drill down.",
    variables=(RUN, WORKCHAIN),
    rows=(Row("Health and speed", HEALTH), Row("Throughput", OVERVIEW), Row("Who is slow", WHO_IS_SLOW)),
    links=(
        {
            "type": "dashboards",
            "tags": ["ton"],
            "asDropdown": True,
            "title": "TON dashboards",
            "includeVars": True,
            "keepTime": True,
        },
    ),
)
