"""The backfill's output: OpenMetrics text, every sample stamped with its time, ending in `# EOF`.

`promtool tsdb create-blocks-from openmetrics` reads it. Each sample time repeats the families (`# HELP`,
`# TYPE`, samples), in time order, so that the output is written as the run is read, in constant memory; promtool
takes repeated families (the OpenMetrics grammar asks for each family once, which would mean holding every sample
of a run until the end).

Samples that carry their own time (the slot timelines, stamped with each slot's start) are written once, the first
time they are seen, as Prometheus stores them once however many scrapes see them; a series' samples are written
in increasing time, which promtool needs (it drops a sample older than the one before).

Constant labels (`job`, `instance`) are added to every sample, as Prometheus adds them to what it scrapes, and
`up` is written with them: 1 at every sample time.
"""

import math
from collections.abc import Iterable
from typing import BinaryIO

from prometheus_client.core import Metric

# How long this process took to collect a sample says nothing about the run: only a live scrape has a duration.
NOT_BACKFILLED = ("tonex_scrape_collector_",)

_SPECIAL = {math.inf: "+Inf", -math.inf: "-Inf"}


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _value(v: float) -> str:
    f = float(v)
    if f != f:
        return "NaN"
    return _SPECIAL.get(f) or repr(f)


class OpenMetricsWriter:
    def __init__(self, out: BinaryIO, labels: dict[str, str] | None = None) -> None:
        self.out = out
        self.constant = [(k, v) for k, v in (labels or {}).items() if v]
        self._constant_text = ",".join(f'{k}="{_escape(v)}"' for k, v in self.constant)
        self._prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._stamped: dict[str, float] = {}  # series written with their own timestamps: the newest written
        self.samples = 0

    def write(self, families: Iterable[Metric], t: float) -> None:
        """Every sample of `families` at time `t` (seconds), or at its own time if it has one."""
        at = f" {t:.3f}\n"
        parts: list[str] = []
        append = parts.append
        written = 0
        if self.constant:
            append("# HELP up 1 if the target was scraped (written by the backfill at every sample time).\n")
            append(f"# TYPE up gauge\nup{{{self._constant_text}}} 1.0{at}")
            written += 1
        for metric in families:
            name = metric.name
            if name.startswith(NOT_BACKFILLED):
                continue
            append(f"# HELP {name} {_escape(metric.documentation)}\n# TYPE {name} {metric.type}\n")
            if metric.unit:
                append(f"# UNIT {name} {metric.unit}\n")
            for sample in metric.samples:
                prefix = self._prefix(sample.name, tuple(sample.labels.items()))
                if sample.timestamp is None:
                    append(f"{prefix}{_value(sample.value)}{at}")
                    written += 1
                    continue
                own = float(sample.timestamp)  # a Timestamp or a float
                if own > self._stamped.get(prefix, -math.inf):
                    self._stamped[prefix] = own
                    append(f"{prefix}{_value(sample.value)} {own:.3f}\n")
                    written += 1
        self.samples += written
        self.out.write("".join(parts).encode())

    def _prefix(self, name: str, labels: tuple[tuple[str, str], ...]) -> str:
        key = (name, labels)
        prefix = self._prefixes.get(key)
        if prefix is None:
            pairs = [f'{k}="{_escape(v)}"' for k, v in labels]
            if self._constant_text:
                pairs.append(self._constant_text)
            prefix = self._prefixes[key] = f"{name}{{{','.join(pairs)}}} " if pairs else f"{name} "
        return prefix

    @property
    def series(self) -> int:
        return len(self._prefixes) + (1 if self.constant else 0)

    def close(self) -> None:
        self.out.write(b"# EOF\n")
        self.out.flush()
