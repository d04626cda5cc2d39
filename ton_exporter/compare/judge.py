"""Baseline against candidate, figure by figure, with the thresholds of the alerts (prometheus/thresholds.yml).

| figure | regression when (candidate against baseline) | thresholds.yml |
|---|---|---|
| blocks/s | below baseline x (1 - drop_percent/100), baseline >= min_baseline_per_second | TonBlockRateDropVsRun |
| tx/s | below baseline x (1 - drop_percent/100), baseline >= min_baseline_per_second | TonTransactionRateDropVsRun |
| latency p50/p95 | above baseline x factor and above min_seconds | Ton{Collation,...}LatencyRegressed |
| skipped slots % | above the warning skipped_percent and above the baseline | TonSkippedSlotsRising |
| invalid blocks | more than the baseline (any invalid block fires the alert) | TonInvalidBlocks |

The alerts compare a run with its own past; here the past is the baseline run, judged with the same numbers.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ton_exporter.compare.figures import Figure

DEFAULT_THRESHOLDS = Path(__file__).resolve().parents[2] / "prometheus" / "thresholds.yml"


class ThresholdsError(ValueError):
    pass


@dataclass(frozen=True)
class Verdict:
    key: str
    unit: str
    baseline: float
    candidate: float
    regression: bool
    rule: str

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline

    @property
    def relative(self) -> float:
        if self.baseline == 0:
            return 0.0 if self.candidate == 0 else math.inf
        return self.delta / self.baseline

    def to_json(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if math.isnan(v) else v

        return {
            "figure": self.key,
            "unit": self.unit,
            "baseline": num(self.baseline),
            "candidate": num(self.candidate),
            "delta": num(self.delta),
            "relative": None if math.isnan(self.relative) or math.isinf(self.relative) else self.relative,
            "regression": self.regression,
            "rule": self.rule,
        }


def load_thresholds(path: Path) -> dict[str, dict[str, Any]]:
    try:
        alerts = yaml.safe_load(path.read_text())["alerts"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        raise ThresholdsError(f"{path}: {e}") from e
    if not isinstance(alerts, dict):
        raise ThresholdsError(f"{path}: no alerts mapping")
    return alerts


def _get(alerts: dict[str, dict[str, Any]], alert: str, *path: str) -> float:
    node: Any = alerts.get(alert)
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, int | float):
        raise ThresholdsError(f"thresholds: {alert}.{'.'.join(path)} missing or not a number")
    return float(node)


def judge(baseline: list[Figure], candidate: list[Figure], alerts: dict[str, dict[str, Any]]) -> list[Verdict]:
    """A verdict for every figure either run has (a figure missing on one side counts as NaN there)."""
    base = {f.key: f for f in baseline}
    cand = {f.key: f for f in candidate}
    keys = list(base) + [k for k in cand if k not in base]
    return [_verdict(base.get(k), cand.get(k), alerts) for k in keys]


def _verdict(b: Figure | None, c: Figure | None, alerts: dict[str, dict[str, Any]]) -> Verdict:
    figure = b or c
    assert figure is not None
    bv = b.value if b else math.nan
    cv = c.value if c else math.nan
    regression, rule = _rule(figure, bv, cv, alerts)
    return Verdict(figure.key, figure.unit, bv, cv, regression, rule)


def _rule(f: Figure, b: float, c: float, alerts: dict[str, dict[str, Any]]) -> tuple[bool, str]:
    if f.kind in ("blocks_per_second", "transactions_per_second"):
        alert = "TonBlockRateDropVsRun" if f.kind == "blocks_per_second" else "TonTransactionRateDropVsRun"
        drop, floor = _get(alerts, alert, "drop_percent"), _get(alerts, alert, "min_baseline_per_second")
        rule = f"{alert}: drop > {drop:g}% (baseline >= {floor:g}/s)"
        return (b >= floor and not c >= b * (1 - drop / 100)), rule
    if f.kind == "latency":
        alert = f"Ton{f.latency.capitalize()}LatencyRegressed"
        factor, least = _get(alerts, alert, "factor"), _get(alerts, alert, "min_seconds")
        return (c > b * factor and c > least), f"{alert}: > {factor:g}x baseline and > {least:g}s"
    if f.kind == "skipped_percent":
        limit = _get(alerts, "TonSkippedSlotsRising", "severities", "warning", "skipped_percent")
        return (c > limit and c > b), f"TonSkippedSlotsRising: > {limit:g}% and above baseline"
    return (c > b or (math.isnan(b) and c > 0)), "TonInvalidBlocks: more than baseline"
