"""Recording rules, named as the Prometheus naming advice says (level:metric:operations), and their docs table."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus.generate.config import WINDOWS

NODE = "network, run, node, workchain"
NETWORK = "network, run, workchain"


@dataclass(frozen=True)
class Counter:
    metric: str  # without _total
    network_op: str  # how node rates combine into the workchain rate: max (each node sees every event) or sum
    why: str
    extra: tuple[str, ...] = ()  # labels kept besides network, run, node, workchain


COUNTERS = (
    Counter("tonex_accepted_blocks", "max", "each node accepts every block"),
    Counter("tonex_collated_blocks", "sum", "each node counts its own collations"),
    Counter("tonex_validated_blocks", "max", "each node validates every block", ("result",)),
    Counter("tonex_collated_transactions", "sum", "each node counts its own collations"),
    Counter("tonex_consensus_slots", "max", "each node sees every slot"),
    Counter("tonex_consensus_finalized_slots", "max", "each node sees every finalization"),
    Counter("tonex_consensus_skipped_slots", "max", "each node sees every skip certificate"),
    Counter("tonex_consensus_empty_candidates", "max", "each node receives every candidate"),
)

HISTOGRAMS = (
    ("tonex_collation_total_seconds", "collation total_time (session stats)"),
    ("tonex_validation_total_seconds", "validation total_time (session stats)"),
    ("tonex_consensus_notarization_seconds", "notarize certificate - candidate received"),
    ("tonex_consensus_finalization_seconds", "finalize certificate - notarize certificate"),
    ("tonex_consensus_collation_seconds", "collate phase (consensus events)"),
    ("tonex_consensus_validation_seconds", "validation phase (consensus events)"),
    ("tonex_consensus_accept_seconds", "block accepted - finalize certificate"),
    ("tonex_consensus_slot_seconds", "slot start - finalize certificate"),
    ("tonex_consensus_notarize_vote_seconds", "this node's notarize vote - candidate received"),
    ("tonex_consensus_finalization_interval_seconds", "between consecutive finalize certificates"),
)
# Central mode only (one exporter reads every node): measured once for the network, labelled by phase, no node.
NETWORK_HISTOGRAMS = (("tonex_consensus_network_phase_seconds", "weighted 2/3 phases, by phase"),)
NETWORK_PHASE = "network, run, workchain, phase"
QUANTILES = (("p50", "0.5"), ("p95", "0.95"))

ENGINE_COUNTERS = (
    ("ton_first_received", "per applied block, the source that delivered it first"),
    ("ton_received", "per applied block, every source that delivered it"),
)

SKIP_RATIO = "tonex_consensus_skipped_slots_per_slots"


def _level(base: str, extra: Iterable[str]) -> str:
    return "_".join([base, *extra])


def _by(labels: str, extra: Iterable[str]) -> str:
    return ", ".join([labels, *extra])


def _histogram_rules(level: str, by: str, metric: str, bucket_rates: str, w: str) -> list[dict[str, str]]:
    """Bucket rates summed to `level`, their p50 and p95, and the mean; no sample (not NaN) without observations."""
    buckets = f"{level}:{metric}_bucket:rate{w}"
    rules = [{"record": buckets, "expr": f"sum by ({by}, le) ({bucket_rates})"}]
    for name, q in QUANTILES:
        rules.append({"record": f"{level}:{metric}:{name}_rate{w}", "expr": f"histogram_quantile({q}, {buckets}) >= 0"})
    mean = f"sum by ({by}) (rate({metric}_sum[{w}])) / sum by ({by}) (rate({metric}_count[{w}])) >= 0"
    rules.append({"record": f"{level}:{metric}:mean{w}", "expr": mean})
    return rules


def recording_groups() -> list[dict[str, Any]]:
    throughput: list[dict[str, str]] = []
    for w in WINDOWS:
        for c in COUNTERS:
            node_record = f"{_level('node_workchain', c.extra)}:{c.metric}:rate{w}"
            throughput.append(
                {"record": node_record, "expr": f"sum by ({_by(NODE, c.extra)}) (rate({c.metric}_total[{w}]))"}
            )
            op = "" if c.network_op == "sum" else f"{c.network_op}_"  # sum is omitted, as the naming advice says
            throughput.append(
                {
                    "record": f"{_level('workchain', c.extra)}:{c.metric}:{op}rate{w}",
                    "expr": f"{c.network_op} by ({_by(NETWORK, c.extra)}) ({node_record})",
                }
            )
        for level, op in (("node_workchain", ""), ("workchain", "max_")):
            skipped = f"{level}:tonex_consensus_skipped_slots:{op}rate{w}"
            slots = f"{level}:tonex_consensus_slots:{op}rate{w}"
            throughput.append({"record": f"{level}:{SKIP_RATIO}:ratio_rate{w}", "expr": f"{skipped} / {slots} >= 0"})

    latency: list[dict[str, str]] = []
    for w in WINDOWS:
        for metric, _ in HISTOGRAMS:
            latency += _histogram_rules("node_workchain", NODE, metric, f"rate({metric}_bucket[{w}])", w)
            latency += _histogram_rules("workchain", NETWORK, metric, f"node_workchain:{metric}_bucket:rate{w}", w)
        for metric, _ in NETWORK_HISTOGRAMS:
            latency += _histogram_rules("workchain_phase", NETWORK_PHASE, metric, f"rate({metric}_bucket[{w}])", w)

    engine: list[dict[str, str]] = []
    for w in WINDOWS:
        for metric, _ in ENGINE_COUNTERS:
            engine.append(
                {
                    "record": f"node_workchain_source:{metric}:rate{w}",
                    "expr": f"sum by (network, node, workchain, source) (rate({metric}_total[{w}]))",
                }
            )
    return [
        {"name": "tonex-throughput", "rules": throughput},
        {"name": "tonex-latency", "rules": latency},
        {"name": "ton-engine", "rules": engine},
    ]


def recording_table() -> str:
    rows = [
        "| source | records (each for w = 1m and 5m) | workchain level |",
        "|---|---|---|",
    ]
    for c in COUNTERS:
        op = "" if c.network_op == "sum" else f"{c.network_op}_"
        node, wc = _level("node_workchain", c.extra), _level("workchain", c.extra)
        rows.append(
            f"| `{c.metric}_total` | `{node}:{c.metric}:rate<w>`, `{wc}:{c.metric}:{op}rate<w>` | "
            f"{c.network_op} over nodes: {c.why} |"
        )
    rows.append(
        f"| skipped / all slots | `node_workchain:{SKIP_RATIO}:ratio_rate<w>`, "
        f"`workchain:{SKIP_RATIO}:ratio_rate<w>` | ratio of the workchain rates above |"
    )
    for metric, what in HISTOGRAMS:
        rows.append(
            f"| `{metric}` ({what}) | `<level>:{metric}_bucket:rate<w>`, `<level>:{metric}:p50_rate<w>`, "
            f"`<level>:{metric}:p95_rate<w>`, `<level>:{metric}:mean<w>`; level `node_workchain` or `workchain` | "
            "buckets of all nodes summed: the network's distribution |"
        )
    for metric, what in NETWORK_HISTOGRAMS:
        rows.append(
            f"| `{metric}` ({what}) | `workchain_phase:{metric}_bucket:rate<w>`, "
            f"`workchain_phase:{metric}:p50_rate<w>`, `workchain_phase:{metric}:p95_rate<w>`, "
            f"`workchain_phase:{metric}:mean<w>` | measured once for the network (central mode) |"
        )
    for metric, what in ENGINE_COUNTERS:
        rows.append(f"| `{metric}_total` ({what}) | `node_workchain_source:{metric}:rate<w>` | - |")
    return "\n".join(rows) + "\n"
