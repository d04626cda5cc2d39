"""The one configuration of the exporter: `serve --config FILE` and `daemon --dir DIR` (DIR/config.yaml) read the
same schema (model.py), through the same loader (load.py)."""

from ton_exporter.config.load import CONFIG_NAME, MINIMAL_CONFIG, ConfigError, load_config, missing_config, parse_config
from ton_exporter.config.model import MODES, ExporterConfig, RemoteNode, SshSources

__all__ = [
    "CONFIG_NAME",
    "MINIMAL_CONFIG",
    "MODES",
    "ConfigError",
    "ExporterConfig",
    "RemoteNode",
    "SshSources",
    "load_config",
    "missing_config",
    "parse_config",
]
