"""Thresholds in, alert rules out: every (alert, severity) of thresholds.yml checked against what the alert takes."""

from dataclasses import dataclass
from typing import Any

from prometheus.generate.alerts import ALERT_SPECS, Alert
from prometheus.generate.config import SEVERITIES, Params, ThresholdError, duration_seconds, fill


@dataclass(frozen=True)
class Level:
    alert: Alert
    severity: str
    for_: str
    values: Params


def levels(thresholds: dict[str, Any]) -> list[Level]:
    """Every (alert, severity) with its values, checked against what each alert takes."""
    jobs = thresholds.get("jobs") or {}
    if set(jobs) != {"exporter", "engine", "node_exporter"}:
        raise ThresholdError("jobs: needs exactly exporter, engine and node_exporter")
    context = {f"job_{k}": v for k, v in jobs.items()}
    entries = thresholds.get("alerts") or {}
    known = {a.name for a in ALERT_SPECS}
    if set(entries) != known:
        raise ThresholdError(f"alerts: missing {sorted(known - set(entries))}, unknown {sorted(set(entries) - known)}")
    out = []
    for alert in ALERT_SPECS:
        entry = dict(entries[alert.name] or {})
        where = f"alerts.{alert.name}"
        if "severities" in entry:
            per = entry.pop("severities")
            if not isinstance(per, dict) or not per:
                raise ThresholdError(f"{where}.severities: a mapping of severity to values")
            raw_levels = list(per.items())
        elif "severity" in entry:
            severity = entry.pop("severity")
            level = {k: entry.pop(k) for k in ("for", *alert.per_level) if k in entry}
            raw_levels = [(severity, level)]
        else:
            raise ThresholdError(f"{where}: needs severity or severities")
        if set(entry) != set(alert.shared):
            raise ThresholdError(f"{where}: takes {sorted(alert.shared)}, has {sorted(entry)}")
        for severity, raw_level in raw_levels:
            if severity not in SEVERITIES:
                raise ThresholdError(f"{where}: severity {severity!r} is not one of {SEVERITIES}")
            level = dict(raw_level or {})
            for_ = str(level.pop("for", "0s"))
            if severity == "none" and for_ != "0s":
                raise ThresholdError(f"{where}: the always-firing alert has no for")
            duration_seconds(for_)
            if set(level) != set(alert.per_level):
                raise ThresholdError(f"{where} ({severity}): takes {sorted(alert.per_level)}, has {sorted(level)}")
            for key, value in {**entry, **level}.items():
                if key in ("window", "baseline", "baseline_gap", "growth_window", "trend", "full_within"):
                    duration_seconds(value)
                elif (key.endswith(("_percent", "_bytes", "_seconds", "_second")) or key == "factor") and (
                    isinstance(value, bool) or not isinstance(value, int | float) or value < 0
                ):
                    raise ThresholdError(f"{where}.{key}: {value!r} is not a number >= 0")
            values: Params = {**context, **alert.fixed, **entry, **level, "for": for_}
            values.update(alert.derive(values))
            out.append(Level(alert, severity, for_, values))
    return out


def alert_rule(level: Level, runbook_url: str) -> dict[str, Any]:
    v = level.values
    rule: dict[str, Any] = {"alert": level.alert.name, "expr": fill(level.alert.expr, v)}
    if duration_seconds(level.for_):
        rule["for"] = level.for_
    rule["labels"] = {"severity": level.severity}
    rule["annotations"] = {
        "summary": fill(level.alert.summary, v),
        "description": fill(level.alert.description, v),
        "runbook_url": f"{runbook_url}#{level.alert.name.lower()}",
    }
    return rule


def alert_groups(thresholds: dict[str, Any]) -> list[dict[str, Any]]:
    runbook_url = str(thresholds.get("runbook_url") or "docs/alerts.md")
    groups: dict[str, list[dict[str, Any]]] = {}
    for level in levels(thresholds):
        groups.setdefault(level.alert.group, []).append(alert_rule(level, runbook_url))
    return [{"name": name, "rules": rules} for name, rules in groups.items()]


def thresholds_table(thresholds: dict[str, Any]) -> str:
    rows = ["| alert | severity | fires when | for |", "|---|---|---|---|"]
    for level in levels(thresholds):
        name = level.alert.name
        rows.append(
            f"| [{name}](#{name.lower()}) | {level.severity} | {fill(level.alert.condition, level.values)} | "
            f"{level.for_ if duration_seconds(level.for_) else '-'} |"
        )
    return "\n".join(rows) + "\n"
