"""One collector per concern, each timed and guarded, as node_exporter does: every scrape exports
`tonex_scrape_collector_success{collector}` and `tonex_scrape_collector_duration_seconds{collector}`.

A concern that raises is logged once (its first failure, with the traceback; later ones are counted by the success
gauge only) and its families are left out of that scrape; the other concerns are still served. A concern's families
are gathered whole before any is yielded, so a failure never leaves half a concern in the answer.
"""

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ton_exporter.exposition.names import NAMESPACE

log = logging.getLogger("ton_exporter.scrape")

Concern = Callable[[], Iterable[Metric]]


class ScrapeCollector(Collector):
    def __init__(self, concerns: dict[str, Concern] | None = None, prepare: Callable[[], None] = lambda: None) -> None:
        self.concerns: dict[str, Concern] = dict(concerns or {})
        self._prepare = prepare  # run before the concerns: what they all read must be settled first
        self._failed_before: set[str] = set()

    def add(self, name: str, concern: Concern) -> None:
        self.concerns[name] = concern

    def collect(self) -> Iterator[Metric]:
        success = GaugeMetricFamily(
            f"{NAMESPACE}_scrape_collector_success",
            "Whether a collector succeeded (1) or failed (0).",
            labels=["collector"],
        )
        duration = GaugeMetricFamily(
            f"{NAMESPACE}_scrape_collector_duration_seconds",
            "How long a collector took in this scrape.",
            labels=["collector"],
        )
        self._guard("prepare", lambda: (self._prepare(), ())[1])
        for name, concern in self.concerns.items():
            start = time.perf_counter()
            families = self._guard(name, concern)
            duration.add_metric([name], time.perf_counter() - start)
            success.add_metric([name], 0.0 if families is None else 1.0)
            yield from families or ()
        yield success
        yield duration

    def _guard(self, name: str, concern: Concern) -> list[Metric] | None:
        try:
            return list(concern())
        except Exception:
            if name not in self._failed_before:
                self._failed_before.add(name)
                log.exception("collector failed: its families are left out", extra={"collector": name})
            return None
