"""A small, typed subset of Grafana's dashboard JSON model (schemaVersion 39: Grafana 10, 11 and 12 load it).

Every panel gets the `$datasource` variable, a unit, a description, and a grid position laid out row by row.
"""

import re
from dataclasses import dataclass, field
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
GRID_WIDTH = 24


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False  # format as a table (instant queries feeding tables and bar charts)
    interval: str = ""

    def target(self, ref_id: str) -> dict[str, Any]:
        target: dict[str, Any] = {
            "refId": ref_id,
            "datasource": DATASOURCE,
            "expr": self.rendered(),
            "legendFormat": self.legend or "__auto",
            "range": not self.instant,
            "instant": self.instant,
        }
        if self.table:
            target["format"] = "table"
        if not self.instant and EXEMPLARS.search(self.expr):
            target["exemplar"] = True  # the slowest block of each bucket, drawn as points beside the quantile
        if self.interval or WINDOW_GAUGE.search(self.expr):
            target["interval"] = self.interval or WINDOW
        return target

    def rendered(self) -> str:
        expr = over_time(self.expr)
        return named_workchains(expr) if self.names_workchains() else expr

    def names_workchains(self) -> bool:
        """A legend or a table that shows the workchain label shows its name; a range vector (a query ending in
        `]`) cannot be relabelled, and its series keep the number."""
        shows = "{{workchain}}" in self.legend or self.table
        return shows and not self.expr.rstrip().endswith("]") and "workchain" in self.expr


# Histograms whose buckets carry exemplars naming a block (aggregation/block_groups.py: EXEMPLAR_COLUMNS) or a slot
# and its block (aggregation/consensus.py: the phases of a slot whose candidate names its block).
EXEMPLARS = re.compile(
    r"\btonex_(?:(?:collation|validation)_total"
    r"|consensus_(?:notarization|finalization|accept|slot|validation|received_to_validated|notarize_vote"
    r"|finalize_vote|collation|finalization_interval))_seconds_bucket\b"
)
# A window gauge shows one 60 s window for 60 s; sampled once per step, a 24 h range would skip most windows and
# their spikes. Every window gauge is read through an _over_time of the step ($__interval, at least one window).
WINDOW = "1m"
WINDOW_GAUGE = re.compile(r"\b(tonex_window_\w+?)\{([^}]*)\}(?!\[)")
# A quantile of the step is the one of its worst window: a slow minute is never averaged away.
_OVER_TIME = {
    'agg="min"': "min_over_time",
    'agg="max"': "max_over_time",
    **{f'agg="{q}"': "max_over_time" for q in ("p50", "p95", "p99")},
}


def over_time(expr: str) -> str:
    def wrap(match: re.Match[str]) -> str:
        name, matchers = match.group(1), match.group(2)
        if name.endswith(("_total", "_timestamp_seconds")):
            return match.group(0)
        function = next((f for agg, f in _OVER_TIME.items() if agg in matchers), "avg_over_time")
        if name.endswith("_category"):
            function = "max_over_time"
        return f"{function}({name}{{{matchers}}}[$__interval])"

    return WINDOW_GAUGE.sub(wrap, expr)


WORKCHAIN_NAMES = (("-1", "masterchain"), ("0", "basechain"))


def named_workchains(expr: str) -> str:
    """`expr` with the workchain label's numbers replaced by the names engineers use (unknown workchains keep their
    number). Done in the query, not by a Grafana mapping: legends and table cells both read the label."""
    for number, name in WORKCHAIN_NAMES:
        expr = f'label_replace({expr}, "workchain", "{name}", "workchain", "{number}")'
    return expr


