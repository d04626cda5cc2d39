"""The figures a comparison judges, computed from a run's final counter and histogram samples.

A series with a `run` label starts with its run, so its value at the run's end is the run's total: no rate
extrapolation, and the same numbers whether the samples come from the exporter's registry (files) or from a
Prometheus (`last_over_time` over the run). Every figure is per workchain, aggregated over nodes the way the
recording rules and alerts aggregate it (prometheus/generate/recording.py and alerts.py): accepted blocks and
skipped slots from the best node (max by node), transactions and latency histograms from all nodes summed,
invalid blocks summed.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Sample = tuple[str, dict[str, str], float]  # (sample name, labels, value)

LATENCIES = {
    "collation": "tonex_collation_total_seconds",
    "validation": "tonex_validation_total_seconds",
    "notarization": "tonex_consensus_notarization_seconds",
    "finalization": "tonex_consensus_finalization_seconds",
}
COUNTERS = (
    "tonex_accepted_blocks_total",
    "tonex_collated_transactions_total",
    "tonex_consensus_slots_total",
    "tonex_consensus_skipped_slots_total",
    "tonex_validated_blocks_total",
)
QUANTILES = (0.5, 0.95)


def sample_names() -> list[str]:
    """The sample names the figures read (what a Prometheus is asked for)."""
    return [*COUNTERS, *(f"{h}_bucket" for h in LATENCIES.values())]


@dataclass(frozen=True)
class Figure:
    key: str  # e.g. "blocks_per_second{workchain=0}"
    kind: Literal["blocks_per_second", "transactions_per_second", "latency", "skipped_percent", "invalid_blocks"]
    workchain: str
    value: float
    unit: str
    latency: str = ""  # collation, validation, notarization, finalization (kind latency)
    quantile: float = 0.0


def figures(samples: Iterable[Sample], duration: float) -> list[Figure]:
    """Every figure of a run whose samples are `samples` and which lasted `duration` seconds."""
    per_node: dict[tuple[str, str, str], float] = defaultdict(float)  # (name, workchain, node) -> sum over shards
    invalid: dict[str, float] = defaultdict(float)
    buckets: dict[tuple[str, str], dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for name, labels, value in samples:
        wc = labels.get("workchain", "")
        if wc in ("", "unknown"):
            continue
        if name.endswith("_bucket"):
            buckets[(name.removesuffix("_bucket"), wc)][float(labels["le"])] += value
        elif name == "tonex_validated_blocks_total":
            if labels.get("result") == "invalid":
                invalid[wc] += value
        else:
            per_node[(name, wc, labels.get("node", ""))] += value
    workchains = sorted({wc for _, wc, _ in per_node} | {wc for _, wc in buckets} | set(invalid), key=_wc_order)
    out: list[Figure] = []
    for wc in workchains:
        out += _workchain_figures(wc, per_node, invalid, buckets, duration)
    return out


def _wc_order(wc: str) -> tuple[int, str]:
    try:
        return int(wc), ""
    except ValueError:
        return 1 << 30, wc


def _workchain_figures(
    wc: str,
    per_node: dict[tuple[str, str, str], float],
    invalid: dict[str, float],
    buckets: dict[tuple[str, str], dict[float, float]],
    duration: float,
) -> list[Figure]:
    def best(name: str) -> float:
        return max((v for (n, w, _), v in per_node.items() if n == name and w == wc), default=0.0)

    def total(name: str) -> float:
        return sum(v for (n, w, _), v in per_node.items() if n == name and w == wc)

    rate = (lambda n: n / duration) if duration > 0 else (lambda n: math.nan)
    slots, skipped = best("tonex_consensus_slots_total"), best("tonex_consensus_skipped_slots_total")
    out = [
        Figure(
            f"blocks_per_second{{workchain={wc}}}",
            "blocks_per_second",
            wc,
            rate(best("tonex_accepted_blocks_total")),
            "1/s",
        ),
        Figure(
            f"transactions_per_second{{workchain={wc}}}",
            "transactions_per_second",
            wc,
            rate(total("tonex_collated_transactions_total")),
            "1/s",
        ),
    ]
    for latency, family in LATENCIES.items():
        for q in QUANTILES:
            value = histogram_quantile(q, buckets.get((family, wc), {}))
            key = f"{latency}_p{round(q * 100)}_seconds{{workchain={wc}}}"
            out.append(Figure(key, "latency", wc, value, "s", latency, q))
    out.append(
        Figure(
            f"skipped_slots_percent{{workchain={wc}}}",
            "skipped_percent",
            wc,
            100 * skipped / slots if slots else 0.0,
            "%",
        )
    )
    out.append(Figure(f"invalid_blocks{{workchain={wc}}}", "invalid_blocks", wc, invalid.get(wc, 0.0), ""))
    return out


def histogram_quantile(q: float, cumulative: dict[float, float]) -> float:
    """Prometheus' histogram_quantile over cumulative bucket counts {le: count}: linear within the bucket holding
    the rank, the lowest bucket starting at 0, the +Inf bucket answered with the highest finite bound."""
    if not cumulative:
        return math.nan
    bounds = sorted(cumulative)
    if bounds[-1] != math.inf:
        return math.nan
    count = cumulative[math.inf]
    if count == 0:
        return math.nan
    rank = q * count
    lower, below = 0.0, 0.0
    for le in bounds:
        c = cumulative[le]
        if c >= rank:
            if le == math.inf:
                return bounds[-2] if len(bounds) > 1 else math.nan
            if lower == 0.0 and le <= 0:
                return le
            return lower + (le - lower) * (rank - below) / (c - below) if c > below else le
        lower, below = le, c
    return math.nan
