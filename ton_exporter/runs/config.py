"""The daemon reads the one configuration schema (ton_exporter/config/); these names stay for its callers."""

from ton_exporter.config import CONFIG_NAME, MODES, ConfigError, load_config, missing_config, parse_config
from ton_exporter.config import ExporterConfig as DaemonConfig

__all__ = ["CONFIG_NAME", "MODES", "ConfigError", "DaemonConfig", "load_config", "missing_config", "parse_config"]
