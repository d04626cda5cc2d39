"""A run's samples and duration, from its files (the backfill's pipelines, in memory) or from a Prometheus."""

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from ton_exporter.app import parse_source
from ton_exporter.backfill.driver import Backfill
from ton_exporter.backfill.inputs import InputError, resolve
from ton_exporter.compare.figures import Sample, sample_names


class SourceError(Exception):
    """The run cannot be read: bad input (exit status 2)."""


@dataclass
class RunData:
    run: str
    start: float
    end: float
    samples: list[Sample]

    @property
    def duration(self) -> float:
        return self.end - self.start


def from_files(run: str, specs: tuple[str, ...]) -> RunData:
    """The run's files through the exporter's pipelines, as the backfill reads them; the run lasts from its first
    to its last event."""
    try:
        files = resolve([parse_source(spec, None) for spec in specs])
    except (InputError, ValueError) as e:
        raise SourceError(str(e)) from e
    backfill = Backfill(files, run=run, metadata={}, step=60.0)
    summary = backfill.run(lambda t: None)
    if summary.first_event is None or summary.last_event is None:
        raise SourceError(f"run {run}: no dated line in {', '.join(specs)}")
    wanted = set(sample_names())
    samples = [
        (s.name, dict(s.labels), float(s.value))
        for metric in backfill.registry.collect()
        for s in metric.samples
        if s.name in wanted
    ]
    return RunData(run, summary.first_event, summary.last_event, samples)


def from_prometheus(url: str, run: str, lookback: str, timeout: float = 30.0) -> RunData:
    """The run's start and end from its tonex_run_* series, then every sample name's last value within the run
    (`last_over_time` from the start to a little after the end, where the last scrape of the run lands)."""
    start = _scalar(url, f'last_over_time(tonex_run_start_timestamp_seconds{{run="{run}"}}[{lookback}])', timeout)
    end = _scalar(url, f'last_over_time(tonex_run_end_timestamp_seconds{{run="{run}"}}[{lookback}])', timeout)
    if start is None:
        raise SourceError(f"run {run}: no tonex_run_start_timestamp_seconds in {url} within {lookback}")
    if end is None or end <= 0:
        raise SourceError(f"run {run}: not finished (no tonex_run_end_timestamp_seconds)")
    at = end + 300  # the scrapes after the end (a live run's last lines) are within the lookback of 5 min
    window = f"{math.ceil(at - start + 60)}s"
    samples: list[Sample] = []
    for name in sample_names():
        for r in _query(url, f'last_over_time({name}{{run="{run}"}}[{window}])', at, timeout):
            samples.append((name, r["metric"], float(r["value"][1])))
    if not samples:
        raise SourceError(f"run {run}: no tonex_* series in {url}")
    return RunData(run, start, end, samples)


def _scalar(url: str, expr: str, timeout: float) -> float | None:
    result = _query(url, expr, None, timeout)
    return max((float(r["value"][1]) for r in result), default=None)


def _query(url: str, expr: str, at: float | None, timeout: float) -> list[dict[str, Any]]:
    params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
    full = f"{url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(full, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise SourceError(f"{url}: {e}") from e
    if answer.get("status") != "success":
        raise SourceError(f"{url}: {answer.get('error', answer)}")
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result
