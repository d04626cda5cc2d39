"""Consensus: slot timelines (the consensus explorer's view), phase durations, slot counts, the network view."""

from dataclasses import replace

from dashboards.common import (
    ANNOTATIONS,
    ONE_NODE,
    ONE_WORKCHAIN,
    RUN,
    SELECT,
    quantile,
    rate,
    select,
    window_avg,
    window_quantile,
)
from dashboards.model import Dashboard, Panel, Query, Row

PARTS = (("collate", "blue"), ("notarize", "orange"), ("finalize", "green"), ("accept", "purple"))
TIMELINE = "tonex_consensus_timeline_{}{{" + SELECT + "}}"


def _timeline_bars() -> Panel:
    """Each retired slot is a sample at its start time (exposition timestamps), so the raw samples of the range,
    fetched as a range vector, put one stacked bar per slot at its own time."""
    queries = tuple(
        Query(f'tonex_consensus_timeline_part_seconds{{{SELECT}, part="{part}"}}[$__range]', part, instant=True)
        for part, _ in PARTS
    )
    overrides = [
        {
            "matcher": {"id": "byName", "options": part},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for part, color in PARTS
    ]
    return Panel(
        "Slot timeline: phases of each slot",
        queries,
        "s",
        "One stacked bar per slot, at the slot's start: collate (own collation), notarize (collate end or "
        "candidate received to the notarize certificate), finalize, accept. Exported for the newest 64 retired "
        "slots at each scrape; every slot is kept in Prometheus at its own time.",
        width=24,
        height=10,
        bars=True,
        stacked=True,
        options={"legend": {"displayMode": "hidden", "placement": "bottom", "showLegend": False}},
        overrides=tuple(overrides),
        catalogue_id="CON-05/11/12",
    )


OUTCOMES = {
    "0": {"text": "neither", "color": "text", "index": 0},
    "1": {"text": "finalized", "color": "green", "index": 1},
    "2": {"text": "skipped", "color": "red", "index": 2},
}


def _column(name: str, unit: str, mappings: list[dict[str, object]] | None = None) -> dict[str, object]:
    """A table column that is not a duration: its own unit (slot numbers and validator indexes are plain integers,
    never seconds) and, for codes, the names they stand for."""
    properties: list[dict[str, object]] = [{"id": "unit", "value": unit}, {"id": "decimals", "value": 0}]
    if mappings:
        properties.append({"id": "mappings", "value": mappings})
        properties.append({"id": "custom.cellOptions", "value": {"type": "color-text"}})
    return {"matcher": {"id": "byName", "options": name}, "properties": properties}


def _newest_slots_table() -> Panel:
    columns = [
        ("slot", TIMELINE.format("slot")),
        ("leader", TIMELINE.format("leader")),
        ("outcome", TIMELINE.format("outcome")),
        *(
            (part, f'sum without (part) (tonex_consensus_timeline_part_seconds{{{SELECT}, part="{part}"}})')
            for part, _ in PARTS
        ),
    ]
    return Panel(
        "Newest slots",
        tuple(Query(expr, name, instant=True, table=True) for name, expr in columns),
        "s",
        "The newest 64 retired slots before the end of the time range: slot number, leader (validator index), "
        "outcome (finalized, skipped, or neither) and the duration of each part in seconds.",
        kind="table",
        overrides=(
            _column("slot", "none"),
            _column("leader", "none"),
            _column("outcome", "none", [{"type": "value", "options": OUTCOMES}]),
        ),
        width=24,
        height=10,
        transformations=(
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "__name__": True, "run": True, "shard": True},
                    "renameByName": {f"Value #{chr(65 + i)}": name for i, (name, _) in enumerate(columns)},
                },
            },
            {"id": "sortBy", "options": {"sort": [{"field": "slot", "desc": True}]}},
        ),
    )


