"""`/metrics` in the Prometheus text format (0.0.4), byte for byte what prometheus_client's `generate_latest()`
writes, in less time: a series' `name{labels} ` prefix is built once and kept (labels sorted and escaped as
`generate_latest()` does), and values Go would not write in exponent form are written by `repr`. A family the
fast path does not cover (OpenMetrics-only samples, types renamed on the way, names outside the legacy character
set) is handed whole to `generate_latest()`, so the two cannot differ on it.
"""

import math
from collections.abc import Iterable

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.utils import floatToGoString

_PLAIN_TYPES = {"gauge": "gauge", "histogram": "histogram", "summary": "summary", "unknown": "untyped"}
_OM_SUFFIXES = ("_created", "_gsum", "_gcount")
_LEGACY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:")
_PREFIX_LIMIT = 1_000_000  # series prefixes kept; beyond it the cache starts over (bounded memory)


def _escape_value(v: str) -> str:
    return v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _legacy(name: str) -> bool:
    return bool(name) and not name[0].isdigit() and _LEGACY.issuperset(name)


def _value(v: float) -> str:
    f = float(v)
    text = repr(f)
    if text.find(".") > 6 or not math.isfinite(f):  # Go's exponent form for large values, and the specials
        return str(floatToGoString(f))  # type: ignore[no-untyped-call]
    return text


class _One:
    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    def collect(self) -> Iterable[Metric]:
        return (self.metric,)


class TextRenderer:
    """Keeps the series prefixes between scrapes: most series outlive many scrapes."""

    def __init__(self) -> None:
        self._prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._fast_names: dict[str, bool] = {}

    def render(self, families: Iterable[Metric]) -> bytes:
        out: list[str] = []
        for metric in families:
            if self._fast(metric):
                self._family(metric, out)
            else:
                out.append(generate_latest(_One(metric)).decode())
        if len(self._prefixes) > _PREFIX_LIMIT:
            self._prefixes.clear()
        return "".join(out).encode()

    def _fast(self, metric: Metric) -> bool:
        if metric.type == "counter":
            names_ok = _legacy(metric.name + "_total")
        elif metric.type in _PLAIN_TYPES:
            names_ok = _legacy(metric.name)
        else:
            return False
        if not names_ok:
            return False
        names = {s.name for s in metric.samples}
        if names.intersection(metric.name + suffix for suffix in _OM_SUFFIXES):
            return False
        fast_names = self._fast_names
        for name in names:
            ok = fast_names.get(name)
            if ok is None:
                ok = fast_names[name] = _legacy(name)
            if not ok:
                return False
        return True

    def _family(self, metric: Metric, out: list[str]) -> None:
        name = metric.name + "_total" if metric.type == "counter" else metric.name
        kind = "counter" if metric.type == "counter" else _PLAIN_TYPES[metric.type]
        out.append(f"# HELP {name} {_help(metric.documentation)}\n# TYPE {name} {kind}\n")
        prefixes = self._prefixes
        append = out.append
        for s in metric.samples:
            key = (s.name, tuple(s.labels.items()))
            prefix = prefixes.get(key)
            if prefix is None:
                prefix = prefixes[key] = self._prefix(s.name, s.labels)
            if s.timestamp is None:
                append(f"{prefix}{_value(s.value)}\n")
            else:
                append(f"{prefix}{_value(s.value)} {int(float(s.timestamp) * 1000):d}\n")

    @staticmethod
    def _prefix(name: str, labels: dict[str, str]) -> str:
        if not labels:
            return f"{name} "
        pairs = ",".join(f'{k}="{_escape_value(v)}"' for k, v in sorted(labels.items()))
        return f"{name}{{{pairs}}} "
