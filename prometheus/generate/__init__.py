"""Write the Prometheus rule files and the generated tables of the docs from prometheus/thresholds.yml.

    .venv/bin/python -m prometheus.generate           rewrite prometheus/rules/*.yml and the docs' tables
    .venv/bin/python -m prometheus.generate --check   exit 1 (and say which file) if any of them is out of date

Split the way monitoring mixins split theirs: config.py (where thresholds.yml and the outputs live, how a threshold
is read), recording.py (recording rules, level:metric:operations), alerts.py (the PromQL and wording of each
alert, once), levels.py (thresholds bound to the alerts: one rule per severity), output.py (YAML, docs tables,
the command line).
"""

from prometheus.generate.config import THRESHOLDS, ThresholdError
from prometheus.generate.output import main, outputs

__all__ = ["THRESHOLDS", "ThresholdError", "main", "outputs"]
