"""Run families: what the runs table of Grafana shows, one series per run kept by retention (runs/registry.py).

Blocks per second of a run come from `tonex_run_accepted_blocks{workchain="-1"} / tonex_run_duration_seconds`: the
masterchain blocks accepted while the run's id was the run label (the most any of its nodes accepted), over the
time from registration to end (or to now, while it runs). The exporter keeps that count with the run, so it
survives the run's per-node series, which are dropped a few minutes after the run ends.
"""

from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from ton_exporter.aggregation.node import NodeState
from ton_exporter.exposition.names import NAMESPACE
from ton_exporter.runs.registry import REJECT_REASONS, RunRegistry

NS = NAMESPACE
MAX_LABEL_TEXT = 200


def accepted_blocks(nodes: Sequence[NodeState]) -> dict[str, int]:
    """Blocks accepted per workchain: the most any node accepted (every node accepts every block)."""
    best: Counter[str] = Counter()
    for node in nodes:
        per_workchain: Counter[str] = Counter()
        for (workchain, _), group in node.consensus.groups.items():
            per_workchain[workchain] += group.counts["accepted"]
        for workchain, n in per_workchain.items():
            best[workchain] = max(best[workchain], n)
    return dict(best)


class RunsCollector(Collector):
    def __init__(self, registry: RunRegistry, nodes_of: Callable[[str], Sequence[NodeState]]) -> None:
        self._registry = registry
        self._nodes_of = nodes_of

    def refresh(self) -> None:
        """Take each run's block counts from its node states, while the exporter still has them."""
        for run in self._registry.runs.values():
            nodes = self._nodes_of(run.run_id)
            if nodes:
                self._registry.note_accepted_blocks(run.run_id, accepted_blocks(nodes))

    def collect(self) -> Iterator[Metric]:
        self.refresh()
        registry = self._registry
        now = registry.clock()
        runs = registry.newest_first()

        def gauge(name: str, doc: str, labels: Sequence[str] = ("run",)) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{NS}_run_{name}", doc, labels=list(labels))

        info = gauge("info", "One series per run kept, with its metadata (and the harness's labels); always 1.")
        status = gauge("status", "The run's status: running, completed or interrupted; always 1.", ["run", "status"])
        active = gauge("active", "1 while the run is running, else 0.")
        start = gauge("start_timestamp_seconds", "Unix time the run was registered.")
        end = gauge("end_timestamp_seconds", "Unix time the run ended (its client disconnected, or it was stopped).")
        duration = gauge("duration_seconds", "From registration to end, or to now while the run is running.")
        nodes = gauge("nodes", "Node count the harness gave for the run.")
        accepted = gauge(
            "accepted_blocks",
            "Blocks accepted while the run was the run label, per workchain: the most any of its nodes accepted.",
            ["run", "workchain"],
        )
        for run in runs:
            labels = {
                "run": run.run_id,
                "description": run.description[:MAX_LABEL_TEXT],
                "branch": run.branch[:MAX_LABEL_TEXT],
                "commit": run.commit[:MAX_LABEL_TEXT],
            }
            info.samples.append(Sample(info.name, labels | run.labels, 1.0))
            status.add_metric([run.run_id, run.status], 1)
            active.add_metric([run.run_id], 1 if run.status == "running" else 0)
            start.add_metric([run.run_id], run.start)
            if run.end is not None:
                end.add_metric([run.run_id], run.end)
            duration.add_metric([run.run_id], run.duration(now))
            if run.nodes is not None:
                nodes.add_metric([run.run_id], run.nodes)
            for workchain, n in sorted(run.accepted_blocks.items()):
                accepted.add_metric([run.run_id, workchain], n)
        yield from (info, status, active, start, end, duration, nodes, accepted)
        yield CounterMetricFamily(
            f"{NS}_runs_registered", "Runs registered since the daemon started.", value=registry.registered
        )
        rejected = CounterMetricFamily(
            f"{NS}_run_requests_rejected",
            "Run registrations and commands refused (socket and API), by reason.",
            labels=["reason"],
        )
        for reason in REJECT_REASONS:
            rejected.add_metric([reason], registry.rejected[reason])
        yield rejected
