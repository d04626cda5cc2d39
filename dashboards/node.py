"""One node, drilled down: its throughput, its collation and validation times, its consensus phases, its files."""

from dataclasses import replace

from dashboards.common import MASTER, RUN, SHARDS, WORKCHAIN, quantile, rate, window_amm
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
        width=8,
    ),
    Panel(
        "Collation total time",
        (
            *window_amm(W + "collation_total_seconds", W + "collation_total_observations"),
            quantile(0.95, "tonex_collation_total_seconds"),
        ),
        "s",
        "This node's collations: avg/min/max of the newest complete 60 s window and p95 from the histogram.",
        width=8,
    ),
    Panel(
        "Validation total time",
        (
            *window_amm(W + "validation_total_seconds", W + "validation_total_observations"),
            quantile(0.95, "tonex_validation_total_seconds"),
        ),
        "s",
        "This node's validations: avg/min/max of the newest complete 60 s window and p95 from the histogram.",
        width=8,
    ),
    _stages("collation", MASTER, "master"),
    _stages("collation", SHARDS, "shards"),
    _stages("validation", MASTER, "master"),
    _stages("validation", SHARDS, "shards"),
    Panel(
        "Consensus phases p95",
        tuple(
            replace(quantile(0.95, f"tonex_consensus_{phase}_seconds"), legend=f"{phase} {{{{workchain}}}}")
            for phase in ("notarization", "finalization", "accept", "slot")
        ),
        "s",
        "95th percentiles of this node's consensus phases (see the consensus dashboard for the slot timeline).",
        width=12,
    ),
    Panel(
        "Files: lag and rejects",
        (
            Query(
                'max by (file) (tonex_source_file_size_bytes{node=~"$node"} - tonex_source_read_offset_bytes)',
                "lag {{file}}",
            ),
            Query(
                'sum by (reason) (rate(tonex_source_lines_rejected_total{node=~"$node"}[$__rate_interval]))',
                "rejected/s {{reason}}",
            ),
        ),
        "short",
        "Bytes written but not read yet, and lines rejected per second by reason.",
        width=12,
    ),
)

DASHBOARD = Dashboard(
    uid="ton-node",
    title="TON node drill-down",
    folder="TON",
    description="Everything about one node: throughput, collation and validation times by stage, consensus "
    "phases, and the state of its files.",
    variables=(RUN, NODE, WORKCHAIN),
    rows=(Row("Node", PANELS[:3]), Row("Time by stage", PANELS[3:7]), Row("Consensus and files", PANELS[7:])),
)
