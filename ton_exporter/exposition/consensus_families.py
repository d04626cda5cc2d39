"""Consensus families: event counts, slot counts, phase histograms and windows, the network view, timelines.

Slot timelines. Per (node, workchain, shard) the newest 64 retired slots are exported as gauges whose `position`
label is the slot number modulo 64, each sample stamped with the slot's start time (OpenMetrics/text exposition
timestamps). The series are a fixed set (64 per part per group), so there is no churn however many slots go by:
64 x (4 parts + slot number + leader + outcome) = 448 series per group. Prometheus stores each slot once, at its
own time; a slot survives between two scrapes as long as 64 slots take longer than the scrape interval (25 s at the
test network's 0.4 s per slot, against 15 s scrapes). A backfill can write the same series from a finished run, so
live and backfilled timelines look alike. Samples older than Prometheus's head block (a finished file read from
its start) are refused by Prometheus, which counts them; backfilling is the way to load those.
"""

from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ton_exporter.aggregation.block_groups import summarize
from ton_exporter.aggregation.consensus import TIMELINE_SLOTS, ConsensusGroup
from ton_exporter.aggregation.measures import AMMSQ
from ton_exporter.aggregation.network import NETWORK_PHASES
from ton_exporter.aggregation.node import NodeState
from ton_exporter.aggregation.slots import PHASES, TimelineEntry
from ton_exporter.exposition.histogram import Histogram
from ton_exporter.exposition.names import (
    BASE_LABELS,
    NAMESPACE,
    aggregate,
    cumulative_buckets,
    with_slot_exemplars,
)
from ton_exporter.parsers import consensus_events as ce

NS = NAMESPACE
AGGS = AMMSQ  # avg, min, max, sum and the exact p50, p95, p99 of the window's values
TIMELINE_PARTS = ("collate", "notarize", "finalize", "accept")

PHASE_HELP = {
    "collation": "Own collations: collateStarted to collateFinished (or collatedEmpty) of the same target slot.",
    "validation": "validationStarted to validationFinished.",
    "received_to_validated": "candidateReceived to validationFinished.",
    "notarize_vote": "candidateReceived to this node's notarize vote.",
    "finalize_vote": "Notarize certificate to this node's finalize vote.",
    "notarization": "candidateReceived to the notarize certificate.",
    "finalization": "Notarize certificate to finalize certificate.",
    "accept": "Finalize certificate to blockAccepted.",
    "slot": "Slot start (its earliest event or vote) to the finalize certificate.",
    "finalization_interval": "Between the finalize certificates of consecutive finalized slots.",
}

COUNTERS = {
    "slots": ("consensus_slots", "Slots seen: a candidate received or a skip certificate."),
    "finalized": ("consensus_finalized_slots", "Slots with a finalize certificate."),
    "skipped": ("consensus_skipped_slots", "Slots with a skip certificate."),
    "empty": ("consensus_empty_candidates", "Empty candidates (collatedEmpty, or an empty block received)."),
    "unexpected_collator": (
        "consensus_unexpected_leader_collations",
        "Own collations of slots whose leader (slot / slots_per_leader_window % validators) is another node.",
    ),
    "unfinished_collations": (
        "consensus_unfinished_collations",
        "Own collations started (collateStarted) whose slot retired without a collateFinished or collatedEmpty.",
    ),
    "delegated_leader_slots": (
        "consensus_delegated_leader_slots",
        "Slots of this validator's own leader windows that another node collated (candidateReceived with "
        "is_collator=false and no own collateStarted/collateFinished): delegated to a dedicated collator.",
    ),
    "drifted_collations": (
        "consensus_drifted_collations",
        "Own collations whose candidate is of another slot than their target slot (collateFinished id.slot).",
    ),
}


def consensus_families(nodes: Sequence[NodeState]) -> Iterator[Metric]:
    groups = [
        ([node.name, node.run, wc, shard], group, node.complete_window())
        for node in nodes
        for (wc, shard), group in sorted(node.consensus.groups.items())
    ]
    yield from _event_counts(groups)
    yield from _slot_counts(groups)
    yield from _phases(groups, PHASES, "consensus", BASE_LABELS)
    yield from _timeline(groups)


