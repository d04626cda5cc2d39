"""Overview: read in ten seconds. Is the network healthy, how fast is it, who is slow.

It is opened most and must load fast, so it reads the shipped recording rules (prometheus/rules/recording.yml,
1 min rates, 5 min quantiles) instead of computing rates and quantiles over raw series."""

from dashboards.common import RUN, WORKCHAIN
from dashboards.model import Dashboard, Panel, Query, Row

ALL_NODES = 'run=~"$run", workchain=~"$workchain"'


RED, GREEN = "red", "green"


def _steps(thresholds: tuple[float, ...], low_is_bad: bool) -> list[dict[str, object]]:
    """Threshold steps: rising values turn green to orange to red; with `low_is_bad` (a rate that must not stall)
    the base is red and the first threshold turns it green."""
    if low_is_bad:
        return [{"color": RED, "value": None}, *({"color": GREEN, "value": v} for v in thresholds)]
    colors = ("orange", RED)
    return [{"color": GREEN, "value": None}, *({"color": colors[i], "value": v} for i, v in enumerate(thresholds))]


def _stat(
    title: str,
    queries: tuple[Query, ...],
    unit: str,
    description: str,
    thresholds: tuple[float, ...] = (),
    *,
    low_is_bad: bool = False,
    extra: dict[str, object] | None = None,
    overrides: tuple[dict[str, object], ...] = (),
) -> Panel:
    return Panel(
        title,
        queries,
        unit,
        description,
        kind="stat",
        width=4,
        height=4,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value"},
        field_defaults={"thresholds": {"mode": "absolute", "steps": _steps(thresholds, low_is_bad)}} | (extra or {}),
        overrides=overrides,
    )


def _blocks_per_second(workchain: str = '=~"$workchain"') -> str:
    return f'max by (workchain) (workchain:tonex_accepted_blocks:max_rate1m{{run=~"$run", workchain{workchain}}})'


def _slowest(title: str, histogram: str, description: str, workchain: str, name: str) -> Panel:
    """One workchain per panel: the basechain's designed ~0.4 s wait for external messages would otherwise hide a
    node ten times slower at masterchain work."""
    selector = f'run=~"$run", workchain="{workchain}", agg="p95"'
    family = histogram.replace("tonex_", "tonex_window_", 1)
    expr = f"sort_desc(max by (node) ({family}{{{selector}}}))"
    return Panel(
        f"{title} ({name})",
        (Query(expr, "{{node}}", instant=True),),
        "s",
        description + f" Exact 95th percentile of each node's newest complete 60 s window (the worst window of the "
        f"step), {name} blocks only; the slowest node is on top.",
        kind="bargauge",
        width=8,
        options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
    )


SILENCE = "time() - max by (node) (tonex_source_last_event_timestamp_seconds)"
REPORTING = f'({SILENCE}) < 60 and on (node) tonex_node_info{{run=~"$run"}}'
KNOWN = 'count(tonex_node_info{run=~"$run"})'
OUTCOME = 'tonex_consensus_timeline_outcome{run=~"$run", workchain=~"$workchain"}'
# timestamp() reads a sample's own time only when applied to a selector: the timeline's samples carry the slot's
# start, so the newest finalized slot's start is the newest timestamp among outcomes equal to 1.
NEWEST_FINALIZED = f"max(timestamp({OUTCOME}) and {OUTCOME} == 1)"


def _fixed(name: str, color: str) -> dict[str, object]:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
    }


