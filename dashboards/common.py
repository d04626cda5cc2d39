"""Pieces every dashboard shares: variables, label selectors, query shapes."""

from dashboards.model import Annotation, Query, Variable

RUN = Variable("run", "Run", "label_values(tonex_node_info, run)", multi=False, include_all=False)
NODE = Variable("node", "Node", 'label_values(tonex_node_info{run=~"$run"}, node)')
WORKCHAIN = Variable("workchain", "Workchain", 'label_values(tonex_collated_blocks_total{run=~"$run"}, workchain)')
ONE_NODE = Variable("node", "Node", 'label_values(tonex_consensus_slots_total{run=~"$run"}, node)', False, False)
ONE_WORKCHAIN = Variable(
    "workchain", "Workchain", 'label_values(tonex_consensus_slots_total{run=~"$run"}, workchain)', False, False
)

SELECT = 'run=~"$run", node=~"$node", workchain=~"$workchain"'
MASTER, SHARDS = '"-1"', '"0"'


def select(extra: str = "", workchain: str = "") -> str:
    """The label matchers of a query: the run, node and workchain variables (or a fixed workchain), plus `extra`."""
    base = f'run=~"$run", node=~"$node", workchain={workchain}' if workchain else SELECT
    return f"{base}, {extra}" if extra else base


def rate(metric: str, by: str = "workchain", extra: str = "", workchain: str = "") -> str:
    return f"sum by ({by}) (rate({metric}{{{select(extra, workchain)}}}[$__rate_interval]))"


def quantile(q: float, histogram: str, by: str = "workchain", extra: str = "", workchain: str = "") -> Query:
    expr = (
        f"histogram_quantile({q}, sum by (le, {by}) "
        f"(rate({histogram}_bucket{{{select(extra, workchain)}}}[$__rate_interval])))"
    )
    return Query(expr, f"p{int(q * 100)} {legend(by, workchain)}".strip())


def window_avg(family: str, observations: str, by: str = "workchain", *, extra: str = "", workchain: str = "") -> str:
    """The average over the shown 60 s window across the selected nodes: their sums over their observations (each
    node covers its own blocks), or without `observations` (a family with no sum) the mean of the nodes' averages."""
    matchers = select(extra, workchain)
    if not observations:
        return f'avg by ({by}) ({family}{{{matchers}, agg="avg"}})'
    return f'sum by ({by}) ({family}{{{matchers}, agg="sum"}}) / sum by ({by}) ({observations}{{{matchers}}})'


def legend(by: str, workchain: str = "") -> str:
    """The legend naming the grouping labels; a fixed workchain is not named (every series would say the same)."""
    labels = [b.strip() for b in by.split(",") if not (workchain and b.strip() == "workchain")]
    return " ".join(f"{{{{{label}}}}}" for label in labels)


def window_amm(
    family: str, observations: str, by: str = "workchain", *, extra: str = "", workchain: str = "", aggs: str = "amM"
) -> tuple[Query, ...]:
    """avg, min and max of the shown 60 s window (the stat-visualizer's `minmax`); `aggs` picks some of a, m, M."""
    matchers, named = select(extra, workchain), legend(by, workchain)
    queries = {
        "a": Query(window_avg(family, observations, by, extra=extra, workchain=workchain), f"avg {named}".strip()),
        "m": Query(f'min by ({by}) ({family}{{{matchers}, agg="min"}})', f"min {named}".strip()),
        "M": Query(f'max by ({by}) ({family}{{{matchers}, agg="max"}})', f"max {named}".strip()),
    }
    return tuple(queries[a] for a in aggs)


def window_quantile(q: str, family: str, by: str = "workchain", *, workchain: str = "") -> Query:
    """The exact quantile `q` (p50, p95, p99) of the shown 60 s window's values (aggregation/quantiles.py). Per node
    and workchain it is exact; where the selection spans several series (shards, nodes) it is their largest."""
    matchers = select("", workchain)
    return Query(f'max by ({by}) ({family}{{{matchers}, agg="{q}"}})', f"{q} {legend(by, workchain)}".strip())


# Run start and end (the run series' values are Unix times) and the start of each consensus session (a
# consensus.stats.id event, the first batch of a session): where a change in the charts usually comes from.
ANNOTATIONS = (
    Annotation(
        "Run start", 'tonex_run_start_timestamp_seconds{run=~"$run"} * 1000', "green", "run {{run}} starts", True
    ),
    Annotation("Run end", 'tonex_run_end_timestamp_seconds{run=~"$run"} * 1000', "red", "run {{run}} ends", True),
    Annotation(
        "Consensus session",
        'sum by (node) (increase(tonex_consensus_events_total{run=~"$run", type="consensus.stats.id"}[1m])) > 0',
        "purple",
        "new consensus session on {{node}}",
    ),
)
