"""Metric naming shared by every family.

The validator-engine exports `ton_*` (and its own `ton_exporter_*` self-stats); every family of ours starts with
`tonex_` so neither a name nor a `{__name__=~"ton_.*"}` selector can mix the two.
"""

from prometheus_client.utils import floatToGoString

NAMESPACE = "tonex"


def float_label(value: float) -> str:
    """A bucket bound as Prometheus's Go clients print it: `0.005`, `1.0`, `4.194304e+06`, `+Inf`."""
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]