HEALTH = (
    _stat(
        "Since the last finalized slot",
        (Query(f"time() - {NEWEST_FINALIZED}", "since"),),
        "s",
        "The stall check: seconds since the start of the newest finalized slot any node retired (a slot retires "
        'some seconds after its finalize certificate, so a healthy chain shows 10-20 s). Empty ("stalled") when '
        "no slot was finalized in the last 5 minutes.",
        (60.0, 120.0),
        extra={"noValue": "stalled > 5 min", "color": {"mode": "thresholds"}},
    ),
    _stat(
        "Skip ratio",
        (Query(f"max(workchain:tonex_consensus_skipped_slots_per_slots:ratio_rate1m{{{ALL_NODES}}})", "skipped"),),
        "percentunit",
        "Skipped slots over all slots in the last minute, the worse workchain. Above 1% deserves a look.",
        (0.01, 0.1),
    ),
    _stat(
        "Nodes reporting",
        (
            Query(f"count({REPORTING}) or vector(0)", "reporting"),
            Query(KNOWN, "of"),
            Query(f"{KNOWN} - (count({REPORTING}) or vector(0))", "silent"),
        ),
        "short",
        "Nodes whose files brought an event in the last minute, of the nodes of the run, and the silent ones "
        "(red from 1).",
        (1.0,),
        overrides=(_fixed("reporting", "blue"), _fixed("of", "text")),
    ),
    _stat(
        "Blocks per second (master)",
        (Query(_blocks_per_second('="-1"'), "{{workchain}}"),),
        "ops",
        "Masterchain blocks accepted per second; red when none (a stalled chain).",
        (0.01,),
        low_is_bad=True,
    ),
    _stat(
        "Blocks per second (shards)",
        (Query(_blocks_per_second('="0"'), "{{workchain}}"),),
        "ops",
        "Shard blocks accepted per second; red when none (a stalled chain).",
        (0.01,),
        low_is_bad=True,
    ),
    _stat(
        "Transactions per second",
        (
            Query(
                f"sum(workchain:tonex_collated_transactions:rate1m{{{ALL_NODES}}} "
                f"/ workchain:tonex_collated_blocks:rate1m{{{ALL_NODES}}} "
                f"* on (run, workchain) group_left workchain:tonex_accepted_blocks:max_rate1m{{{ALL_NODES}}})",
                "transactions",
            ),
        ),
        "ops",
        "Transactions of accepted blocks: accepted blocks per second times the transactions per collated block "
        "(collated candidates that are never accepted do not count; rows carry no accepted transaction count).",
    ),
    *(
        _stat(
            f"Slot end-to-end p95 ({name})",
            (Query(f'max(workchain:tonex_consensus_slot_seconds:p95_rate5m{{run=~"$run", workchain="{wc}"}})', name),),
            "s",
            f"From a slot's first event to its finalize certificate, 95th percentile over 5 min, {name} slots.",
            (0.5, 2.0),
        )
        for wc, name in (("-1", "masterchain"), ("0", "basechain"))
    ),
    _stat(
        "Skipped slots per second",
        (Query(f"sum(workchain:tonex_consensus_skipped_slots:max_rate1m{{{ALL_NODES}}})", "skipped"),),
        "ops",
        "Slots that got a skip certificate. Anything above 0 deserves a look.",
        (0.001, 0.1),
    ),
)

RUN_NODES = 'and on (node) group by (node) (tonex_node_info{run=~"$run"})'

OVERVIEW = (
    Panel(
        "Blocks per second",
        (Query(_blocks_per_second(), "{{workchain}}"),),
        "ops",
        "Blocks accepted per second, by workchain (the most complete node's count).",
        width=8,
        catalogue_id="THR-01",
    ),
    Panel(
        "Invalid blocks",
        (
            Query(
                f'sum by (node) (node_workchain_result:tonex_validated_blocks:rate1m{{{ALL_NODES}, result="invalid"}})',
                "{{node}}",
            ),
        ),
        "ops",
        "Candidates found invalid: a consensus fault, 0 on a healthy network.",
        width=8,
    ),
    Panel(
        "Rejected lines",
        (
            Query(
                f"sum by (node) (rate(tonex_source_lines_rejected_total[$__rate_interval])) {RUN_NODES}",
                "{{node}}",
            ),
        ),
        "ops",
        "Lines of the run's nodes the exporter could not use (a format or exporter problem, not a consensus one).",
        width=8,
    ),
)

WHO_IS_SLOW = tuple(
    _slowest(title, histogram, description, wc, name)
    for wc, name in (("-1", "masterchain"), ("0", "basechain"))
    for title, histogram, description in (
        ("Collation p95 by node", "tonex_collation_total_seconds", "Collation total_time."),
        ("Validation p95 by node", "tonex_validation_total_seconds", "Validation total_time."),
        ("Notarization p95 by node", "tonex_consensus_notarization_seconds", "Candidate received to notarized."),
    )
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
