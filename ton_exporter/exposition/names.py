"""Metric naming shared by every family.

The validator-engine exports `ton_*` (and its own `ton_exporter_*` self-stats); every family of ours starts with
`tonex_` so neither a name nor a `{__name__=~"ton_.*"}` selector can mix the two.
"""

from collections.abc import Iterable

from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

from ton_exporter.aggregation.block_groups import Summary
from ton_exporter.aggregation.measures import QUANTILE_AGGS

NAMESPACE = "tonex"
BASE_LABELS = ["node", "run", "workchain", "shard"]


_FLOAT_LABELS: dict[float, str] = {}  # bucket bounds are a few fixed sets (measures.py): formatted once each


def float_label(value: float) -> str:
    """A bucket bound as Prometheus's Go clients print it: `0.005`, `1.0`, `4.194304e+06`, `+Inf`."""
    text = _FLOAT_LABELS.get(value)
    if text is None:
        text = str(floatToGoString(value))  # type: ignore[no-untyped-call]
        if len(_FLOAT_LABELS) < 4096 and value == value and value != 0:  # bounded; NaN and ±0 not as keys
            _FLOAT_LABELS[value] = text
    return text


def with_exemplars(
    buckets: list[tuple[str, float]], exemplars: "list[tuple[float, str, float] | None]"
) -> list[tuple[str, float] | tuple[str, float, Exemplar]]:
    """Cumulative buckets, each with the exemplar of the slowest block that fell in it (OpenMetrics only: the
    Prometheus text format has no exemplars). The block label is `workchain:shard:seqno`."""
    out: list[tuple[str, float] | tuple[str, float, Exemplar]] = []
    for (le, n), kept in zip(buckets, exemplars, strict=True):
        if kept is None:
            out.append((le, n))
        else:
            seconds, block, at = kept
            out.append((le, n, Exemplar({"block": block}, seconds, at)))
    return out


def with_slot_exemplars(
    buckets: list[tuple[str, float]], exemplars: "list[tuple[float, tuple[str, str], float] | None]"
) -> list[tuple[str, float] | tuple[str, float, Exemplar]]:
    """Cumulative buckets of a consensus phase, each with the exemplar of the slowest slot in it: labels `block`
    (`workchain:shard:seqno` of the slot's candidate) and `slot`. OpenMetrics only, as `with_exemplars`."""
    out: list[tuple[str, float] | tuple[str, float, Exemplar]] = []
    for (le, n), kept in zip(buckets, exemplars, strict=True):
        if kept is None:
            out.append((le, n))
        else:
            seconds, (block, slot), at = kept
            out.append((le, n, Exemplar({"block": block, "slot": slot}, seconds, at)))
    return out


def cumulative_buckets(bounds: Iterable[float], counts: list[int]) -> list[tuple[str, float]]:
    """Per-bucket counts (the last one +Inf) as the cumulative `le` pairs of a histogram family."""
    out: list[tuple[str, float]] = []
    cumulative = 0
    for bound, n in zip(bounds, counts, strict=False):
        cumulative += n
        out.append((float_label(bound), cumulative))
    out.append(("+Inf", cumulative + counts[-1]))
    return out


def aggregate(summary: Summary, agg: str) -> float:
    """The `agg` label value of a window gauge: avg, min, max, sum, or an exact quantile p50, p95, p99."""
    if agg == "avg":
        return summary.sum / summary.count
    if agg in QUANTILE_AGGS:
        return summary.quantiles[QUANTILE_AGGS.index(agg)]
    return float(getattr(summary, agg))