def consensus_node_families(nodes: Sequence[NodeState]) -> Iterator[Metric]:
    unidentified = GaugeMetricFamily(
        f"{NS}_consensus_unidentified_sessions",
        "Consensus sessions seen without their first batch (no consensus.stats.id): workchain unknown.",
        labels=["node"],
    )
    rejected = CounterMetricFamily(
        f"{NS}_consensus_events_rejected",
        "Events skipped inside valid batches (malformed, or lacking what their type needs), by reason.",
        labels=["node", "reason"],
    )
    for node in nodes:
        unidentified.add_metric([node.name], len(node.consensus.unidentified))
        for reason in ("missing_field", "bad_field", "bad_session_id"):
            rejected.add_metric([node.name, reason], node.consensus.rejected_events[reason])
    yield unidentified
    yield rejected


def network_families(networks: Sequence[tuple[str, dict[tuple[str, str], ConsensusGroup]]]) -> Iterator[Metric]:
    """The weighted 2/3 phases, when one exporter reads several nodes of a session (aggregation/network.py); one
    network view per run still exported."""
    groups = [
        ([run, wc, shard], group, None) for run, network in networks for (wc, shard), group in sorted(network.items())
    ]
    labels = ["run", "workchain", "shard"]
    hist = Histogram(
        f"{NS}_consensus_network_phase_seconds",
        "Network view (central mode): notarize = leader's collateFinished to the weighted 2/3 of notarize votes; "
        "finalize = notarize reached to the weighted 2/3 of finalize votes.",
        labels=[*labels, "phase"],
    )
    propagation = Histogram(
        f"{NS}_consensus_network_propagation_seconds",
        "Network view (central mode): the producer's own candidateReceived to each other node's candidateReceived "
        "of the slot (one observation per receiving node; cross-machine clocks).",
        labels=labels,
    )
    for values, group, _ in groups:
        for phase in NETWORK_PHASES:
            d = group.phases.get(phase)
            if d is not None:
                hist.add_metric([*values, phase], cumulative_buckets(d.bounds, d.counts), d.sum)
        d = group.phases.get("propagation")
        if d is not None:
            propagation.add_metric(values, cumulative_buckets(d.bounds, d.counts), d.sum)
    yield hist
    yield propagation


Group = tuple[list[str], ConsensusGroup, int | None]


def _event_counts(groups: list[Group]) -> Iterator[Metric]:
    events = CounterMetricFamily(
        f"{NS}_consensus_events", "Consensus events read, by @type.", labels=[*BASE_LABELS, "type"]
    )
    accepted = CounterMetricFamily(
        f"{NS}_accepted_blocks",
        "Blocks accepted after finalization (consensus blockAccepted; counted when the slot retires).",
        labels=BASE_LABELS,
    )
    votes = CounterMetricFamily(
        f"{NS}_consensus_votes",
        "Slots this node voted in, by vote type (counted when the slot retires).",
        labels=[*BASE_LABELS, "vote"],
    )
    certs = CounterMetricFamily(
        f"{NS}_consensus_certificates",
        "Slots with a certificate this node observed, by vote type (counted when the slot retires).",
        labels=[*BASE_LABELS, "vote"],
    )
    accepted_w = GaugeMetricFamily(
        f"{NS}_window_accepted_blocks", "Blocks accepted in the window shown (see docs).", labels=BASE_LABELS
    )
    votes_w = GaugeMetricFamily(
        f"{NS}_window_consensus_votes", "Votes signed in the window shown.", labels=[*BASE_LABELS, "vote"]
    )
    certs_w = GaugeMetricFamily(
        f"{NS}_window_consensus_certificates",
        "Certificates observed in the window shown.",
        labels=[*BASE_LABELS, "vote"],
    )
    vote_types = tuple(ce.VOTE_TYPES.values())
    for labels, group, shown in groups:
        for kind in (*ce.EVENT_TYPES, ce.UNKNOWN):
            if kind != ce.UNKNOWN or group.events[kind]:
                events.add_metric([*labels, kind], group.events[kind])
        accepted.add_metric(labels, group.counts["accepted"])
        counts = group.windows.get(shown) if shown is not None else None
        accepted_w.add_metric(labels, counts["accepted"] if counts else 0)
        for vote in vote_types:
            votes.add_metric([*labels, vote], group.counts["vote:" + vote])
            certs.add_metric([*labels, vote], group.counts["cert:" + vote])
            votes_w.add_metric([*labels, vote], counts["vote:" + vote] if counts else 0)
            certs_w.add_metric([*labels, vote], counts["cert:" + vote] if counts else 0)
    yield from (events, accepted, votes, certs, accepted_w, votes_w, certs_w)


