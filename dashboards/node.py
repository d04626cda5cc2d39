"""One node, drilled down: its throughput, its collation and validation times, its consensus phases, its files."""

from dataclasses import replace

from dashboards.common import ANNOTATIONS, MASTER, RUN, SHARDS, WORKCHAIN, rate, window_amm, window_quantile
from dashboards.model import Dashboard, Panel, Query, Row, Variable

NODE = Variable("node", "Node", 'label_values(tonex_node_info{run=~"$run"}, node)', multi=False, include_all=False)
W = "tonex_window_"


def _stages(side: str, workchain: str, name: str) -> Panel:
    family, observations = f"{W}{side}_stage_seconds", f"{W}{side}_stage_observations"
    matchers = f'run=~"$run", node=~"$node", workchain={workchain}, clock="real"'
    expr = f'sum by (stage) ({family}{{{matchers}, agg="sum"}}) / sum by (stage) ({observations}{{{matchers}}})'
    return Panel(
        f"{side.capitalize()} time by stage ({name}, real)",
        (Query(expr, "{{stage}}"),),
        "s",
        f"This node's average {side} time per block by stage, stacked, over the newest complete 60 s window.",
        stacked=True,
    )


WORKCHAINS = ((MASTER, "masterchain"), (SHARDS, "basechain"))
RUN_NODE = 'and on (node) group by (node) (tonex_node_info{run=~"$run", node=~"$node"})'


def _total_time(side: str, workchain: str, name: str) -> Panel:
    """One workchain per panel: masterchain work takes milliseconds and a basechain block waits ~400 ms for external
    messages, so on one linear axis the masterchain line would sit flat on zero."""
    family, observations = f"{W}{side}_total_seconds", f"{W}{side}_total_observations"
    return Panel(
        f"{side.capitalize()} total time ({name})",
        (
            *window_amm(family, observations, workchain=workchain),
            window_quantile("p95", family, workchain=workchain),
        ),
        "s",
        f"This node's {side}s of {name} blocks: avg, min, max and the exact p95 of the newest complete 60 s window "
        "(all four trail the events by up to a minute: a window shows once it is complete).",
        width=6,
    )


def _phases(workchain: str, name: str) -> Panel:
    return Panel(
        f"Consensus phases p95 ({name})",
        tuple(
            replace(window_quantile("p95", f"{W}consensus_{phase}_seconds", workchain=workchain), legend=phase)
            for phase in ("notarization", "finalization", "accept", "slot")
        ),
        "s",
        f"Exact 95th percentiles of this node's consensus phases in the newest complete 60 s window, {name} slots "
        "(a phase counts in the window of the event that ends it; see the consensus dashboard for the slot "
        "timeline).",
        width=6,
    )


PANELS = (
    Panel(
        "Blocks per second",
        (
            Query(rate("tonex_accepted_blocks_total"), "accepted {{workchain}}"),
            Query(rate("tonex_collated_blocks_total"), "collated {{workchain}}"),
            Query(rate("tonex_validated_blocks_total", "workchain, result"), "validated {{workchain}} {{result}}"),
        ),
        "ops",
        "Blocks this node accepted, collated and validated.",
        width=12,
    ),
    *(_total_time(side, wc, name) for side in ("collation", "validation") for wc, name in WORKCHAINS[:1]),
    *(_total_time(side, wc, name) for side in ("collation", "validation") for wc, name in WORKCHAINS[1:]),
    _stages("collation", MASTER, "master"),
    _stages("collation", SHARDS, "shards"),
    _stages("validation", MASTER, "master"),
    _stages("validation", SHARDS, "shards"),
    *(_phases(wc, name) for wc, name in WORKCHAINS),
    Panel(
        "Files: bytes not read yet",
        (
            Query(
                'max by (node, file) (tonex_source_file_size_bytes{node=~"$node"} - tonex_source_read_offset_bytes) '
                + RUN_NODE,
                "{{file}}",
            ),
        ),
        "bytes",
        "Bytes written to this node's files but not read yet (0 when the exporter keeps up).",
        width=6,
    ),
    Panel(
        "Files: rejected lines",
        (
            Query(
                'sum by (reason) (rate(tonex_source_lines_rejected_total{node=~"$node"}[$__rate_interval]) > 0 '
                + RUN_NODE
                + ")",
                "{{reason}}",
            ),
        ),
        "ops",
        "Lines of this node rejected per second, by reason; only reasons that occur are drawn.",
        width=6,
    ),
)
DASHBOARD = Dashboard(
    uid="ton-node",
    title="TON node drill-down",
    folder="TON",
    description="Everything about one node: throughput, collation and validation times by stage, consensus "
    "phases, and the state of its files.",
    annotations=ANNOTATIONS,
    variables=(RUN, NODE, WORKCHAIN),
    rows=(Row("Node", PANELS[:5]), Row("Time by stage", PANELS[5:9]), Row("Consensus and files", PANELS[9:])),
)