@dataclass(frozen=True)
class Panel:
    """One chart. `kind` is a Grafana panel type: timeseries, barchart, table, stat, bargauge, state-timeline."""

    title: str
    queries: tuple[Query, ...]
    unit: str
    description: str
    kind: str = "timeseries"
    width: int = 12
    height: int = 8
    stacked: bool = False
    bars: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    field_defaults: dict[str, Any] = field(default_factory=dict)
    overrides: tuple[dict[str, Any], ...] = ()
    transformations: tuple[dict[str, Any], ...] = ()
    catalogue_id: str = ""  # the chart-catalogue row this panel reproduces, if any
    repeat: str = ""  # a variable: one copy of the panel per selected value (Grafana's panel repeat)

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        custom: dict[str, Any] = {}
        if self.kind == "timeseries":
            custom = {
                "drawStyle": "bars" if self.bars else "line",
                "fillOpacity": 60 if (self.stacked or self.bars) else 10,
                "lineWidth": 1,
                "showPoints": "never",
                "spanNulls": False,
                "stacking": {"mode": "normal" if self.stacked else "none", "group": "A"},
            }
        if self.kind == "barchart" and self.stacked:
            custom = {"fillOpacity": 80}
        description = self.description + (f" (chart catalogue {self.catalogue_id})" if self.catalogue_id else "")
        panel: dict[str, Any] = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": description,
            "datasource": DATASOURCE,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "targets": [q.target(chr(ord("A") + i)) for i, q in enumerate(self.queries)],
            "fieldConfig": {
                "defaults": {"unit": self.unit, "custom": custom, **self.field_defaults},
                "overrides": list(self.overrides),
            },
            "options": self._options(),
        }
        if self.transformations:
            panel["transformations"] = list(self.transformations)
        if self.repeat:
            panel |= {"repeat": self.repeat, "repeatDirection": "h", "maxPerRow": 2}
        return panel

    def _options(self) -> dict[str, Any]:
        base: dict[str, Any] = {}
        if self.kind in ("timeseries", "barchart"):
            base = {
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"},
            }
        if self.kind == "barchart":
            base |= {"stacking": "normal" if self.stacked else "none", "xTickLabelRotation": -45}
        return base | self.options


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]
    collapsed: bool = False


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    query: str  # label_values(...) for a query variable
    multi: bool = True
    include_all: bool = True
    regex: str = ""  # Grafana's variable regex: the part of each answer kept (query_result answers need one)
    hide: int = 0  # 2: computed, not shown

    def to_json(self) -> dict[str, Any]:
        extra = {"regex": self.regex} if self.regex else {}
        return extra | {
            "type": "query",
            "name": self.name,
            "label": self.label,
            "datasource": DATASOURCE,
            "query": {"query": self.query, "refId": f"var-{self.name}"},
            "definition": self.query,
            "refresh": 2,
            "multi": self.multi,
            "includeAll": self.include_all,
            "allValue": ".*" if self.include_all else None,
            "current": {},
            "sort": 1,
            "hide": self.hide,
        }


DATASOURCE_VARIABLE: dict[str, Any] = {
    "type": "datasource",
    "name": "datasource",
    "label": "Data source",
    "query": "prometheus",
    "current": {"text": "Prometheus", "value": "ton-prometheus"},
    "hide": 0,
    "refresh": 1,
}


@dataclass(frozen=True)
class Annotation:
    """A Prometheus annotation query. With `value_is_time` the sample's value is the event's Unix time in
    milliseconds (run start and end); otherwise an annotation marks where the query has a series."""

    name: str
    expr: str
    color: str
    title: str
    value_is_time: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "datasource": DATASOURCE,
            "enable": True,
            "iconColor": self.color,
            "expr": self.expr,
            "step": "60s",
            "titleFormat": self.title,
            "useValueForTime": self.value_is_time,
            "tagKeys": "run,node",
        }


BUILT_IN_ANNOTATION: dict[str, Any] = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    folder: str
    description: str
    variables: tuple[Variable, ...]
    rows: tuple[Row, ...]
    tags: tuple[str, ...] = ("ton",)
    time_from: str = "now-30m"
    links: tuple[dict[str, Any], ...] = ()
    annotations: tuple[Annotation, ...] = ()

    def to_json(self) -> dict[str, Any]:
        panels: list[dict[str, Any]] = []
        next_id, y = 1, 0
        for row in self.rows:
            panels.append(
                {
                    "id": next_id,
                    "type": "row",
                    "title": row.title,
                    "collapsed": row.collapsed,
                    "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                    "panels": [],
                }
            )
            next_id, y = next_id + 1, y + 1
            x, row_height = 0, 0
            for panel in row.panels:
                if x + panel.width > GRID_WIDTH:
                    x, y, row_height = 0, y + row_height, 0
                panels.append(panel.to_json(next_id, x, y))
                next_id, x, row_height = next_id + 1, x + panel.width, max(row_height, panel.height)
            y += row_height
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "timezone": "utc",
            "editable": True,
            "graphTooltip": 1,
            "refresh": "30s",
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "time": {"from": self.time_from, "to": "now"},
            "templating": {"list": [DATASOURCE_VARIABLE, *(v.to_json() for v in self.variables)]},
            "annotations": {"list": [BUILT_IN_ANNOTATION, *(a.to_json() for a in self.annotations)]},
            "links": list(self.links),
            "panels": panels,
        }
