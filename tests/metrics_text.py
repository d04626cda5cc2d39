"""Reading /metrics text back into numbers, for assertions."""

from bisect import bisect_left
from collections.abc import Sequence

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def scrape(registry: CollectorRegistry) -> Samples:
    return parse(generate_latest(registry).decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    """The one sample of `name` whose labels include `labels`."""
    matches = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(matches) == 1, f"{name} {labels}: {len(matches)} matching samples"
    return matches[0]


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (0 if there are none)."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def assert_histogram(
    samples: Samples, name: str, values: list[float], bounds: Sequence[float], sum_tolerance: float, **labels: str
) -> None:
    """The histogram `name` with `labels` holds exactly `values`: count, sum (within `sum_tolerance`) and every
    cumulative bucket, counted here with bisect (a value equal to a bound falls in that bound's bucket)."""
    assert total(samples, name + "_count", **labels) == len(values)
    assert total(samples, name + "_sum", **labels) == pytest.approx(sum(values), abs=sum_tolerance)
    per_bucket = [0] * (len(bounds) + 1)
    for v in values:
        per_bucket[bisect_left(bounds, v)] += 1
    cumulative = 0
    for bound, n in zip(bounds, per_bucket, strict=False):
        cumulative += n
        assert total(samples, name + "_bucket", le=repr(bound), **labels) == cumulative, (name, bound)