def _phase(title: str, histogram: str, description: str, catalogue_id: str) -> Panel:
    """The selected node's phase in the newest complete 60 s window: the exact p50 and p95 of its durations, and
    their mean beside them (a p95 far above the mean is a few slow slots, not a slow minute)."""
    family = histogram.replace("tonex_", "tonex_window_", 1)
    observations = family.removesuffix("_seconds") + "_observations"
    queries: tuple[Query, ...] = (
        replace(window_quantile("p50", family, "node"), legend="p50"),
        replace(window_quantile("p95", family, "node"), legend="p95"),
        Query(window_avg(family, observations, "node"), "mean"),
    )
    text = (
        description + " Exact p50, p95 and mean of the newest complete 60 s window (shown once complete: they trail "
        "the events by up to a minute)."
    )
    # Every phase histogram's buckets name their slowest slot (aggregation/consensus.py): the histogram's p95 is
    # drawn beside the window's figures so that Grafana shows those exemplars as points.
    queries += (replace(quantile(0.95, histogram, "node"), legend="p95 over the rate interval"),)
    text += (
        " Beside them the histogram's p95 over the rate interval (now): two time bases, as the legend says. "
        "Its points are exemplars: hover one for the slowest slot of its bucket (labels block = "
        "workchain:shard:seqno and slot)."
    )
    return Panel(title, queries, "s", text, catalogue_id=catalogue_id)


def _link_avg(kind: str) -> str:
    """The average of a shard/master accept latency over the rate interval; basechain blocks (the series' label)."""
    series = f"tonex_consensus_{kind}_seconds"
    sel = select(workchain='"0"')
    return f"sum(rate({series}_sum{{{sel}}}[$__rate_interval])) / sum(rate({series}_count{{{sel}}}[$__rate_interval]))"