def _slot_counts(groups: list[Group]) -> Iterator[Metric]:
    for key, (name, help_text) in COUNTERS.items():
        counter = CounterMetricFamily(f"{NS}_{name}", help_text, labels=BASE_LABELS)
        window = GaugeMetricFamily(f"{NS}_window_{name}", f"{help_text} In the window shown.", labels=BASE_LABELS)
        for labels, group, shown in groups:
            counter.add_metric(labels, group.counts[key])
            counts = group.windows.get(shown) if shown is not None else None
            window.add_metric(labels, counts[key] if counts else 0)
        yield counter
        yield window
    collations = CounterMetricFamily(
        f"{NS}_consensus_collations",
        "Own collations finished (collateFinished or collatedEmpty), by the collator's validator index.",
        labels=[*BASE_LABELS, "leader_idx"],
    )
    delegated = CounterMetricFamily(
        f"{NS}_consensus_delegated_collations",
        "Collations by a dedicated collator node (consensus.stats.id idx -1), by the validator index of the slot's "
        "leader, who delegated it.",
        labels=[*BASE_LABELS, "leader_idx"],
    )
    for labels, group, _ in groups:
        for (what, label), n in sorted(group.labelled.items()):
            if what == "collations":
                collations.add_metric([*labels, label], n)
            elif what == "delegated_collations":
                delegated.add_metric([*labels, label], n)
    yield collations
    yield delegated


def _phases(groups: list[Group], phases: Sequence[str], prefix: str, labels: list[str]) -> Iterator[Metric]:
    for phase in phases:
        name = f"{prefix}_{phase}_seconds"
        help_text = PHASE_HELP.get(phase, phase)
        hist = Histogram(f"{NS}_{name}", help_text, labels=labels)
        window = GaugeMetricFamily(
            f"{NS}_window_{name}", f"{help_text} Aggregated over the window shown.", labels=[*labels, "agg"]
        )
        observations = GaugeMetricFamily(
            f"{NS}_window_{prefix}_{phase}_observations", f"Observations behind {NS}_window_{name}.", labels=labels
        )
        for values, group, shown in groups:
            d = group.phases.get(phase)
            if d is None:
                continue
            buckets = cumulative_buckets(d.bounds, d.counts)
            kept = group.exemplars.get(phase)
            hist.add_metric(values, with_slot_exemplars(buckets, kept) if kept else buckets, d.sum)
            in_window = group.phase_windows.get(shown, {}).get(phase, []) if shown is not None else []
            summary = summarize(in_window, quantiles=True)
            observations.add_metric(values, summary.count if summary else 0)
            if summary is not None:
                for agg in AGGS:
                    window.add_metric([*values, agg], aggregate(summary, agg))
        yield from (hist, window, observations)


def _timeline(groups: list[Group]) -> Iterator[Metric]:
    labels = [*BASE_LABELS, "position"]
    parts = GaugeMetricFamily(
        f"{NS}_consensus_timeline_part_seconds",
        f"Slot timeline: each of the newest {TIMELINE_SLOTS} retired slots (position = slot % {TIMELINE_SLOTS}), "
        "stamped with the slot's start: how long its parts took (collate: own collation; notarize: collate end "
        "or candidate received to notarize certificate; finalize; accept).",
        labels=[*labels, "part"],
    )
    slot = GaugeMetricFamily(f"{NS}_consensus_timeline_slot", "Slot timeline: the slot number.", labels=labels)
    leader = GaugeMetricFamily(
        f"{NS}_consensus_timeline_leader", "Slot timeline: the slot's leader (validator index).", labels=labels
    )
    outcome = GaugeMetricFamily(
        f"{NS}_consensus_timeline_outcome",
        "Slot timeline: 1 finalized, 2 skipped, 0 neither (not finalized when it retired).",
        labels=labels,
    )
    for values, group, _ in groups:
        newest: dict[int, TimelineEntry] = {}
        for entry in group.timeline_ring:  # oldest first: a later slot at the same position wins
            newest[entry.slot % TIMELINE_SLOTS] = entry
        for position, entry in sorted(newest.items()):
            key = [*values, str(position)]
            at = round(entry.start, 3)
            slot.add_metric(key, entry.slot, timestamp=at)
            leader.add_metric(key, entry.leader, timestamp=at)
            outcome.add_metric(key, entry.outcome, timestamp=at)
            for part in TIMELINE_PARTS:
                seconds = entry.parts.get(part)
                if seconds is not None:
                    parts.add_metric([*key, part], seconds, timestamp=at)
    yield from (parts, slot, leader, outcome)
