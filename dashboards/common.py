"""Pieces every dashboard shares: variables, label filters, query shapes."""

from dashboards.model import Query, Variable

RUN = Variable("run", "Run", "label_values(tonex_node_info, run)", multi=False, include_all=False)
NODE = Variable("node", "Node", 'label_values(tonex_node_info{run=~"$run"}, node)')
WORKCHAIN = Variable("workchain", "Workchain", 'label_values(tonex_collated_blocks_total{run=~"$run"}, workchain)')
ONE_NODE = Variable("node", "Node", 'label_values(tonex_consensus_slots_total{run=~"$run"}, node)', False, False)
ONE_WORKCHAIN = Variable(
    "workchain", "Workchain", 'label_values(tonex_consensus_slots_total{run=~"$run"}, workchain)', False, False
)

SELECT = 'run=~"$run", node=~"$node", workchain=~"$workchain"'


def rate(metric: str, by: str = "workchain", extra: str = "") -> str:
    selector = f"{{{SELECT}{', ' + extra if extra else ''}}}"
    return f"sum by ({by}) (rate({metric}{selector}[$__rate_interval]))"


def quantile(q: float, histogram: str, by: str = "workchain", extra: str = "") -> Query:
    selector = f"{{{SELECT}{', ' + extra if extra else ''}}}"
    expr = f"histogram_quantile({q}, sum by (le, {by}) (rate({histogram}_bucket{selector}[$__rate_interval])))"
    return Query(expr, f"p{int(q * 100)} {{{{{by}}}}}")