DASHBOARD = Dashboard(
    uid="ton-consensus",
    title="TON consensus: slots and phases",
    folder="TON",
    description="The consensus explorer's view from consensus.stats.events: slot timelines, phase durations, "
    "slot counts, and in central mode the network's weighted 2/3 phases.",
    annotations=ANNOTATIONS,
    variables=(RUN, ONE_NODE, ONE_WORKCHAIN),
    rows=(
        Row("Slot timeline", (_timeline_bars(), _newest_slots_table())),
        Row(
            "Phase durations",
            (
                _phase(
                    "Notarization",
                    "tonex_consensus_notarization_seconds",
                    "candidateReceived to the notarize certificate.",
                    "CON-11",
                ),
                _phase(
                    "Finalization",
                    "tonex_consensus_finalization_seconds",
                    "Notarize certificate to finalize certificate.",
                    "CON-12",
                ),
                _phase(
                    "Collation (consensus view)",
                    "tonex_consensus_collation_seconds",
                    "collateStarted to collateFinished, own collations.",
                    "CON-05",
                ),
                _phase(
                    "Validation",
                    "tonex_consensus_validation_seconds",
                    "validationStarted to validationFinished.",
                    "CON-09",
                ),
                _phase("Accept", "tonex_consensus_accept_seconds", "Finalize certificate to blockAccepted.", "CON-14"),
                _phase(
                    "Slot end-to-end",
                    "tonex_consensus_slot_seconds",
                    "The slot's earliest event or vote to its finalize certificate.",
                    "CON-13",
                ),
                _phase(
                    "Own notarize vote delay",
                    "tonex_consensus_notarize_vote_seconds",
                    "candidateReceived to this node's notarize vote.",
                    "CON-10",
                ),
                _phase(
                    "Between finalized slots",
                    "tonex_consensus_finalization_interval_seconds",
                    "Between the finalize certificates of consecutive finalized slots.",
                    "CON-17",
                ),
            ),
        ),
        Row(
            "Slots",
            (
                Panel(
                    "Slots per second",
                    (
                        Query(rate("tonex_consensus_slots_total", "node"), "slots"),
                        Query(rate("tonex_consensus_finalized_slots_total", "node"), "finalized"),
                        Query(rate("tonex_consensus_skipped_slots_total", "node"), "skipped"),
                        Query(rate("tonex_consensus_empty_candidates_total", "node"), "empty"),
                    ),
                    "ops",
                    "Slots seen, finalized, skipped, and empty candidates.",
                    catalogue_id="CON-01..04",
                ),
                Panel(
                    "Votes per second by type",
                    (Query(rate("tonex_consensus_votes_total", "vote"), "{{vote}}"),),
                    "ops",
                    "Slots this node voted in, by vote type (notarize, finalize, skip).",
                    catalogue_id="CON-19",
                ),
                Panel(
                    "Certificates per second by type",
                    (Query(rate("tonex_consensus_certificates_total", "vote"), "{{vote}}"),),
                    "ops",
                    "Slots with a certificate this node observed, by vote type.",
                    catalogue_id="CON-20",
                ),
                Panel(
                    "Collation drift and unfinished collations",
                    (
                        Query(rate("tonex_consensus_drifted_collations_total", "node"), "drifted"),
                        Query(rate("tonex_consensus_unfinished_collations_total", "node"), "unfinished"),
                        Query(
                            rate("tonex_consensus_unexpected_leader_collations_total", "node"),
                            "not the leader",
                        ),
                    ),
                    "ops",
                    "Collations that finished in another slot than they started, collateStarted never finished, "
                    "and collations of slots whose leader is another validator.",
                    catalogue_id="CON-06/07",
                ),
                Panel(
                    "Consensus sessions started",
                    (
                        Query(
                            rate("tonex_consensus_events_total", "node", 'type="consensus.stats.id"'),
                            "sessions",
                        ),
                    ),
                    "ops",
                    "consensus.stats.id events: the first batch of each session this node took part in.",
                    catalogue_id="CON-27",
                ),
                Panel(
                    "Collations per leader index",
                    (Query(rate("tonex_consensus_collations_total", "leader_idx"), "validator {{leader_idx}}"),),
                    "ops",
                    "Own collations by the collator's validator index; a slot collated by a node that is not its "
                    "leader counts in tonex_consensus_unexpected_leader_collations_total.",
                    catalogue_id="CON-18",
                ),
                Panel(
                    "Collation delegation",
                    (
                        Query(
                            rate("tonex_consensus_delegated_collations_total", "leader_idx"),
                            "collated for validator {{leader_idx}}",
                        ),
                        Query(rate("tonex_consensus_delegated_leader_slots_total", "node"), "own slots delegated"),
                    ),
                    "ops",
                    "A dedicated collator node (idx -1, upstream's collators branch) collates for the leaders that "
                    "delegated their windows: its collations by the delegating leader's index (never counted as "
                    "an unexpected leader's); and this validator's own leader slots that another node collated.",
                ),
            ),
        ),
        Row(
            "Network view (central mode: every node's file in one exporter)",
            (
                Panel(
                    "Weighted 2/3 phases",
                    (
                        Query(
                            "histogram_quantile(0.95, sum by (le, phase) (rate(tonex_consensus_network_phase_"
                            'seconds_bucket{run=~"$run", workchain=~"$workchain"}[$__rate_interval])))',
                            "p95 {{phase}}",
                        ),
                        Query(
                            "histogram_quantile(0.5, sum by (le, phase) (rate(tonex_consensus_network_phase_"
                            'seconds_bucket{run=~"$run", workchain=~"$workchain"}[$__rate_interval])))',
                            "p50 {{phase}}",
                        ),
                    ),
                    "s",
                    "notarize: leader's collateFinished to the moment notarize votes of 2/3 of the weight exist; "
                    "finalize: from there to 2/3 of the finalize votes.",
                    width=24,
                    catalogue_id="CON-15/16",
                ),
                Panel(
                    "Candidate propagation",
                    (
                        Query(
                            'sum(rate(tonex_consensus_network_propagation_seconds_sum{run=~"$run", '
                            'workchain=~"$workchain"}[$__rate_interval])) / sum(rate(tonex_consensus_network_'
                            'propagation_seconds_count{run=~"$run", workchain=~"$workchain"}[$__rate_interval]))',
                            "avg",
                        ),
                    ),
                    "s",
                    "The producer's own candidateReceived (is_collator=true) to each other node's candidateReceived "
                    "of the slot: how long a candidate takes to reach the other validators. Machines' clocks differ "
                    "(NTP): a receipt before the production is left out. The catalogue's max is not drawn: the network "
                    "view keeps a histogram (tonex_consensus_network_propagation_seconds), whose buckets bound it.",
                    width=24,
                    catalogue_id="CON-08",
                ),
            ),
        ),
        Row(
            "Shard and masterchain: accept latencies (this node's accept times)",
            (
                Panel(
                    "Shard→master and master→shard latency",
                    (
                        Query(_link_avg("shard_to_master"), "shard→master avg"),
                        Query(_link_avg("master_to_shard"), "master→shard avg"),
                    ),
                    "s",
                    "shard→master: a masterchain block's accept time minus the accept time of each basechain block it "
                    "newly includes (its shard_configuration against the previous masterchain block's); "
                    "master→shard: a basechain block's accept time minus that of the masterchain block its collation "
                    "is based on (mc_block_id). Both times are this node's own blockAccepted (no clocks compared). "
                    "The rows saying what a block includes exist only on its collator: with one node's file, only "
                    "the pairs it collated; central mode (every node's file in one exporter) gives them all. "
                    "The catalogue's min and max are not drawn: histograms bound them by their buckets.",
                    width=24,
                    catalogue_id="CON-21/22",
                ),
            ),
        ),
    ),
)
