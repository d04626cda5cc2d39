"""ton-exporter: Prometheus metrics from TON validator session stats and text logs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ton-exporter")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
